"""``ir-console inventory import FILE``: load the identity register (CSV or YAML) into the case."""

from __future__ import annotations

from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, message
from ir_console.progress import Steps


@click.group()
def inventory() -> None:
    """The identity register: who owns which non-human identity."""


@inventory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def import_(case: CaseContext, file: Path, as_json: bool) -> None:
    """Replace the case's register with FILE, then map credentials and recompute findings.

    The analysis that follows shows its stage on a terminal (with --json: one JSON progress
    event on stderr per stage and per second)."""
    from discovery.analyse.recompute import recompute
    from discovery.analyse.register import import_register
    from discovery.views import queries

    with case.open() as store:
        count = import_register(store, file)
        with Steps(as_json) as steps:
            recompute(store, steps)
        rows = queries.identities(store)
    reg = [r for r in rows if r["registered"]]
    unregistered = [r for r in rows if not r["registered"]]
    matched = sum(1 for r in reg if r["credentials"])
    if as_json:
        emit_json({"registered": count, "matched": matched, "unregistered": len(unregistered)})
        return
    message(
        f"{count} identities registered from {file}; {matched} matched credentials in "
        f"this case; {len(unregistered)} identities seen are not registered"
    )
