"""``ir-console audit verify``: walk the hash chain and name the first bad entry."""

from __future__ import annotations

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, message


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Check every entry; exit 1 and name the first changed, deleted or reordered one."""
    from discovery.case import audit as audit_log

    case: CaseContext = ctx.obj
    with case.open(create=False) as store:
        result = audit_log.verify(store)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "first_bad": result.first_bad,
                "reason": result.reason,
                "head": result.head,
            }
        )
    elif result.ok:
        message(f"audit log ok: {result.entries} entries, head {result.head}")
    else:
        message(f"audit log BROKEN at entry {result.first_bad}: {result.reason}")
    ctx.exit(0 if result.ok else 1)
