"""Read queries over the case, returning the documented JSON shapes (docs/cli.md).

The CLI and the console read through here; no SQL in commands or widgets.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso

ENDPOINT_STATUSES = ("documented", "shadow", "zombie", "orphan")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def hosts(store: Store) -> list[dict[str, Any]]:
    """Every host seen (TLS-only hosts included), with counts and the spec that documents it."""
    conn = store.conn
    endpoint_counts = dict(
        conn.execute(
            "SELECT host, COUNT(*) FROM endpoints WHERE status != 'orphan' GROUP BY host"
        ).fetchall()
    )
    spec_titles: dict[str, str] = {}
    for host, title in conn.execute(
        "SELECT DISTINCT so.host, s.title FROM spec_operations so JOIN specs s ON s.id = so.spec_id"
    ):
        spec_titles.setdefault(host, title)
    out = []
    for host, tls, requests, first, last in conn.execute(
        "SELECT host, MAX(tls), SUM(method IS NOT NULL), MIN(ts), MAX(ts) FROM exchanges "
        "WHERE host IS NOT NULL GROUP BY host ORDER BY host"
    ):
        out.append(
            {
                "host": host,
                "tls": bool(tls),
                "requests": int(requests or 0),
                "endpoints": int(endpoint_counts.get(host, 0)),
                "first_seen": iso(first),
                "last_seen": iso(last),
                "spec": spec_titles.get(host),
            }
        )
    return out


def endpoint_counts(store: Store) -> dict[str, int]:
    """How many endpoints the inventory holds of each status (every status named)."""
    counts = dict(store.conn.execute("SELECT status, COUNT(*) FROM endpoints GROUP BY status"))
    return {status: int(counts.get(status, 0)) for status in ENDPOINT_STATUSES}


def specs(store: Store) -> list[dict[str, Any]]:
    """The specs in the case, with their hosts and operation counts, in import order."""
    return [
        {
            "title": title,
            "version": version,
            "openapi_version": oas,
            "path": path,
            "hosts": json.loads(hosts),
            "operations": ops,
            "imported_at": iso(at),
        }
        for title, version, oas, path, hosts, at, ops in store.conn.execute(
            "SELECT s.title, s.version, s.openapi_version, s.path, s.hosts, s.imported_at, "
            "(SELECT COUNT(*) FROM spec_operations so WHERE so.spec_id = s.id) "
            "FROM specs s ORDER BY s.id"
        )
    ]


def endpoints(
    store: Store,
    statuses: list[str] | None = None,
    host: str | None = None,
    since: float | None = None,
) -> list[dict[str, Any]]:
    """The endpoint inventory (route-probing paths are never endpoints)."""
    conn = store.conn
    where: list[str] = []
    args: list[object] = []
    if statuses:
        where.append(f"status IN ({','.join('?' for _ in statuses)})")
        args.extend(statuses)
    if host:
        where.append("host = ?")
        args.append(host.lower())
    if since is not None:
        where.append("first_seen >= ?")
        args.append(since)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    creds: dict[int, list[str]] = defaultdict(list)
    for endpoint_id, credential in conn.execute(
        "SELECT DISTINCT endpoint_id, credential_id FROM sightings ORDER BY credential_id"
    ):
        creds[endpoint_id].append(credential)
    out = []
    for row in conn.execute(
        "SELECT id, host, method, template, status, requests, first_seen, last_seen, statuses "
        f"FROM endpoints {clause} ORDER BY host, template, method",
        args,
    ):
        out.append(
            {
                "host": row[1],
                "method": row[2],
                "template": row[3],
                "status": row[4],
                "requests": row[5],
                "first_seen": iso(row[6]),
                "last_seen": iso(row[7]),
                "statuses": json.loads(row[8]),
                "credentials": creds.get(row[0], []),
            }
        )
    return out


def _credential_rows(
    store: Store, where: str = "", args: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    conn = store.conn
    rows = conn.execute(
        "SELECT id, kind, redacted, identity_id, first_seen, last_seen, requests, issued_at, "
        f"expires_at, claims FROM credentials {where} ORDER BY first_seen, id",
        args,
    ).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    sources: dict[str, list[str]] = defaultdict(list)
    reached: dict[str, list[dict[str, str]]] = defaultdict(list)
    marks = ",".join("?" for _ in ids)
    for cid, client in conn.execute(
        "SELECT DISTINCT ec.credential_id, e.client_ip FROM exchange_credentials ec "
        f"JOIN exchanges e ON e.id = ec.exchange_id WHERE ec.credential_id IN ({marks}) "
        "AND e.client_ip IS NOT NULL ORDER BY e.client_ip",
        ids,
    ):
        sources[cid].append(client)
    for cid, host, method, template in conn.execute(
        "SELECT DISTINCT s.credential_id, ep.host, ep.method, ep.template FROM sightings s "
        f"JOIN endpoints ep ON ep.id = s.endpoint_id WHERE s.credential_id IN ({marks}) "
        "ORDER BY ep.host, ep.template, ep.method",
        ids,
    ):
        reached[cid].append({"host": host, "method": method, "template": template})
    return [
        {
            "id": r[0],
            "kind": r[1],
            "redacted": r[2],
            "identity": r[3],
            "first_seen": iso(r[4]),
            "last_seen": iso(r[5]),
            "requests": r[6],
            "sources": sources.get(r[0], []),
            "endpoints": reached.get(r[0], []),
            "issued_at": iso(r[7]),
            "expires_at": iso(r[8]),
            "claims": json.loads(r[9]),
        }
        for r in rows
    ]


def credentials(store: Store) -> list[dict[str, Any]]:
    """Every credential seen: redacted, with its identity, sources and endpoints reached."""
    return _credential_rows(store)


def credential(store: Store, credential_id: str) -> dict[str, Any] | None:
    """One credential by id, or None."""
    rows = _credential_rows(store, "WHERE id = ?", (credential_id,))
    return rows[0] if rows else None


def credential_by_fingerprint(store: Store, fingerprint: str) -> dict[str, Any] | None:
    """One credential by keyed fingerprint, or None."""
    rows = _credential_rows(store, "WHERE fingerprint = ?", (fingerprint,))
    return rows[0] if rows else None


def identities(store: Store) -> list[dict[str, Any]]:
    """Registered and observed identities, with owners and the credentials they hold."""
    conn = store.conn
    held: dict[str, list[str]] = defaultdict(list)
    requests: dict[str, int] = defaultdict(int)
    for cid, ident, count in conn.execute(
        "SELECT id, identity_id, requests FROM credentials ORDER BY id"
    ):
        held[ident].append(cid)
        requests[ident] += count
    out = []
    for row in conn.execute(
        "SELECT id, name, kind, owner, source, registered, first_seen, last_seen FROM identities "
        "ORDER BY registered DESC, id"
    ):
        out.append(
            {
                "id": row[0],
                "name": row[1],
                "kind": row[2],
                "owner": row[3],
                "source": row[4],
                "registered": bool(row[5]),
                "credentials": held.get(row[0], []),
                "requests": requests.get(row[0], 0),
                "first_seen": iso(row[6]),
                "last_seen": iso(row[7]),
            }
        )
    return out


def findings(
    store: Store, severity: str | None = None, rule: str | None = None
) -> list[dict[str, Any]]:
    """Findings, most severe first; ``severity`` keeps that level and above."""
    where: list[str] = []
    args: list[object] = []
    if severity:
        keep = [s for s, rank in SEVERITY_RANK.items() if rank <= SEVERITY_RANK[severity]]
        where.append(f"severity IN ({','.join('?' for _ in keep)})")
        args.extend(keep)
    if rule:
        where.append("rule = ?")
        args.append(rule)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = store.conn.execute(
        "SELECT id, rule, severity, title, subject_type, subject_id, evidence, first_seen, "
        f"last_seen FROM findings {clause}",
        args,
    ).fetchall()
    rows.sort(key=lambda r: (SEVERITY_RANK.get(r[2], 9), r[1], r[5]))
    return [
        {
            "id": r[0],
            "rule": r[1],
            "severity": r[2],
            "title": r[3],
            "subject": {"type": r[4], "id": r[5]},
            "evidence": json.loads(r[6]),
            "first_seen": iso(r[7]),
            "last_seen": iso(r[8]),
        }
        for r in rows
    ]
