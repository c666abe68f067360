"""``ir-console audit verify``: walk the keyed chain, compare it with its anchor, name the first
bad entry."""

from __future__ import annotations

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, message
from ir_console.sanitize import clean


@click.group()
def audit() -> None:
    """The append-only audit log, chained under the case key and anchored beside it."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Check every entry against the case key and the anchor; exit 1 and name the first changed,
    inserted, reordered or deleted entry, or where the log was cut."""
    from discovery.case import anchor
    from discovery.case import audit as audit_log
    from discovery.case.audit_origins import verify_origins

    case: CaseContext = ctx.obj
    with case.open(create=False) as store:
        result = audit_log.verify(store)
        origins = verify_origins(store)  # the chains of merged cases, pinned in this one
        anchor_file = anchor.anchor_path(store.path)
    ok = result.ok and all(o.ok for o in origins)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "first_bad": result.first_bad,
                "reason": result.reason,
                "head": result.head,
                "anchor": {"path": str(anchor_file), "entries": result.anchored},
                "note": result.note,
                "merged": [
                    {
                        "case": o.case_path,
                        "entries": o.entries,
                        "ok": o.ok,
                        "reason": o.reason,
                        "macs_checked": o.macs_checked,
                    }
                    for o in origins
                ],
            }
        )
    elif result.ok:
        anchored = (
            f"; anchored in {anchor_file} ({result.anchored} entries)"
            if result.anchored is not None
            else ""
        )
        message(f"audit log ok: {result.entries} entries, head {result.head}{anchored}")
        if result.note:
            message(f"note: {result.note}")
    else:
        message(f"audit log BROKEN at entry {result.first_bad}: {result.reason}")
    if not as_json:
        for o in origins:
            how = "MACs and pin" if o.macs_checked else "pinned content and links"
            state = f"ok ({how})" if o.ok else f"BROKEN: {o.reason}"
            message(f"merged audit chain of {clean(o.case_path)} ({o.entries} entries): {state}")
    ctx.exit(0 if ok else 1)
