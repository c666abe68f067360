"""Token lineage: which client obtained each token the case saw in use (``issued_by``).

Token responses recorded the tokens they issued (``issued_tokens``: the keyed fingerprint, the
client that asked, the credentials that obtained it). This stage ties every credential whose
fingerprint was issued to the client identity that obtained it: the identity named by the token
request, or, for a refresh or exchange grant that named no client, the client of the token that
obtained it (followed along the chain). A credential that had no identity of its own (an opaque
bearer token) becomes the client's; its issue time and lifetime come from the response.
It runs before the register, so the register can still name the client.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from discovery.case.store import Store

log = logging.getLogger(__name__)

MAX_CHAIN = 32  # refresh after refresh: a chain longer than this is cut (and logged)


def issuances(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Per issued credential id, its issuances in time order (client, grant, when, from where)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for cid, name, claims_json, ts, client_ip, exchange_id in store.conn.execute(
        "SELECT it.credential_id, it.name, it.claims, e.ts, e.client_ip, it.exchange_id "
        "FROM issued_tokens it JOIN exchanges e ON e.id = it.exchange_id ORDER BY e.ts, e.id"
    ):
        claims = json.loads(claims_json)
        claims.update(name=name, ts=ts, client_ip=client_ip, exchange_id=exchange_id)
        out.setdefault(cid, []).append(claims)
    return out


def resolve_clients(
    issued: dict[str, list[dict[str, Any]]], identity_of: dict[str, str | None]
) -> dict[str, str]:
    """Per issued credential id, the client identity that obtained it."""
    resolved: dict[str, str] = {}

    def client_of(cid: str, depth: int) -> str | None:
        if cid in resolved:
            return resolved[cid]
        if depth > MAX_CHAIN:
            log.warning("token lineage: chain longer than %d at %s", MAX_CHAIN, cid)
            return None
        for issuance in issued.get(cid, ()):
            client = issuance.get("issued_by")
            if not client:
                for parent in issuance.get("obtained_with") or ():
                    own = identity_of.get(parent)
                    if own and own.startswith("client:"):
                        client = own
                    elif parent in issued and parent != cid:
                        client = client_of(parent, depth + 1)
                    if client:
                        break
            if client:
                resolved[cid] = client
                return client
        return None

    for cid in issued:
        client_of(cid, 0)
    return resolved


def link_issued_tokens(store: Store) -> None:
    """Set ``issued_by`` on every credential a recorded token response issued; a credential
    without an identity of its own joins the client's; unknown issue and expiry times are
    taken from the response when it gave the token's lifetime (``expires_in``)."""
    conn = store.conn
    issued = issuances(store)
    identity_of = dict(conn.execute("SELECT id, identity_id FROM credentials").fetchall())
    clients = resolve_clients(issued, identity_of)
    updates = []
    for cid, client in clients.items():
        if cid not in identity_of:
            continue  # issued but never presented: nothing to tie
        first = issued[cid][0]
        lifetime = first.get("expires_in")
        if isinstance(lifetime, int | float):  # the response said how long the token lives
            issued_at, expires_at = first["ts"], first["ts"] + lifetime
        else:  # unknown lifetime (a refresh token): unknown, not "never expires"
            issued_at = expires_at = None
        updates.append((client, client, issued_at, expires_at, cid))
    with store.transaction() as tx:
        tx.execute("UPDATE credentials SET issued_by = NULL WHERE issued_by IS NOT NULL")
        tx.executemany(
            "INSERT OR IGNORE INTO identities(id, name, source) VALUES (?, ?, 'oauth')",
            [(c, c.split(":", 1)[1]) for c in sorted(set(clients.values()))],
        )
        tx.executemany(
            "UPDATE credentials SET issued_by = ?, "
            "identity_id = CASE WHEN identity_id IS NULL OR identity_id LIKE 'cred:%' "
            "THEN ? ELSE identity_id END, "
            "issued_at = COALESCE(issued_at, ?), expires_at = COALESCE(expires_at, ?) "
            "WHERE id = ?",
            updates,
        )
    log.debug("token lineage: %d credentials tied to the client that obtained them", len(updates))
