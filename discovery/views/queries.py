"""The inventory as typed rows: hosts, endpoints, credentials, identities, findings, specs.

One query per list, shared by every reader: the CLI (``hosts``, ``endpoints``, ... and their
``--json``), the console (a ``Page`` per screen, filtered as the responder types) and the
runbooks. The functions named after a CLI command (``hosts``, ``endpoints``, ``credentials``,
``identities``, ``findings``) return its documented JSON shape (docs/cli.md), built from the
same typed rows, so the console and the CLI count the same rows by construction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from discovery import severity as severities
from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.page import (
    SEVERITY_ORDER,
    Page,
    Sort,
    Where,
    limit_sql,
    marks,
    order_sql,
    page_of,
    text_filter,
)
from discovery.views.rows import (
    CredentialRow,
    EndpointRef,
    EndpointRow,
    FindingRow,
    HostRow,
    IdentityRow,
    endpoint_key,
    loads,
)

ENDPOINT_STATUSES = ("documented", "shadow", "zombie", "orphan")
# A value bound as a JSON list, for IN over any number of values (no bound-variable limit).
_IN_JSON = "IN (SELECT value FROM json_each(?))"


def blocked_subjects(store: Store, kind: str) -> set[str]:
    """The subjects on the blocklist of one kind (credential ids, endpoint keys)."""
    return {
        r[0] for r in store.conn.execute("SELECT subject FROM blocklist WHERE kind = ?", (kind,))
    }


# ---------------------------------------------------------------- hosts


def host_rows(store: Store) -> list[HostRow]:
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
    return [
        HostRow(
            host=host,
            tls=bool(tls),
            requests=int(requests or 0),
            endpoints=int(endpoint_counts.get(host, 0)),
            first_seen=first,
            last_seen=last,
            spec=spec_titles.get(host),
        )
        for host, tls, requests, first, last in conn.execute(
            "SELECT host, MAX(tls), SUM(method IS NOT NULL), MIN(ts), MAX(ts) FROM exchanges "
            "WHERE host IS NOT NULL GROUP BY host ORDER BY host"
        )
    ]


def host_count(store: Store) -> int:
    """How many rows ``host_rows`` returns, from the host index alone (one step per host)."""
    row = store.conn.execute(
        "WITH RECURSIVE h(host) AS (SELECT MIN(host) FROM exchanges UNION ALL "
        "SELECT (SELECT MIN(host) FROM exchanges WHERE host > h.host) FROM h "
        "WHERE h.host IS NOT NULL) SELECT COUNT(host) FROM h"
    ).fetchone()
    return int(row[0])


def hosts(store: Store) -> list[dict[str, Any]]:
    """``hosts --json``."""
    return [r.to_json() for r in host_rows(store)]


# ---------------------------------------------------------------- endpoints

EndpointOrder = Literal["name", "busiest"]
_ENDPOINT_ORDER = {
    "name": "host, template, method",
    "busiest": "requests DESC, host, template, method",
}
# the columns a list may be sorted by (``Sort.column`` -> SQL expression)
ENDPOINT_SORTS = {
    "status": "status",
    "method": "method",
    "host": "host",
    "template": "template",
    "requests": "requests",
    "first_seen": "first_seen",
    "last_seen": "last_seen",
}


def endpoint_counts(store: Store) -> dict[str, int]:
    """How many endpoints the inventory holds of each status (every status named)."""
    counts = dict(store.conn.execute("SELECT status, COUNT(*) FROM endpoints GROUP BY status"))
    return {status: int(counts.get(status, 0)) for status in ENDPOINT_STATUSES}


def endpoint_page(
    store: Store,
    *,
    statuses: Sequence[str] | None = None,
    host: str | None = None,
    since: float | None = None,
    text: str = "",
    where: Where | None = None,
    order: EndpointOrder = "name",
    sort: Sort | None = None,
    limit: int | None = None,
    callers: bool = True,
) -> Page[EndpointRow]:
    """Endpoints of the inventory (route-probing paths are never endpoints).

    ``text`` is the filter language (``status:``, ``host:``, ``method:``, ``template:``);
    ``callers`` fills each row's credential ids (the CLI's list; a screen does without).
    """
    where = where or Where()
    if statuses:
        where = where.and_(f"status IN ({marks(statuses)})", *statuses)
    if host:
        where = where.and_("host = ?", host.lower())
    if since is not None:
        where = where.and_("first_seen >= ?", since)
    where += text_filter(
        text,
        "host || ' ' || method || ' ' || template || ' ' || status",
        {"status": "status", "host": "host", "method": "method", "template": "template"},
        numbers={"requests": "requests"},
    )
    limit_clause, limit_args = limit_sql(limit)
    order_by = order_sql(sort, ENDPOINT_SORTS, _ENDPOINT_ORDER[order], "host, template, method")
    found = store.conn.execute(
        "SELECT id, host, method, template, status, requests, first_seen, last_seen, statuses, "
        f"protocol, operation, outcomes FROM endpoints {where.sql} "
        f"ORDER BY {order_by} {limit_clause}",
        (*where.args, *limit_args),
    ).fetchall()
    ids = [r[0] for r in found]
    creds: dict[int, list[str]] = defaultdict(list)
    if callers and ids:
        for endpoint_id, credential in store.conn.execute(
            "SELECT DISTINCT endpoint_id, credential_id FROM sightings "
            f"WHERE endpoint_id {_IN_JSON} ORDER BY credential_id",
            (json.dumps(ids),),
        ):
            creds[endpoint_id].append(credential)
    blocked = blocked_subjects(store, "endpoint")
    rows = [
        EndpointRow(
            id=r[0],
            host=r[1],
            method=r[2],
            template=r[3],
            status=r[4],
            requests=int(r[5] or 0),
            first_seen=r[6],
            last_seen=r[7],
            statuses=loads(r[8], {}),
            credentials=tuple(creds.get(r[0], ())),
            blocked=endpoint_key(r[1], r[2], r[3]) in blocked,
            protocol=r[9],
            operation=r[10],
            outcomes=loads(r[11], {}) if r[9] else {},
        )
        for r in found
    ]
    return page_of(store, rows, limit, "endpoints", where)


def endpoint_row(store: Store, endpoint_id: int) -> EndpointRow | None:
    """One endpoint by its row id, with its callers, or None."""
    rows = endpoint_page(store, where=Where(("id = ?",), (endpoint_id,))).rows
    return rows[0] if rows else None


def endpoints(
    store: Store,
    statuses: list[str] | None = None,
    host: str | None = None,
    since: float | None = None,
) -> list[dict[str, Any]]:
    """``endpoints --json``: the endpoint inventory."""
    page = endpoint_page(store, statuses=statuses, host=host, since=since)
    return [r.to_json() for r in page.rows]


# ---------------------------------------------------------------- credentials

CredentialOrder = Literal["first_seen", "recent"]
MAX_FINGERPRINTS = 20  # JA4s and user agents listed per credential
_CREDENTIAL_ORDER = {"first_seen": "first_seen, id", "recent": "last_seen DESC, id"}
CREDENTIAL_SORTS = {
    "id": "id",
    "kind": "kind",
    "redacted": "redacted",
    "identity": "identity_id",
    "requests": "requests",
    "first_seen": "first_seen",
    "last_seen": "last_seen",
}


def credential_page(
    store: Store,
    *,
    text: str = "",
    where: Where | None = None,
    order: CredentialOrder = "first_seen",
    sort: Sort | None = None,
    limit: int | None = None,
    reach: bool = True,
) -> Page[CredentialRow]:
    """Credentials seen: redacted, with their identity (and, with ``reach``, the clients that
    presented them and the endpoints they reached). ``text``: ``kind:``, ``identity:``, ``id:``."""
    where = (where or Where()) + text_filter(
        text,
        "id || ' ' || kind || ' ' || redacted || ' ' || COALESCE(identity_id, '') || "
        "' ' || COALESCE(public_id, '')",
        {"kind": "kind", "identity": "identity_id", "id": "id"},
        numbers={"requests": "requests"},
    )
    limit_clause, limit_args = limit_sql(limit)
    order_by = order_sql(sort, CREDENTIAL_SORTS, _CREDENTIAL_ORDER[order], "id")
    conn = store.conn
    found = conn.execute(
        "SELECT id, kind, redacted, identity_id, first_seen, last_seen, requests, issued_at, "
        f"expires_at, claims, issued_by FROM credentials {where.sql} "
        f"ORDER BY {order_by} {limit_clause}",
        (*where.args, *limit_args),
    ).fetchall()
    sources: dict[str, list[str]] = defaultdict(list)
    reached: dict[str, list[EndpointRef]] = defaultdict(list)
    clients: dict[str, dict[str, list[str]]] = defaultdict(
        lambda: {"ja4": [], "ja4h": [], "user_agents": []}
    )
    if reach and found:
        ids = json.dumps([r[0] for r in found])
        for cid, client in conn.execute(
            "SELECT DISTINCT ec.credential_id, e.client_ip FROM exchange_credentials ec "
            f"JOIN exchanges e ON e.id = ec.exchange_id WHERE ec.credential_id {_IN_JSON} "
            "AND e.client_ip IS NOT NULL ORDER BY e.client_ip",
            (ids,),
        ):
            sources[cid].append(client)
        for cid, host, method, template in conn.execute(
            "SELECT DISTINCT s.credential_id, ep.host, ep.method, ep.template FROM sightings s "
            f"JOIN endpoints ep ON ep.id = s.endpoint_id WHERE s.credential_id {_IN_JSON} "
            "ORDER BY ep.host, ep.template, ep.method",
            (ids,),
        ):
            reached[cid].append(EndpointRef(host, method, template))
        for cid, ja4, ja4h, agent in conn.execute(
            "SELECT DISTINCT ec.credential_id, e.ja4, e.ja4h, e.user_agent FROM "
            f"exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
            f"WHERE ec.credential_id {_IN_JSON} AND (e.ja4 IS NOT NULL OR e.ja4h IS NOT NULL "
            "OR e.user_agent IS NOT NULL) ORDER BY e.ja4, e.ja4h, e.user_agent",
            (ids,),
        ):
            seen = clients[cid]
            for key, value in (("ja4", ja4), ("ja4h", ja4h), ("user_agents", agent)):
                if value and value not in seen[key] and len(seen[key]) < MAX_FINGERPRINTS:
                    seen[key].append(value)
    blocked = blocked_subjects(store, "credential")
    rows = [
        CredentialRow(
            id=r[0],
            kind=r[1],
            redacted=r[2],
            identity=r[3],
            first_seen=r[4],
            last_seen=r[5],
            requests=int(r[6] or 0),
            issued_at=r[7],
            expires_at=r[8],
            claims=loads(r[9], {}),
            sources=tuple(sources.get(r[0], ())),
            endpoints=tuple(reached.get(r[0], ())),
            blocked=r[0] in blocked,
            issued_by=r[10],
            fingerprints={k: tuple(v) for k, v in clients[r[0]].items()} if r[0] in clients else {},
        )
        for r in found
    ]
    return page_of(store, rows, limit, "credentials", where)


def credential_row(store: Store, credential_id: str) -> CredentialRow | None:
    """One credential by id, or None."""
    rows = credential_page(store, where=Where(("id = ?",), (credential_id,))).rows
    return rows[0] if rows else None


def credential_fingerprint(store: Store, credential_id: str) -> str | None:
    """The keyed fingerprint of a credential (what the blocklist and the vault check), or None."""
    row = store.conn.execute(
        "SELECT fingerprint FROM credentials WHERE id = ?", (credential_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def credentials(store: Store) -> list[dict[str, Any]]:
    """``credentials --json``: every credential seen, redacted, with its sources and reach."""
    return [r.to_json() for r in credential_page(store).rows]


def credential_by_fingerprint(store: Store, fingerprint: str) -> dict[str, Any] | None:
    """One credential by keyed fingerprint in the ``credentials --json`` shape, or None: its
    own fingerprint, or that of a secret part it is made of (the password of a Basic pair, the
    token of ``id:token``: ``credential_aliases``)."""
    rows = credential_page(store, where=Where(("fingerprint = ?",), (fingerprint,))).rows
    if not rows:
        alias = "id IN (SELECT credential_id FROM credential_aliases WHERE fingerprint = ?)"
        rows = credential_page(store, where=Where((alias,), (fingerprint,))).rows
    return rows[0].to_json() if rows else None


def issued_token_by_fingerprint(store: Store, fingerprint: str) -> dict[str, Any] | None:
    """The first issuance of a token by keyed fingerprint, or None: a token an OAuth token
    response in the case issued (whether or not it was presented afterwards), with the client
    that obtained it, the grant, the token endpoint and when."""
    row = store.conn.execute(
        "SELECT it.credential_id, it.name, it.kind, it.redacted, it.claims, e.ts, e.client_ip "
        "FROM issued_tokens it JOIN exchanges e ON e.id = it.exchange_id "
        "WHERE it.fingerprint = ? ORDER BY e.ts, e.id LIMIT 1",
        (fingerprint,),
    ).fetchone()
    if row is None:
        return None
    claims = loads(row[4], {})
    return {
        "credential_id": row[0],
        "name": row[1],
        "kind": row[2],
        "redacted": row[3],
        "issued_by": claims.get("issued_by"),
        "client_id": claims.get("client_id"),
        "grant_type": claims.get("grant_type"),
        "token_endpoint": claims.get("token_endpoint"),
        "issued_at": iso(row[5]),
        "issued_to": row[6],
    }


# ---------------------------------------------------------------- identities

IdentityOrder = Literal["registered_first", "unregistered_first"]
_IDENTITY_ORDER = {
    "registered_first": "i.registered DESC, i.id",
    "unregistered_first": "i.registered, i.last_seen DESC, i.id",
}
IDENTITY_SORTS = {
    "registered": "i.registered",
    "name": "i.name",
    "source": "i.source",
    "owner": "i.owner",
    "first_seen": "i.first_seen",
    "last_seen": "i.last_seen",
}


def identity_page(
    store: Store,
    *,
    text: str = "",
    where: Where | None = None,
    order: IdentityOrder = "registered_first",
    sort: Sort | None = None,
    limit: int | None = None,
) -> Page[IdentityRow]:
    """Registered and observed identities with the credentials they hold.

    ``text``: plain words match id, name, source, owner, kind and ``registered`` /
    ``unregistered``; ``source:``, ``owner:``, ``kind:``, ``id:`` match one column."""
    where = (where or Where()) + text_filter(
        text,
        "i.id || ' ' || i.name || ' ' || i.source || ' ' || COALESCE(i.owner, '') || ' ' || "
        "COALESCE(i.kind, '') || ' ' || CASE i.registered WHEN 1 THEN 'registered' "
        "ELSE 'unregistered' END",
        {"source": "i.source", "owner": "i.owner", "kind": "i.kind", "id": "i.id"},
    )
    limit_clause, limit_args = limit_sql(limit)
    conn = store.conn
    found = conn.execute(
        "SELECT i.rowid, i.id, i.name, i.kind, i.owner, i.source, i.registered, i.first_seen, "
        f"i.last_seen FROM identities i {where.sql} "
        f"ORDER BY {order_sql(sort, IDENTITY_SORTS, _IDENTITY_ORDER[order], 'i.id')} "
        f"{limit_clause}",
        (*where.args, *limit_args),
    ).fetchall()
    held: dict[str, list[str]] = defaultdict(list)
    requests: dict[str, int] = defaultdict(int)
    if found:
        for cid, ident, count in conn.execute(
            "SELECT c.id, i.id, c.requests FROM identities i JOIN credentials c "
            f"ON c.identity_id = i.id WHERE i.rowid {_IN_JSON} ORDER BY c.id",
            (json.dumps([r[0] for r in found]),),
        ):
            held[ident].append(cid)
            requests[ident] += int(count or 0)
    issued: dict[str, int] = {}
    if found:
        issued = dict(
            conn.execute(
                "SELECT json_extract(claims, '$.issued_by'), COUNT(DISTINCT credential_id) "
                "FROM issued_tokens WHERE json_extract(claims, '$.issued_by') IS NOT NULL "
                "GROUP BY 1"
            ).fetchall()
        )
        for ident, count in conn.execute(  # tokens whose client the lineage resolved
            "SELECT c.issued_by, COUNT(*) FROM credentials c WHERE c.issued_by IS NOT NULL "
            "AND c.id IN (SELECT credential_id FROM issued_tokens WHERE "
            "json_extract(claims, '$.issued_by') IS NULL) GROUP BY 1"
        ):
            issued[ident] = issued.get(ident, 0) + int(count)
    rows = [
        IdentityRow(
            id=r[1],
            name=r[2],
            kind=r[3],
            owner=r[4],
            source=r[5],
            registered=bool(r[6]),
            first_seen=r[7],
            last_seen=r[8],
            credentials=tuple(held.get(r[1], ())),
            requests=requests.get(r[1], 0),
            rowid=r[0],
            issued_tokens=issued.get(r[1], 0),
        )
        for r in found
    ]
    return page_of(store, rows, limit, "identities i", where)


def identities(store: Store) -> list[dict[str, Any]]:
    """``identities --json``: registered and observed identities, with what they hold."""
    return [r.to_json() for r in identity_page(store).rows]


# ---------------------------------------------------------------- findings

_FINDING_ORDER = f"{SEVERITY_ORDER}, rule, subject_id"
FINDING_SORTS = {
    "severity": SEVERITY_ORDER,
    "rule": "rule",
    "title": "title",
    "subject": "subject_type || ' ' || subject_id",
    "last_seen": "last_seen",
}


def rule_names(store: Store) -> list[str]:
    """Every rule id findings can carry: the registered rules, and any other the case's
    findings name (a case written by a later version)."""
    from discovery.analyse.findings import load_rules

    names = set(load_rules())
    names.update(r[0] for r in store.conn.execute("SELECT DISTINCT rule FROM findings"))
    return sorted(names)


def finding_page(
    store: Store,
    *,
    severity: str | None = None,
    rule: str | None = None,
    subjects: tuple[str, Iterable[str]] | None = None,
    text: str = "",
    where: Where | None = None,
    sort: Sort | None = None,
    limit: int | None = None,
) -> Page[FindingRow]:
    """Findings, most severe first; ``severity`` keeps that level and above, ``subjects`` the
    findings about (type, ids); ``text``: ``severity:``, ``rule:``, ``subject:``, ``id:``."""
    where = where or Where()
    if severity:
        keep = severities.at_least(severity)
        where = where.and_(f"severity IN ({marks(keep)})", *keep)
    if rule:
        where = where.and_("rule = ?", rule)
    if subjects is not None:
        kind, ids = subjects
        where = where.and_(
            f"subject_type = ? AND subject_id {_IN_JSON}", kind, json.dumps(list(ids))
        )
    where += text_filter(
        text,
        "rule || ' ' || severity || ' ' || title || ' ' || subject_type || ' ' || subject_id",
        {"severity": "severity", "rule": "rule", "subject": "subject_id", "id": "id"},
    )
    limit_clause, limit_args = limit_sql(limit)
    found = store.conn.execute(
        "SELECT id, rule, severity, title, subject_type, subject_id, evidence, first_seen, "
        f"last_seen, created_at FROM findings {where.sql} "
        f"ORDER BY {order_sql(sort, FINDING_SORTS, _FINDING_ORDER, 'rule, subject_id')} "
        f"{limit_clause}",
        (*where.args, *limit_args),
    ).fetchall()
    rows = [
        FindingRow(
            id=r[0],
            rule=r[1],
            severity=r[2],
            title=r[3],
            subject_type=r[4],
            subject_id=r[5],
            evidence=loads(r[6], {}),
            first_seen=r[7],
            last_seen=r[8],
            created_at=r[9],
        )
        for r in found
    ]
    return page_of(store, rows, limit, "findings", where)


def findings(
    store: Store, severity: str | None = None, rule: str | None = None
) -> list[dict[str, Any]]:
    """``findings --json``: most severe first; ``severity`` keeps that level and above."""
    return [r.to_json() for r in finding_page(store, severity=severity, rule=rule).rows]


# ---------------------------------------------------------------- specs


def specs(store: Store) -> list[dict[str, Any]]:
    """The specs in the case, with their hosts and operation counts, in import order."""
    return [
        {
            "title": title,
            "version": version,
            "openapi_version": oas,
            "path": path,
            "hosts": loads(hosts, []),
            "operations": ops,
            "imported_at": iso(at),
        }
        for title, version, oas, path, hosts, at, ops in store.conn.execute(
            "SELECT s.title, s.version, s.openapi_version, s.path, s.hosts, s.imported_at, "
            "(SELECT COUNT(*) FROM spec_operations so WHERE so.spec_id = s.id) "
            "FROM specs s ORDER BY s.id"
        )
    ]
