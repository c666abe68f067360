"""``ir-console search``: one text across hosts, endpoints, identities, credentials, findings."""

from __future__ import annotations

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table


@click.command()
@click.argument("text")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many results.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def search(case: CaseContext, text: str, limit: int, as_json: bool) -> None:
    """Subjects of the case matching TEXT, most relevant first.

    Every word must match the start of a word of the subject (``exam`` finds api.example.com);
    REF names the subject for `graph`, `block` and `runbook run --target`.
    """
    from discovery.views.search import search as find

    with case.open(create=False) as store:
        hits = find(store, text, limit)
    if as_json:
        emit_json([h.to_json() for h in hits])
        return
    emit_table(
        ["type", "label", "ref"],
        [[h.type, h.label, h.ref] for h in hits],
        empty="nothing matches",
    )
