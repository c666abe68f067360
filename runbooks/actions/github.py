"""``github.revoke_credentials``: GitHub's credential revocation API (``POST /credentials/revoke``),
which revokes leaked tokens of any owner and notifies them. The token comes from the operator."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runbooks.actions.base import (
    Action,
    ActionContext,
    Args,
    check_secret_matches,
    http_error,
    response_error,
)
from runbooks.outcome import containment

API = "https://api.github.com"


class RevokeArgs(Args):
    credentials: list[str] = Field(min_length=1, max_length=1000)
    api_url: str = API
    credential: str | None = None  # when given, the first token must be this case credential


class GitHubRevoke(Action[RevokeArgs]):
    """Ask GitHub to revoke leaked tokens (202 Accepted)."""

    name = "github.revoke_credentials"
    args = RevokeArgs

    def plan(self, args: RevokeArgs, ctx: ActionContext) -> str:
        return (
            f"POST {args.api_url.rstrip('/')}/credentials/revoke with "
            f"{len(args.credentials)} token(s)"
        )

    def run(self, args: RevokeArgs, ctx: ActionContext) -> dict[str, Any]:
        import httpx  # imported when an HTTP action runs (~0.3 s), not at load

        check_secret_matches(ctx, args.credentials[0], args.credential)
        url = args.api_url.rstrip("/") + "/credentials/revoke"
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        try:
            with ctx.http() as client:
                response = client.post(url, json={"credentials": args.credentials}, headers=headers)
        except httpx.HTTPError as exc:
            raise http_error("github", exc) from None
        if response.status_code != 202:
            raise response_error("github", response)
        return {
            "url": url,
            "status": response.status_code,
            "submitted": len(args.credentials),
            **containment(
                "revoked",
                True,
                f"revocation submitted to GitHub ({url}: 202 Accepted; GitHub revokes the token "
                "and tells its owner)",
            ),
        }


ACTION = GitHubRevoke()
