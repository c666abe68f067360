"""``ir-console openapi export``: observed traffic written as OpenAPI 3.1, one document per host."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ir_console.cli import CaseContext
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
    from discovery.case.files import check_folder, check_output, write_private
    from discovery.errors import SubjectNotFound
    from discovery.views.openapi_export import export_host, hosts_with_traffic

    if output is not None and output.is_dir():
        check_folder(output)
    elif output is not None:
        check_output(output, case.db, force=force)

    with case.open(create=False) as store:
        hosts = [host.lower()] if host else hosts_with_traffic(store)
        if not hosts:
            raise click.UsageError("no observed endpoint in this case: nothing to export")
        many = len(hosts) > 1
        if many and (output is None or not output.is_dir()):
            raise click.UsageError(
                f"{len(hosts)} hosts have traffic ({', '.join(hosts[:5])}"
                f"{', …' if len(hosts) > 5 else ''}): pass --host HOST, or -o FOLDER for one "
                "file per host"
            )
        docs = {}
        for name in hosts:
            try:
                docs[name] = export_host(store, name)
            except SubjectNotFound:
                if not many:
                    raise
                message(f"skipped {name}: only gRPC methods (ir-console grpc export)")
        hosts = list(docs)
    kind = _format_for(output if not many else None, fmt)
    if output is None:
        sys.stdout.write(_render(docs[hosts[0]], kind))
        return
    if output.is_dir():
        suffix = "json" if kind == "json" else "yaml"
        for name, doc in docs.items():
            target = output / f"{_file_name(name)}.openapi.{suffix}"
            write_private(target, _render(doc, kind), case=case.db, force=force)
            message(f"wrote {target}: {len(doc['paths'])} paths")
        return
    write_private(output, _render(docs[hosts[0]], kind), case=case.db, force=force)
    message(f"wrote {output}: {len(docs[hosts[0]]['paths'])} paths of {hosts[0]}")


def _file_name(host: str) -> str:
    """A host as a safe file name (hosts come from traffic: no separators, no dots first)."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in host).lstrip(".")
    return safe or "host"
