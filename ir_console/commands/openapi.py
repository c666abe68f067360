"""``ir-console openapi export``: observed traffic written as OpenAPI 3.1, one document per host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ir_console.cli import CaseContext
from ir_console.commands.host_documents import check_destination, choose_hosts, write_documents
from ir_console.output import message


@click.group()
def openapi() -> None:
    """OpenAPI documents of what was observed."""


def _render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))


def _format_for(output: Path | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    if output is not None and output.suffix.lower() == ".json":
        return "json"
    return "yaml"


@openapi.command("export")
@click.option("--host", help="Only this host (needed to write one file when several hosts).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="A file (one host), or a folder that gets HOST.openapi.yaml per host. Default: stdout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    help="Default: from the file name, else yaml.",
)
@click.option("--force", is_flag=True, help="Replace output files that exist already.")
@click.pass_obj
def export(
    case: CaseContext, host: str | None, output: Path | None, fmt: str | None, force: bool
) -> None:
    """Templated paths, typed parameters, methods, status codes, inferred security schemes and
    an x-ir-console extension (classification, first/last seen). No observed value is copied.
    gRPC methods are left out (they are no REST paths): `ir-console grpc export` lists them.

    Files are created private (0600); an existing file is replaced only with --force, and
    never the case, its key or its other companion files."""
    from discovery.errors import SubjectNotFound
    from discovery.views.openapi_export import export_host, hosts_with_traffic

    check_destination(case, output, force=force)
    with case.open(create=False) as store:
        hosts = choose_hosts(host, hosts_with_traffic(store), output, what="endpoint")
        docs = {}
        for name in hosts:
            try:
                docs[name] = export_host(store, name)
            except SubjectNotFound:
                if len(hosts) == 1:
                    raise
                message(f"skipped {name}: only gRPC methods (ir-console grpc export)")
    kind = _format_for(output if len(hosts) == 1 else None, fmt)
    write_documents(
        case,
        output,
        {name: _render(doc, kind) for name, doc in docs.items()},
        suffix=f"openapi.{'json' if kind == 'json' else 'yaml'}",
        force=force,
        describe=lambda h: f"{len(docs[h]['paths'])} paths of {h}",
    )
