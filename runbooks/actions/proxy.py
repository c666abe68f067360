"""Block and unblock credentials and endpoints in the blocklist the mitmproxy addon enforces."""

from __future__ import annotations

from typing import Any

from discovery.case import blocklist
from discovery.timeutil import iso
from discovery.views.enforcement import wait_until_applied
from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError
from runbooks.outcome import containment

APPLY_WAIT = 5.0  # seconds a block waits for a running enforcing proxy to apply it


def _enforced(ctx: ActionContext, what: str) -> dict[str, Any]:
    """Whether a running enforcing proxy applied the block: the step's containment fact."""
    state = wait_until_applied(ctx.store, min(APPLY_WAIT, ctx.timeout))
    if state.enforced:
        text = f"{what} blocked at a running enforcing proxy (applied at {iso(state.last_applied)})"
    else:
        text = f"{what} on the blocklist, " + state.sentence()
    return {"enforcement": state.to_json(), **containment("blocked", state.enforced, text)}


class CredentialArgs(Args):
    credential: str
    reason: str | None = None


class EndpointArgs(Args):
    endpoint: str  # "HOST METHOD TEMPLATE"
    reason: str | None = None


class BlockCredential(Action[CredentialArgs]):
    """Add a credential (by its fingerprint) to the proxy's blocklist."""

    name = "proxy.block_credential"
    args = CredentialArgs

    def plan(self, args: CredentialArgs, ctx: ActionContext) -> str:
        return f"block credential {args.credential} at the proxy (enforcing proxies answer 403)"

    def run(self, args: CredentialArgs, ctx: ActionContext) -> dict[str, Any]:
        block = blocklist.block_credential(ctx.store, args.credential, args.reason, ctx.actor)
        return {
            "blocked": "credential",
            "subject": block.subject,
            "reason": block.reason,
            "at": iso(block.created_at),
            "at_ts": block.created_at,
            **_enforced(ctx, f"credential {block.subject}"),
        }


class UnblockCredential(Action[CredentialArgs]):
    """Remove a credential's block."""

    name = "proxy.unblock_credential"
    args = CredentialArgs

    def plan(self, args: CredentialArgs, ctx: ActionContext) -> str:
        return f"unblock credential {args.credential} at the proxy"

    def run(self, args: CredentialArgs, ctx: ActionContext) -> dict[str, Any]:
        removed = blocklist.unblock_credential(ctx.store, args.credential, ctx.actor)
        return {"unblocked": "credential", "subject": args.credential, "was_blocked": removed}


class BlockEndpoint(Action[EndpointArgs]):
    """Add an endpoint ("HOST METHOD TEMPLATE") to the proxy's blocklist."""

    name = "proxy.block_endpoint"
    args = EndpointArgs

    def plan(self, args: EndpointArgs, ctx: ActionContext) -> str:
        return f"block endpoint {args.endpoint!r} at the proxy"

    def run(self, args: EndpointArgs, ctx: ActionContext) -> dict[str, Any]:
        try:
            block = blocklist.block_endpoint(ctx.store, args.endpoint, args.reason, ctx.actor)
        except ValueError as exc:
            raise ActionError(str(exc)) from None
        return {
            "blocked": "endpoint",
            "subject": block.subject,
            "reason": block.reason,
            "at": iso(block.created_at),
            "at_ts": block.created_at,
            **_enforced(ctx, f"endpoint {block.subject!r}"),
        }


class UnblockEndpoint(Action[EndpointArgs]):
    """Remove an endpoint's block."""

    name = "proxy.unblock_endpoint"
    args = EndpointArgs

    def plan(self, args: EndpointArgs, ctx: ActionContext) -> str:
        return f"unblock endpoint {args.endpoint!r} at the proxy"

    def run(self, args: EndpointArgs, ctx: ActionContext) -> dict[str, Any]:
        removed = blocklist.unblock_endpoint(ctx.store, args.endpoint, ctx.actor)
        return {"unblocked": "endpoint", "subject": args.endpoint, "was_blocked": removed}


BLOCK_CREDENTIAL = BlockCredential()
UNBLOCK_CREDENTIAL = UnblockCredential()
BLOCK_ENDPOINT = BlockEndpoint()
UNBLOCK_ENDPOINT = UnblockEndpoint()
