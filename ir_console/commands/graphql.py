"""``ir-console graphql export``: the GraphQL operations observed on a host, written as SDL."""

from __future__ import annotations

from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.commands.host_documents import check_destination, choose_hosts, write_documents


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
    from discovery.views.graphql_export import export_graphql_sdl, graphql_hosts

    check_destination(case, output, force=force)
    with case.open(create=False) as store:
        hosts = choose_hosts(host, graphql_hosts(store), output, what="GraphQL operation")
        docs = {h: export_graphql_sdl(store, h) for h in hosts}
    write_documents(
        case,
        output,
        docs,
        suffix="graphql",
        force=force,
        describe=lambda h: f"the GraphQL operations of {h}",
    )
