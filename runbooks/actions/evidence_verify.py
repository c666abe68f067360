"""``evidence.verify_no_use_since``: prove a credential had no successful use since a time.

It waits for evidence: with a capture or proxy writing to the case it watches up to ``wait``
seconds (at least ``min_window``) for traffic that could show a use, new requests from the
clients that used the credential (called the endpoint) before, or to the hosts it was used on.
Its verdict is one of three:

* *failed: used since*: a successful, unblocked request with it (the step fails);
* *verified: no use since*: traffic was observed (refused attempts, or the same clients or
  hosts still active) and none of it a successful use;
* *not verified: no traffic observed*: nothing happened that could show a use, so nothing is
  proven (the step is done, the run ends ``unverified``).
"""

from __future__ import annotations

import time
from typing import Any

from discovery.timeutil import iso, parse_time
from discovery.views.traffic import uses_since
from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError
from runbooks.outcome import containment


class VerifyArgs(Args):
    credential: str | None = None
    endpoint: str | None = None  # "HOST METHOD TEMPLATE" (instead of a credential)
    since: str | float | None = None  # ISO 8601, epoch or an age (2h); default: run start
    grace: float = 0.0  # seconds after ``since`` that are tolerated (the proxy's poll interval)
    wait: float = 30.0  # at most this many seconds watching for evidence
    min_window: float = 0.0  # at least this many seconds watching, even once evidence is seen
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
        watch = f", watching up to {args.wait:g}s for traffic that could show a use"
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
        began = time.monotonic()
        watch = min(args.wait, max(ctx.timeout - 1, 0))
        deadline = began + watch
        floor = began + min(args.min_window, watch)
        while True:
            # one snapshot: a use committed meanwhile is a use or unseen, never mere traffic
            uses = uses_since(ctx.store, since, credential=args.credential, endpoint=endpoint)
            if uses.successful:
                raise ActionError(
                    f"failed: used since: {_what(args)} was used successfully {uses.successful} "
                    f"time(s) since {iso(since)} (last at {iso(uses.last_success)}, "
                    f"evidence {uses.evidence})"
                )
            observed = uses.observed
            now = time.monotonic()
            if (observed or uses.refused) and now >= floor:
                break
            if now >= deadline:
                break
            time.sleep(max(args.poll, 0.05))
        watched = round(time.monotonic() - began, 3)
        if observed or uses.refused:
            verdict = "verified"
            text = (
                f"verified: no use since {iso(since)} of {_what(args)} ({uses.refused} attempt(s) "
                f"refused, {observed} exchange(s) from its clients or hosts observed)"
            )
        else:
            verdict = "not verified"
            text = (
                f"not verified: no traffic observed from {_what(args)}'s clients or hosts "
                f"in {watched:g}s since {iso(since)}"
            )
        return {
            "subject": _what(args),
            "since": iso(since),
            "verdict": verdict,
            "successful_uses": 0,
            "refused_attempts": uses.refused,
            "traffic_observed": observed,
            "watched_seconds": watched,
            **containment("verified", verdict == "verified", text),
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
