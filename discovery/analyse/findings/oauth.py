"""Findings about OAuth token flows (docs/findings.md): the client secret sent in the clear, the
password grant used by a non-human identity, a refresh token used from a new source."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from discovery.analyse.findings import Finding, rule
from discovery.analyse.findings.credentials import MAX_LISTED, samples
from discovery.case.store import Store
from discovery.timeutil import iso

NON_HUMAN_KINDS = ("service-account", "bot", "partner")
# User agents of HTTP libraries and tools: a script or a service, not a person at a browser.
_PROGRAMMATIC = (
    "curl/",
    "wget/",
    "python-",
    "python/",
    "httpx",
    "aiohttp",
    "urllib",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "axios",
    "node-fetch",
    "undici",
    "got ",
    "ruby",
    "faraday",
    "powershell",
    "libwww-perl",
    "guzzlehttp",
    "rest-client",
    "postmanruntime",
    "insomnia",
    "boto",
    "aws-sdk",
)


def programmatic(agent: str | None) -> bool:
    """True for a missing user agent or one of an HTTP library or tool (not a browser)."""
    if not agent:
        return True
    lower = agent.lower()
    return "mozilla/" not in lower and any(tool in lower for tool in _PROGRAMMATIC)


@rule("client_secret_cleartext", traffic_only=True)
def client_secret_cleartext(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """An OAuth client secret sent to a token endpoint over plain HTTP."""
    for cid, count, hosts, first, last in store.conn.execute(
        # from the client secrets (CROSS JOIN keeps that order): only their exchanges are read
        "SELECT ec.credential_id, COUNT(DISTINCT e.id), GROUP_CONCAT(DISTINCT e.host), "
        "MIN(e.ts), MAX(e.ts) FROM credentials c "
        "CROSS JOIN exchange_credentials ec ON ec.credential_id = c.id "
        "CROSS JOIN exchanges e ON e.id = ec.exchange_id "
        "WHERE e.tls = 0 AND c.kind = 'client_secret' GROUP BY ec.credential_id"
    ):
        redacted, ident, claims = store.conn.execute(
            "SELECT redacted, identity_id, claims FROM credentials WHERE id = ?", (cid,)
        ).fetchone()
        client_id = json.loads(claims).get("client_id")
        yield Finding(
            rule="client_secret_cleartext",
            severity="critical",
            title=f"client secret of {client_id or redacted} sent over cleartext HTTP "
            f"({count} token requests)",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "client_id": client_id,
                "identity": ident,
                "token_requests": count,
                "hosts": sorted((hosts or "").split(",")),
                "samples": samples(store, "ec.credential_id = ? AND e.tls = 0", (cid,)),
            },
            first_seen=first,
            last_seen=last,
        )


@rule("password_grant_non_human", traffic_only=True)
def password_grant_non_human(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """The resource owner password grant used by a service account, a bot or a script."""
    kinds = dict(store.conn.execute("SELECT id, kind FROM identities WHERE kind IS NOT NULL"))
    grants: dict[str, dict[str, Any]] = {}
    for cid, ident, claims, agent, first, last in store.conn.execute(
        "SELECT c.id, c.identity_id, c.claims, e.user_agent, MIN(e.ts), MAX(e.ts) "
        "FROM credentials c JOIN exchange_credentials ec ON ec.credential_id = c.id "
        "JOIN exchanges e ON e.id = ec.exchange_id WHERE c.kind = 'password' "
        "AND json_extract(c.claims, '$.grant_type') = 'password' "
        "GROUP BY c.id, e.user_agent"
    ):
        grant = grants.setdefault(
            cid,
            {"identity": ident, "claims": json.loads(claims), "agents": [], "first": first},
        )
        grant["agents"].append(agent)
        grant["last"] = last
    for cid, grant in grants.items():
        claims = grant["claims"]
        client = f"client:{_host(grant['identity'])}|{claims.get('client_id')}"
        registered = kinds.get(grant["identity"]) or kinds.get(client)
        scripted = [a for a in grant["agents"] if programmatic(a)]
        if registered in NON_HUMAN_KINDS:
            why = f"the identity is registered as {registered}"
        elif registered is None and scripted:
            why = "sent by an HTTP library or tool, not a person at a browser"
        else:
            continue
        yield Finding(
            rule="password_grant_non_human",
            severity="high" if registered else "medium",
            title=f"password grant used by {claims.get('username') or grant['identity']}: {why}",
            subject_type="identity",
            subject_id=grant["identity"],
            evidence={
                "credential": cid,
                "username": claims.get("username"),
                "client_id": claims.get("client_id"),
                "why": why,
                "user_agents": sorted({a or "(none)" for a in grant["agents"]})[:MAX_LISTED],
                "samples": samples(store, "ec.credential_id = ?", (cid,)),
            },
            first_seen=grant["first"],
            last_seen=grant["last"],
        )


def _host(identity: str | None) -> str:
    return (identity or "").rsplit("@", 1)[-1]


@rule("refresh_token_new_source", traffic_only=True)
def refresh_token_new_source(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A refresh token used from a client address other than the one it was issued to (or,
    when its issuance was not seen, first used from)."""
    issued_to: dict[str, tuple[str, float]] = {}
    for cid, client, ts in store.conn.execute(
        "SELECT it.credential_id, e.client_ip, e.ts FROM issued_tokens it "
        "JOIN exchanges e ON e.id = it.exchange_id WHERE it.name = 'refresh_token' "
        "AND e.client_ip IS NOT NULL ORDER BY e.ts"
    ):
        issued_to.setdefault(cid, (client, ts))
    uses: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for cid, client, first, last in store.conn.execute(
        # refresh tokens told from the link and the credential before the exchange is read
        # (CROSS JOIN keeps that order)
        "SELECT ec.credential_id, e.client_ip, MIN(e.ts), MAX(e.ts) FROM exchange_credentials ec "
        "CROSS JOIN credentials c ON c.id = ec.credential_id "
        "CROSS JOIN exchanges e ON e.id = ec.exchange_id "
        "WHERE e.client_ip IS NOT NULL AND (c.kind = 'refresh_token' OR ec.name = "
        "'refresh_token' OR c.id IN (SELECT credential_id FROM issued_tokens "
        "WHERE name = 'refresh_token')) GROUP BY ec.credential_id, e.client_ip ORDER BY 3"
    ):
        uses[cid].append((client, first, last))
    for cid, seen in uses.items():
        origin = issued_to.get(cid)
        known = origin[0] if origin else seen[0][0]
        new = [(c, f, la) for c, f, la in seen if c != known]
        if not new:
            continue
        redacted, ident, issued_by = store.conn.execute(
            "SELECT redacted, identity_id, issued_by FROM credentials WHERE id = ?", (cid,)
        ).fetchone()
        yield Finding(
            rule="refresh_token_new_source",
            severity="high",
            title=f"refresh token {redacted} used from {len(new)} new source"
            f"{'s' if len(new) > 1 else ''} ({', '.join(c for c, _, _ in new[:3])})",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "issued_to": origin[0] if origin else None,
                "issued_at": iso(origin[1]) if origin else None,
                "first_source": known,
                "new_sources": [
                    {"client": c, "first_seen": iso(f), "last_seen": iso(la)}
                    for c, f, la in new[:MAX_LISTED]
                ],
                "identity": ident,
                "issued_by": issued_by,
                "samples": samples(store, "ec.credential_id = ?", (cid,)),
            },
            first_seen=new[0][1],
            last_seen=max(la for _, _, la in new),
        )
