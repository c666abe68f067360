"""``vault.revoke``: revoke a HashiCorp Vault token, a token by accessor, or a lease.

The operator's own Vault token (``vault_token`` or ``VAULT_TOKEN``) authorises the call.
"""

from __future__ import annotations

import os
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

_PATHS = {
    "token": ("POST", "/v1/auth/token/revoke", "token"),
    "accessor": ("POST", "/v1/auth/token/revoke-accessor", "accessor"),
    "lease": ("PUT", "/v1/sys/leases/revoke", "lease_id"),
}


class RevokeArgs(Args):
    address: str  # e.g. https://vault.internal:8200
    what: Literal["token", "accessor", "lease"] = "token"
    value: str  # the token, accessor or lease id
    vault_token: str | None = None
    namespace: str | None = None
    credential: str | None = None  # for what=token: the token must be this case credential


class VaultRevoke(Action[RevokeArgs]):
    """Revoke at Vault (204 No Content)."""

    name = "vault.revoke"
    args = RevokeArgs

    def plan(self, args: RevokeArgs, ctx: ActionContext) -> str:
        method, path, _ = _PATHS[args.what]
        return f"{method} {args.address.rstrip('/')}{path} to revoke the {args.what}"

    def run(self, args: RevokeArgs, ctx: ActionContext) -> dict[str, Any]:
        import httpx  # imported when an HTTP action runs (~0.3 s), not at load

        if args.what == "token":
            check_secret_matches(ctx, args.value, args.credential)
        operator = args.vault_token or os.environ.get("VAULT_TOKEN")
        if not operator:
            raise ActionError("vault: no operator token (vault_token or $VAULT_TOKEN)")
        method, path, field = _PATHS[args.what]
        headers = {"X-Vault-Token": operator}
        if args.namespace:
            headers["X-Vault-Namespace"] = args.namespace
        try:
            with ctx.http() as client:
                response = client.request(
                    method,
                    args.address.rstrip("/") + path,
                    json={field: args.value},
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            raise http_error("vault", exc) from None
        if response.status_code not in (200, 204):
            raise response_error("vault", response)
        return {
            "what": args.what,
            "status": response.status_code,
            "revoked": True,
            **containment("revoked", True, f"revoked at Vault ({args.what})"),
        }


ACTION = VaultRevoke()
