"""``slack.revoke``: Slack's ``auth.revoke`` for a leaked token; ``test: true`` asks Slack to
check the token without revoking it."""

from __future__ import annotations

from typing import Any

from runbooks.actions.base import (
    Action,
    ActionContext,
    Args,
    check_secret_matches,
    http_error,
    response_error,
)
from runbooks.errors import ActionError
from runbooks.outcome import containment

API = "https://slack.com/api"


class RevokeArgs(Args):
    token: str
    test: bool = False
    api_url: str = API
    credential: str | None = None


class SlackRevoke(Action[RevokeArgs]):
    """POST auth.revoke with the token as a Bearer credential."""

    name = "slack.revoke"
    args = RevokeArgs

    def plan(self, args: RevokeArgs, ctx: ActionContext) -> str:
        mode = " (test=true: checks, does not revoke)" if args.test else ""
        return f"POST {args.api_url.rstrip('/')}/auth.revoke{mode}"

    def run(self, args: RevokeArgs, ctx: ActionContext) -> dict[str, Any]:
        import httpx  # imported when an HTTP action runs (~0.3 s), not at load

        check_secret_matches(ctx, args.token, args.credential)
        url = args.api_url.rstrip("/") + "/auth.revoke"
        form = {"test": "true"} if args.test else {}
        try:
            with ctx.http() as client:
                response = client.post(
                    url, data=form, headers={"Authorization": f"Bearer {args.token}"}
                )
        except httpx.HTTPError as exc:
            raise http_error("slack", exc) from None
        if response.status_code != 200:
            raise response_error("slack", response)
        try:
            body = response.json()
        except ValueError:
            raise ActionError(
                "slack: auth.revoke answered with something other than JSON"
            ) from None
        if not isinstance(body, dict) or not body.get("ok"):
            error = body.get("error") if isinstance(body, dict) else None
            raise ActionError(f"slack: auth.revoke failed: {error or 'not ok'}")
        revoked = bool(body.get("revoked"))
        return {
            "url": url,
            "test": args.test,
            "revoked": revoked,
            **containment(
                "revoked",
                revoked,
                "revoked at Slack"
                if revoked
                else "NOT revoked at Slack (auth.revoke answered revoked: false"
                + (", test mode)" if args.test else ")"),
            ),
        }


ACTION = SlackRevoke()
