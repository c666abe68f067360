"""``oauth.revoke``: RFC 7009 token revocation (form-encoded ``token`` and ``token_type_hint``,
client authentication by HTTP Basic or in the body)."""

from __future__ import annotations

from typing import Any, Literal

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


class RevokeArgs(Args):
    endpoint: str  # the revocation endpoint URL
    token: str  # from the operator at run time (a secret input), never from the case
    token_type_hint: Literal["access_token", "refresh_token"] | None = None
    client_id: str | None = None
    client_secret: str | None = None
    auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    credential: str | None = None  # when given, the token must be this case credential


class OAuthRevoke(Action[RevokeArgs]):
    """Revoke an OAuth token at its authorization server."""

    name = "oauth.revoke"
    args = RevokeArgs

    def plan(self, args: RevokeArgs, ctx: ActionContext) -> str:
        hint = f" ({args.token_type_hint})" if args.token_type_hint else ""
        return (
            f"POST {args.endpoint} (RFC 7009) to revoke the token{hint} as client "
            f"{args.client_id or '-'} using {args.auth_method}"
        )

    def run(self, args: RevokeArgs, ctx: ActionContext) -> dict[str, Any]:
        import httpx  # imported when an HTTP action runs (~0.3 s), not at load

        if not args.endpoint.startswith(("https://", "http://")):
            raise ActionError(
                f"oauth.revoke: endpoint must be an http(s) URL, got {args.endpoint!r}"
            )
        check_secret_matches(ctx, args.token, args.credential)
        form = {"token": args.token}
        if args.token_type_hint:
            form["token_type_hint"] = args.token_type_hint
        auth: httpx.BasicAuth | None = None
        if args.auth_method == "client_secret_basic":
            if not args.client_id or args.client_secret is None:
                raise ActionError(
                    "oauth.revoke: client_secret_basic needs client_id and client_secret"
                )
            auth = httpx.BasicAuth(args.client_id, args.client_secret)
        elif args.auth_method == "client_secret_post":
            if not args.client_id or args.client_secret is None:
                raise ActionError(
                    "oauth.revoke: client_secret_post needs client_id and client_secret"
                )
            form["client_id"] = args.client_id
            form["client_secret"] = args.client_secret
        elif args.client_id:
            form["client_id"] = args.client_id
        try:
            with ctx.http() as client:
                response = client.post(
                    args.endpoint,
                    data=form,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    headers={"Accept": "application/json"},
                )
        except httpx.HTTPError as exc:
            raise http_error("oauth.revoke", exc) from None
        if response.status_code != 200:  # RFC 7009 2.2: 200 also for unknown/invalid tokens
            raise response_error("oauth.revoke", response)
        return {
            "endpoint": args.endpoint,
            "status": response.status_code,
            "revoked": True,
            **containment(
                "revoked",
                True,
                f"revoked at the OAuth server {args.endpoint} (RFC 7009: 200)",
            ),
        }


ACTION = OAuthRevoke()
