"""One way to name a subject (credential, identity, endpoint, host, client) across CLI, graph, runbooks.

Accepted forms, optionally with an explicit ``TYPE:`` prefix (``credential:``, ``identity:``,
``endpoint:``, ``host:``, ``client:``; ``service:`` is an alias of ``host:``):

* a credential id ``c-1a2b3c4d5e6f``;
* an identity id (``jwt:iss|sub``, ``aws:AKIA…``, ``basic:user@host``, ``cred:c-…``) or the name
  of an identity (a registered name, or the display name of an observed one);
* ``"HOST METHOD TEMPLATE"`` for an endpoint;
* a host name (``api.example.com``) for the service behind it;
* a client IP address.

Without a prefix, a text that names subjects of two types is refused as ambiguous, never guessed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from discovery.case.store import Store
from discovery.errors import SubjectNotFound
from discovery.timeutil import iso

log = logging.getLogger(__name__)

SUBJECT_TYPES = ("credential", "identity", "endpoint", "host", "client")
_ALIASES = {"service": "host"}  # never "cred": identity ids start with "cred:"
_CREDENTIAL_ID = re.compile(r"^c-[0-9a-f]{12}$", re.IGNORECASE)
_MAX_SHOWN = 60


@dataclass(frozen=True)
class Subject:
    """A subject of the case: its type, canonical id, display label and non-secret facts."""

    type: str
    id: str
    label: str
    facts: dict[str, Any] = field(default_factory=dict, compare=False)
    # Credential only: the keyed fingerprint (what the blocklist holds); not a fact to show.
    fingerprint: str | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """The explicit form (``TYPE:ID``) that resolves back to this subject."""
        return f"{self.type}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape used in CLI output and runbook events (no fingerprint)."""
        return {"type": self.type, "id": self.id, "label": self.label, "facts": self.facts}


def _shown(text: str) -> str:
    """A user's text, shortened and with control characters made visible, for error messages."""
    value = text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
    return repr(value)


def resolve_subject(store: Store, text: str) -> Subject:
    """The subject ``text`` names in this case; ``SubjectNotFound`` (exit 2) when none or several."""
    raw = text.strip()
    if not raw:
        raise SubjectNotFound(
            "empty subject: name a credential id, identity, endpoint "
            '("HOST METHOD TEMPLATE"), host or client address'
        )
    head, sep, rest = raw.partition(":")
    kind = _ALIASES.get(head.lower(), head.lower()) if sep else ""
    if kind in SUBJECT_TYPES:
        found = _LOOKUPS[kind](store, rest.strip())
        if found is None:
            raise SubjectNotFound(f"no {kind} {_shown(rest.strip())} in this case")
        return found
    if _CREDENTIAL_ID.match(raw):
        found = credential_subject(store, raw.lower())
        if found is None:
            raise SubjectNotFound(f"no credential {_shown(raw)} in this case")
        return found
    if _looks_like_endpoint(raw):
        found = endpoint_subject(store, raw)
        if found is None:
            raise SubjectNotFound(f"no endpoint {_shown(raw)} in this case")
        return found
    candidates = [
        s
        for s in (
            identity_subject(store, raw),
            client_subject(store, raw),
            host_subject(store, raw),
        )
        if s is not None
    ]
    if not candidates:
        raise SubjectNotFound(
            f"no credential, identity, endpoint, host or client {_shown(raw)} in this case"
        )
    if len(candidates) > 1:
        refs = ", ".join(_shown(s.ref) for s in candidates)
        raise SubjectNotFound(f"{_shown(raw)} is ambiguous: say which, e.g. {refs}")
    return candidates[0]


