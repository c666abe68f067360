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
    type=click.Choice(["md", "json", "html"]),
    default="md",
    show_default=True,
    help="Markdown, JSON, or one self-contained HTML page (the traffic chart an inline SVG).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists already.")
@click.pass_obj
def report(case: CaseContext, fmt: str, output: Path | None, force: bool) -> None:
    """Write the incident report of the case.

    FILE is created private (0600); it replaces an existing file only with --force, and is
    never the case, its key or its other companion files."""
    from discovery.case.files import check_output, write_private
    from runbooks import report as build

    if output is not None:
        check_output(output, case.db, force=force)
    with case.open(create=False) as store:
        data = build.build(store)
    if fmt == "md":
        text = build.markdown(data)
    elif fmt == "html":
        text = build.html_report(data)
    else:
        text = json.dumps(data, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    write_private(output, text, case=case.db, force=force)
    message(f"report written to {output} (audit head {data['audit']['head']})")
