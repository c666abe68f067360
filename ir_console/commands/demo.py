"""``ir-console demo``: build the bundled demo case and open the console on it."""

from __future__ import annotations

from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import message

DEMO_CASE = Path("demo-case.db")


@click.command()
@click.option("--no-tui", is_flag=True, help="Build the case and print a summary; no console.")
@click.option(
    "--case", "case_path", type=click.Path(dir_okay=False, path_type=Path), default=DEMO_CASE,
    show_default=True, help="Where to build the demo case (rebuilt from scratch).",
)
@click.pass_obj
def demo(case: CaseContext, no_tui: bool, case_path: Path) -> None:
    """Build a fresh demo case and open the console on it.

    Until the bundled demo capture lands, the demo case is empty.
    """
    from discovery.secrets import key_path_for
    from discovery.store import Store

    for stale in (case_path, key_path_for(case_path), Path(f"{case_path}-wal"),
                  Path(f"{case_path}-shm")):
        stale.unlink(missing_ok=True)
    with Store.open(case_path, create=True) as store:
        exchanges = store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    message(f"demo case built at {case_path}: {exchanges} exchanges")
    if no_tui:
        return
    from ir_console.tui.app import ConsoleApp

    ConsoleApp(case_path).run()