def _loads(text: str | None, default: Any) -> Any:
    """A JSON column's value; a damaged or empty one reads as ``default`` (logged)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        log.warning("damaged JSON column value %r; shown as %r", text[:40], default)
        return default


def endpoint_parts(text: str) -> list[str]:
    """``HOST METHOD TEMPLATE`` split in three; an operation's template keeps its words
    (``/graphql mutation createUser``), single-spaced."""
    parts = text.split(maxsplit=2)
    if len(parts) == 3:
        parts[2] = " ".join(parts[2].split())
    return parts


def _looks_like_endpoint(text: str) -> bool:
    parts = endpoint_parts(text)
    return len(parts) == 3 and parts[2].startswith("/")


def _blocked(conn: sqlite3.Connection, kind: str, value: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM blocklist WHERE kind = ? AND value = ?", (kind, value)
    ).fetchone()
    return row is not None


def credential_subject(store: Store, credential_id: str) -> Subject | None:
    """A credential by id (case-insensitive), or None."""
    conn = store.conn
    row = conn.execute(
        "SELECT c.id, c.fingerprint, c.kind, c.redacted, c.public_id, c.identity_id, c.claims, "
        "c.issued_at, c.expires_at, c.first_seen, c.last_seen, c.requests, i.name "
        "FROM credentials c LEFT JOIN identities i ON i.id = c.identity_id WHERE c.id = ?",
        (credential_id.strip().lower(),),
    ).fetchone()
    if row is None:
        return None
    cid, fingerprint = row[0], row[1]
    sources = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT client_ip FROM sightings WHERE credential_id = ? AND client_ip != '' "
            "ORDER BY client_ip",
            (cid,),
        )
    ]
    if not sources:  # sightings not computed yet: fall back to the exchanges
        sources = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT e.client_ip FROM exchange_credentials ec JOIN exchanges e "
                "ON e.id = ec.exchange_id WHERE ec.credential_id = ? AND e.client_ip IS NOT NULL "
                "ORDER BY e.client_ip",
                (cid,),
            )
        ]
    endpoints = conn.execute(
        "SELECT COUNT(DISTINCT endpoint_id) FROM sightings WHERE credential_id = ?", (cid,)
    ).fetchone()[0]
    facts = {
        "kind": row[2],
        "redacted": row[3],
        "public_id": row[4],
        "identity": row[5],
        "identity_name": row[12],
        "claims": _loads(row[6], {}),
        "issued_at": iso(row[7]),
        "expires_at": iso(row[8]),
        "first_seen": iso(row[9]),
        "last_seen": iso(row[10]),
        "requests": row[11],
        "sources": sources,
        "endpoints": int(endpoints),
        "blocked": _blocked(conn, "credential", fingerprint),
    }
    return Subject("credential", cid, f"{row[2]} {row[3]}", facts, fingerprint)


def _identity_row(conn: sqlite3.Connection, text: str) -> tuple[Any, ...] | None:
    columns = (
        "SELECT id, name, kind, owner, source, registered, first_seen, last_seen, "
        "allowed_scopes, max_token_lifetime, rotation_period FROM identities "
    )
    row = conn.execute(columns + "WHERE id = ?", (text,)).fetchone()
    if row is not None:
        return tuple(row)
    rows = conn.execute(columns + "WHERE name = ? ORDER BY registered DESC, id", (text,)).fetchall()
    if not rows:
        return None
    if len(rows) > 1:
        ids = ", ".join(_shown("identity:" + r[0]) for r in rows[:5])
        raise SubjectNotFound(f"several identities are named {_shown(text)}: say which, e.g. {ids}")
    return tuple(rows[0])


def identity_subject(store: Store, text: str) -> Subject | None:
    """An identity by id, else by (unique) name, or None."""
    conn = store.conn
    row = _identity_row(conn, text.strip())
    if row is None:
        return None
    ident = row[0]
    held = conn.execute(
        "SELECT id, requests FROM credentials WHERE identity_id = ? ORDER BY id", (ident,)
    ).fetchall()
    facts = {
        "name": row[1],
        "kind": row[2],
        "owner": row[3],
        "source": row[4],
        "registered": bool(row[5]),
        "first_seen": iso(row[6]),
        "last_seen": iso(row[7]),
        "allowed_scopes": _loads(row[8], None),
        "max_token_lifetime": row[9],
        "rotation_period": row[10],
        "credentials": [r[0] for r in held],
        "requests": sum(int(r[1]) for r in held),
    }
    return Subject("identity", ident, str(row[1]), facts)


def endpoint_subject(store: Store, text: str) -> Subject | None:
    """An endpoint by ``"HOST METHOD TEMPLATE"``, or None (also when the text is not that form)."""
    parts = endpoint_parts(text)
    if len(parts) != 3 or not parts[2].startswith("/"):
        return None
    host, method, template = parts[0].lower(), parts[1].upper(), parts[2]
    conn = store.conn
    row = conn.execute(
        "SELECT id, status, requests, first_seen, last_seen, statuses, sensitive "
        "FROM endpoints WHERE host = ? AND method = ? AND template = ?",
        (host, method, template),
    ).fetchone()
    if row is None:
        return None
    key = f"{host} {method} {template}"
    counts = conn.execute(
        "SELECT COUNT(DISTINCT credential_id), COUNT(DISTINCT client_ip) FROM sightings "
        "WHERE endpoint_id = ?",
        (row[0],),
    ).fetchone()
    facts = {
        "host": host,
        "method": method,
        "template": template,
        "status": row[1],
        "requests": row[2],
        "first_seen": iso(row[3]),
        "last_seen": iso(row[4]),
        "statuses": _loads(row[5], {}),
        "sensitive": _loads(row[6], {}),
        "credentials": int(counts[0]),
        "clients": int(counts[1]),
        "blocked": _blocked(conn, "endpoint", key),
    }
    return Subject("endpoint", key, key, facts)


def host_subject(store: Store, text: str) -> Subject | None:
    """A host (the service behind it) seen in traffic or in the inventory, or None."""
    host = text.strip().lower()
    if not host or " " in host:
        return None
    conn = store.conn
    traffic = conn.execute(
        "SELECT COUNT(*), MAX(tls), SUM(method IS NOT NULL), MIN(ts), MAX(ts) FROM exchanges "
        "WHERE host = ?",
        (host,),
    ).fetchone()
    statuses = dict(
        conn.execute(
            "SELECT status, COUNT(*) FROM endpoints WHERE host = ? GROUP BY status", (host,)
        ).fetchall()
    )
    if not traffic[0] and not statuses:
        return None
    spec = conn.execute(
        "SELECT s.title FROM spec_operations so JOIN specs s ON s.id = so.spec_id "
        "WHERE so.host = ? LIMIT 1",
        (host,),
    ).fetchone()
    facts = {
        "host": host,
        "tls": bool(traffic[1]),
        "requests": int(traffic[2] or 0),
        "endpoints": {str(k): int(v) for k, v in sorted(statuses.items())},
        "first_seen": iso(traffic[3]),
        "last_seen": iso(traffic[4]),
        "spec": spec[0] if spec else None,
    }
    return Subject("host", host, host, facts)


def client_subject(store: Store, text: str) -> Subject | None:
    """A client by IP address (as seen in traffic), or None."""
    try:
        address = str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None
    conn = store.conn
    row = conn.execute(
        "SELECT COUNT(*), MIN(ts), MAX(ts) FROM exchanges WHERE client_ip = ?", (address,)
    ).fetchone()
    sighted = conn.execute(
        "SELECT DISTINCT credential_id FROM sightings WHERE client_ip = ? ORDER BY credential_id",
        (address,),
    ).fetchall()
    if not row[0] and not sighted:
        return None
    hosts = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT host FROM exchanges WHERE client_ip = ? AND host IS NOT NULL "
            "ORDER BY host",
            (address,),
        )
    ]
    facts = {
        "address": address,
        "requests": int(row[0]),
        "first_seen": iso(row[1]),
        "last_seen": iso(row[2]),
        "credentials": [r[0] for r in sighted],
        "hosts": hosts,
    }
    return Subject("client", address, address, facts)


_LOOKUPS = {
    "credential": credential_subject,
    "identity": identity_subject,
    "endpoint": endpoint_subject,
    "host": host_subject,
    "client": client_subject,
}
