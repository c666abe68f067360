"""``ir-console tui``: open the console on the case."""

from __future__ import annotations

import click

from ir_console.cli import CaseContext


@click.command()
@click.pass_obj
def tui(case: CaseContext) -> None:
    """Open the console on the case (also the default with no command on a terminal)."""
    from ir_console.tui.app import ConsoleApp

    with case.open(create=True):
        pass  # create / migrate before the console starts, so errors are one line, not a modal
    ConsoleApp(case.db).run()
