"""``ir-console block`` / ``unblock``: put a credential or an endpoint on the proxy's blocklist.

A running ``capture proxy --enforce`` (or ``mitmdump -s … --set irc_enforce=true``) picks the
change up within a second; ``block`` waits up to ``APPLY_WAIT`` seconds for it and says whether
a running enforcing proxy applied it, or plainly that none is running. Each change writes its
audit entry first. ``block list`` shows the blocklist and the enforcing proxies.
"""

from __future__ import annotations

import click

from discovery.case import blocklist
from discovery.timeutil import iso
from discovery.views.enforcement import Enforcement, enforcement, wait_until_applied
from ir_console.cli import CaseContext
from ir_console.output import emit_json, message
from ir_console.sanitize import clean

APPLY_WAIT = 3.0  # seconds ``block`` waits for a running enforcing proxy to apply the change

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
reason_option = click.option("--reason", help="Why (kept in the blocklist and the audit log).")


def _block_json(block: blocklist.Block) -> dict[str, object]:
    return {
        "kind": block.kind,
        "subject": block.subject,
        "reason": block.reason,
        "created_by": block.created_by,
    }


@click.group()
def block() -> None:
    """Block a credential or an endpoint at the ir-console proxy (answered 403)."""


@block.command("credential")
@click.argument("credential_id")
@reason_option
@json_option
@click.pass_obj
def block_credential(
    case: CaseContext, credential_id: str, reason: str | None, as_json: bool
) -> None:
    """Block the credential CREDENTIAL_ID (as listed by `ir-console credentials`)."""
    with case.open(create=False) as store:
        done = blocklist.block_credential(store, credential_id, reason)
        state = wait_until_applied(store, APPLY_WAIT)
    _blocked(done, state, as_json)


@block.command("endpoint")
@click.argument("endpoint")
@reason_option
@json_option
@click.pass_obj
def block_endpoint(case: CaseContext, endpoint: str, reason: str | None, as_json: bool) -> None:
    """Block ENDPOINT, written "HOST METHOD TEMPLATE" (e.g. "api.example.com GET /v1/users/{id}")."""
    with case.open(create=False) as store:
        done = blocklist.block_endpoint(store, endpoint, reason)
        state = wait_until_applied(store, APPLY_WAIT)
    _blocked(done, state, as_json)


def _blocked(done: blocklist.Block, state: Enforcement, as_json: bool) -> None:
    if as_json:
        emit_json({"blocked": _block_json(done), "enforcement": state.to_json()})
    else:
        message(f"blocked {done.kind} {clean(done.subject)}: {state.sentence()}")


@block.command("list")
@json_option
@click.pass_obj
def block_list(case: CaseContext, as_json: bool) -> None:
    """The blocklist, and whether an enforcing proxy is running and applied it."""
    with case.open(create=False) as store:
        blocks = blocklist.blocks(store)
        state = enforcement(store)
    if as_json:
        emit_json(
            {
                "blocks": [{**_block_json(b), "created_at": iso(b.created_at)} for b in blocks],
                "enforcement": state.to_json(),
            }
        )
        return
    for b in blocks:
        reason = f"  ({clean(b.reason)})" if b.reason else ""
        click.echo(f"{b.kind:10} {clean(b.subject)}  since {iso(b.created_at)}{reason}")
    if not blocks:
        click.echo("nothing is blocked")
    message(state.sentence())


@click.group()
def unblock() -> None:
    """Remove a credential or an endpoint from the proxy's blocklist."""


def _unblocked(kind: str, subject: str, removed: bool, as_json: bool) -> None:
    if as_json:
        emit_json({"unblocked": removed, "kind": kind, "subject": subject})
    elif removed:
        message(f"unblocked {kind} {subject}")
    else:
        message(f"{kind} {subject} was not blocked")


@unblock.command("credential")
@click.argument("credential_id")
@json_option
@click.pass_obj
def unblock_credential(case: CaseContext, credential_id: str, as_json: bool) -> None:
    """Unblock the credential CREDENTIAL_ID."""
    with case.open(create=False) as store:
        removed = blocklist.unblock_credential(store, credential_id)
    _unblocked("credential", credential_id, removed, as_json)


@unblock.command("endpoint")
@click.argument("endpoint")
@json_option
@click.pass_obj
def unblock_endpoint(case: CaseContext, endpoint: str, as_json: bool) -> None:
    """Unblock ENDPOINT, written "HOST METHOD TEMPLATE"."""
    with case.open(create=False) as store:
        removed = blocklist.unblock_endpoint(store, endpoint)
    key = blocklist.endpoint_key(*blocklist.parse_endpoint(endpoint))
    _unblocked("endpoint", key, removed, as_json)
