"""``ir-console tui``: open the console on the case."""

from __future__ import annotations

from pathlib import Path

import click

from ir_console.cli import CaseContext


@click.command()
@click.option(
    "--new",
    is_flag=True,
    help="Create the case file when it does not exist (a missing case is refused otherwise).",
)
@click.pass_obj
def tui(case: CaseContext, new: bool) -> None:
    """Open the console on the case (also the default with no command on a terminal)."""
    if not new and not case.db.exists():
        raise click.exceptions.Exit(_refuse_missing(case.db))
    from ir_console.tui.app import ConsoleApp

    with case.open(create=new):
        pass  # create / migrate before the console starts, so errors are one line, not a modal
    ConsoleApp(case.db).run()


def _refuse_missing(path: Path) -> int:
    """Say, as the read commands do, that there is no case there, and how to make one."""
    import shlex

    from ir_console.sanitize import clean

    click.echo(
        f"ir-console: error: {clean(str(path))}: no such case file (ir-console --db "
        f"{clean(shlex.quote(str(path)))} tui --new creates an empty one; ir-console demo "
        "builds the demo case)",
        err=True,
    )
    return 2
