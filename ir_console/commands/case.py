"""``ir-console case merge CASE... -o CASE``: many sensors' and proxies' cases into one
investigation (``discovery.ingest.merge`` says how)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ir_console.output import emit_json, message
from ir_console.sanitize import clean


@click.group()
def case() -> None:
    """Whole cases: merge the cases of several proxies and sensors into one."""


@case.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The merged case (created with the first case's key when missing; added to when it "
    "exists).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def merge(sources: tuple[Path, ...], output: Path, as_json: bool) -> None:
    """Merge cases of one incident: inputs by content hash, exchanges once, credentials matched
    where the cases share a key (re-keyed from the input files where they do not, when the
    files are still there), audit logs kept as separate verified chains; then one analysis.
    Merging a case again adds nothing."""
    from discovery.ingest.merge import merge_cases

    summaries = merge_cases(output, sources, _progress(as_json))
    if as_json:
        emit_json({"output": str(output), "sources": [s.as_dict() for s in summaries]})
        return
    out = sys.stdout
    for summary in summaries:
        item = summary.as_dict()
        out.write(
            f"{clean(item['case'])}: {item['exchanges_added']} exchanges added "
            f"({item['exchanges_present']} already there), {item['inputs_added']} inputs added "
            f"({item['inputs_present']} already there); credentials: "
            f"{item['credentials_matched']}; audit chain of {item['audit_entries']} entries "
            f"{'added' if item['audit_added'] else 'already there'}\n"
        )
        for line in [*summary.rekeyed, *summary.counts.inputs_left_out]:
            out.write(f"  {clean(line)}\n")
    out.write(f"merged into {clean(str(output))}\n")


def _progress(as_json: bool) -> Callable[[str], None] | None:
    """Each step on stderr: a line on a terminal, a JSON event with ``--json``, nothing on a
    pipe."""
    if as_json:

        def event(step: str) -> None:
            sys.stderr.write(json.dumps({"event": "progress", "step": clean(step)}) + "\n")
            sys.stderr.flush()

        return event
    return message if sys.stderr.isatty() else None
