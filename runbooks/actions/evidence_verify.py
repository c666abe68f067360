"""``evidence.verify_no_use_since``: prove a credential had no successful use since a time.

With a capture or proxy writing to the case, it can watch for ``wait`` seconds: any successful,
unblocked request with the credential in that window fails the step.
"""

from __future__ import annotations

import time
from typing import Any

from discovery.timeutil import iso, parse_time
from discovery.views.traffic import uses_since
from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError


class VerifyArgs(Args):
    credential: str | None = None
    endpoint: str | None = None  # "HOST METHOD TEMPLATE" (instead of a credential)
    since: str | float | None = None  # ISO 8601, epoch or an age (2h); default: run start
    grace: float = 0.0  # seconds after ``since`` that are tolerated (the proxy's poll interval)
    wait: float = 0.0  # seconds to keep watching new traffic
    poll: float = 1.0


class VerifyNoUseSince(Action[VerifyArgs]):
    """Fails when the credential succeeded (2xx/3xx, not blocked) at or after ``since``."""

    name = "evidence.verify_no_use_since"
    args = VerifyArgs

    def plan(self, args: VerifyArgs, ctx: ActionContext) -> str:
        since = args.since or "the start of the run"
        if isinstance(since, float):
            since = iso(since) or since
        if args.grace:
            since = f"{since} (+{args.grace:g}s for enforcement to apply)"
        watch = f", watching new traffic for {args.wait:g}s" if args.wait else ""
        return f"check that {_what(args)} had no successful use since {since}{watch}"

    def run(self, args: VerifyArgs, ctx: ActionContext) -> dict[str, Any]:
        try:
            since = (
                float(args.since)
                if isinstance(args.since, float)
                else parse_time(args.since)
                if args.since
                else ctx.started_at
            )
        except ValueError as exc:
            raise ActionError(f"since: {exc}") from None
        since += args.grace
        if (args.credential is None) == (args.endpoint is None):
            raise ActionError(
                "evidence.verify_no_use_since: give exactly one of credential, endpoint"
            )
        endpoint = _endpoint(args)
        deadline = time.monotonic() + min(args.wait, max(ctx.timeout - 1, 0))
        while True:
            uses = uses_since(ctx.store, since, credential=args.credential, endpoint=endpoint)
            if uses.successful:
                raise ActionError(
                    f"{_what(args)} was used successfully {uses.successful} time(s) since "
                    f"{iso(since)} (last at {iso(uses.last_success)}, evidence {uses.evidence})"
                )
            if time.monotonic() >= deadline:
                break
            time.sleep(max(args.poll, 0.05))
        return {
            "subject": _what(args),
            "since": iso(since),
            "successful_uses": 0,
            "refused_attempts": uses.refused,
            "watched_seconds": args.wait,
        }


def _what(args: VerifyArgs) -> str:
    return f"credential {args.credential}" if args.credential else f"endpoint {args.endpoint!r}"


def _endpoint(args: VerifyArgs) -> tuple[str, str, str] | None:
    """The endpoint to watch as (host, method, template), or None for a credential."""
    if args.endpoint is None:
        return None
    parts = args.endpoint.split()
    if len(parts) != 3:
        raise ActionError(f'endpoint must be "HOST METHOD TEMPLATE", got {args.endpoint!r}')
    return parts[0].lower(), parts[1].upper(), parts[2]


ACTION = VerifyNoUseSince()
