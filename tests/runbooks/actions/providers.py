"""Local stand-ins for GitHub, Slack and Vault that check the documented request shape.

Each answers like the real API does when the request is right, and with the real API's error
when it is not, so a test passes only if the action sends what the provider documents:
- GitHub ``POST /credentials/revoke``: JSON ``{"credentials": [str, ...]}`` (1..1000),
  ``Accept: application/vnd.github+json`` -> 202;
- Slack ``POST /auth.revoke``: token as ``Authorization: Bearer``, form ``test`` optional ->
  ``{"ok": true, "revoked": bool}``;
- Vault ``POST /v1/auth/token/revoke`` ``{"token"}``, ``POST /v1/auth/token/revoke-accessor``
  ``{"accessor"}``, ``PUT /v1/sys/leases/revoke`` ``{"lease_id"}`` with ``X-Vault-Token`` -> 204.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.runbooks.servers import Reply, Seen, Server, http_server

JSON = {"Content-Type": "application/json"}


@dataclass
class Providers:
    server: Server
    github_revoked: list[str] = field(default_factory=list)
    slack_tokens: set[str] = field(default_factory=set)
    slack_revoked: list[str] = field(default_factory=list)
    vault_operator: str = "hvs.operator-token"
    vault_tokens: set[str] = field(default_factory=set)
    vault_revoked: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url


def _error(status: int, message: str) -> Reply:
    return status, JSON, json.dumps({"message": message, "errors": [message]}).encode()


def _github(p: Providers, seen: Seen) -> Reply:
    if seen.method != "POST":
        return _error(404, "Not Found")
    if "application/vnd.github+json" not in seen.headers.get("accept", ""):
        return _error(415, "Unsupported Media Type")
    try:
        body = seen.json()
    except ValueError:
        return _error(400, "Problems parsing JSON")
    creds = body.get("credentials") if isinstance(body, dict) else None
    if (
        not isinstance(creds, list)
        or not 1 <= len(creds) <= 1000
        or not all(isinstance(c, str) and c for c in creds)
    ):
        return _error(422, "Validation Failed")
    p.github_revoked.extend(creds)
    return 202, JSON, b"{}"


def _slack(p: Providers, seen: Seen) -> Reply:
    if seen.method != "POST":
        return 405, {}, b""
    token = seen.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in p.slack_tokens:
        return 200, JSON, b'{"ok": false, "error": "invalid_auth"}'
    test = seen.form().get("test", ["false"])[0] in ("1", "true")
    if not test:
        p.slack_tokens.discard(token)
        p.slack_revoked.append(token)
    return 200, JSON, json.dumps({"ok": True, "revoked": not test}).encode()


def _vault(p: Providers, seen: Seen) -> Reply:
    if seen.headers.get("x-vault-token") != p.vault_operator:
        return _error(403, "permission denied")
    routes = {
        ("POST", "/v1/auth/token/revoke"): "token",
        ("POST", "/v1/auth/token/revoke-accessor"): "accessor",
        ("PUT", "/v1/sys/leases/revoke"): "lease_id",
    }
    key = routes.get((seen.method, seen.path))
    if key is None:
        return _error(405, "unsupported path or method")
    try:
        body = seen.json()
    except ValueError:
        return _error(400, "failed to parse JSON input")
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        return _error(400, f"missing {key}")
    if key == "token":
        if value not in p.vault_tokens:
            return _error(400, "token to revoke not found")
        p.vault_tokens.discard(value)
    p.vault_revoked.append((key, value))
    return 204, {}, b""


@contextmanager
def providers() -> Iterator[Providers]:
    """One loopback server answering under /github, /slack and /vault."""
    holder: list[Providers] = []

    def answer(seen: Seen) -> Reply:
        p = holder[0]
        for prefix, handler in (("/github", _github), ("/slack", _slack), ("/vault", _vault)):
            if seen.path.startswith(prefix + "/"):
                seen.path = seen.path[len(prefix) :]
                return handler(p, seen)
        return _error(404, "Not Found")

    with http_server(answer) as server:
        holder.append(Providers(server))
        yield holder[0]
