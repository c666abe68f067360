"""``ir-console report``: the incident report (timeline, findings, actions, audit head)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import message


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown or JSON.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
@click.pass_obj
def report(case: CaseContext, fmt: str, output: Path | None) -> None:
    """Write the incident report of the case."""
    from runbooks import report as build

    with case.open(create=False) as store:
        data = build.build(store)
    text = build.markdown(data) if fmt == "md" else json.dumps(data, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(output), hint=exc.strerror or str(exc)) from None
    message(f"report written to {output} (audit head {data['audit']['head']})")
