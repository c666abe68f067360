"""``ir-console graphql export``: the GraphQL operations observed on a host, written as SDL."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import message


@click.group()
def graphql() -> None:
    """GraphQL operations observed in traffic (they are endpoints: HOST POST /graphql query X)."""


@graphql.command("export")
@click.option("--host", help="Only this host (needed when several hosts carry GraphQL).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="A file (one host), or a folder that gets HOST.graphql per host. Default: stdout.",
)
@click.option("--force", is_flag=True, help="Replace output files that exist already.")
@click.pass_obj
def export(case: CaseContext, host: str | None, output: Path | None, force: bool) -> None:
    """The SDL of the operations observed on a host: root types with the root fields called
    (each saying which operations called it, their status and request counts), the fields
    selected under them, leaves typed Observed. No observed value (variables, arguments) is
    copied. `openapi export` leaves GraphQL operations out: this is their export.

    Files are created private (0600); an existing file is replaced only with --force."""
    from discovery.case.files import check_folder, check_output, write_private
    from discovery.views.graphql_export import export_graphql_sdl, graphql_hosts

    if output is not None and output.is_dir():
        check_folder(output)
    elif output is not None:
        check_output(output, case.db, force=force)
    with case.open(create=False) as store:
        hosts = [host.lower()] if host else graphql_hosts(store)
        if not hosts:
            raise click.UsageError("no observed GraphQL operation in this case: nothing to export")
        many = len(hosts) > 1
        if many and (output is None or not output.is_dir()):
            raise click.UsageError(
                f"{len(hosts)} hosts carry GraphQL ({', '.join(hosts[:5])}"
                f"{', …' if len(hosts) > 5 else ''}): pass --host HOST, or -o FOLDER for one "
                "file per host"
            )
        docs = {h: export_graphql_sdl(store, h) for h in hosts}
    if output is None:
        sys.stdout.write(docs[hosts[0]])
        return
    if output.is_dir():
        for name, sdl in docs.items():
            safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name).lstrip(".")
            target = output / f"{safe or 'host'}.graphql"
            write_private(target, sdl, case=case.db, force=force)
            message(f"wrote {target}")
        return
    write_private(output, docs[hosts[0]], case=case.db, force=force)
    message(f"wrote {output}: the GraphQL operations of {hosts[0]}")
