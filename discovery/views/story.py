"""A subject's story: who used it from where, what it reached, when, and each request in order.

One page shape for a credential, an identity, an endpoint, a client address and a host: the
subject's exchanges (its ``Scope``) grouped by source (client address; for a client, the
credentials it presented), grouped by endpoint with marks (shadow, zombie, privileged, sensitive,
blocked), its findings, its timeline (``views.timeline``) and its exchanges in time order, a
bounded page at a time (``exchange_page``, keyset on time). Every list is bounded; the counts
are SQLite's, so a credential with a million exchanges costs a few indexed scans, never a
million Python objects.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from discovery.analyse.findings.scopes import POWERFUL
from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.page import Page, Where, text_filter
from discovery.views.queries import blocked_subjects, finding_page
from discovery.views.rows import ExchangeRow, FindingRow, endpoint_key, loads
from discovery.views.timeline import (
    OK_SQL,
    REFUSED_SQL,
    Timeline,
    bucket_width,
    lanes_by_source,
    subject_markers,
)
from discovery.views.traffic import EXCHANGE_COLUMNS, exchange_row

STORY_TYPES = ("credential", "identity", "endpoint", "client", "host")
SOURCES = 50  # source rows a story lists (the busiest); ``Story.source_count`` counts them all
REACH = 50
FINDINGS = 50
EXCHANGES = 100
AGENTS = 3  # user agents / fingerprints kept per source
# path words that name an administrative area (a privileged endpoint, with or without a spec)
ADMIN_WORDS = frozenset(
    ("admin", "administrator", "internal", "debug", "manage", "management", "staff", "superuser")
)
# the exchange columns the ``/`` filter of a story's exchange list knows
EXCHANGE_FIELDS = {
    "client": "e.client_ip",
    "method": "e.method",
    "host": "e.host",
    "path": "e.raw_path",
    "status": "CAST(e.status AS TEXT)",
    "source": "e.source",
    "agent": "e.user_agent",
}
EXCHANGE_NUMBERS = {"status": "e.status", "id": "e.id"}
EXCHANGE_HAYSTACK = (
    "COALESCE(e.client_ip, '') || ' ' || COALESCE(e.method, '') || ' ' || COALESCE(e.host, '') "
    "|| ' ' || COALESCE(e.raw_path, '') || ' ' || COALESCE(e.status, '') || ' ' || e.evidence"
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which exchanges belong to a subject: a condition over ``exchanges e``."""

    type: str
    id: str
    sql: str
    args: tuple[object, ...]
    label: str = ""

    @property
    def where(self) -> Where:
        return Where((self.sql,), self.args)


def credential_scope(credential_id: str) -> Scope:
    """The exchanges that carried a credential (each once, whatever places it travelled in)."""
    return Scope(
        "credential",
        credential_id,
        "e.id IN (SELECT exchange_id FROM exchange_credentials WHERE credential_id = ?)",
        (credential_id,),
    )


def scope_for(store: Store, subject_type: str, subject_id: str) -> Scope | None:
    """The scope of a subject named by its type and canonical id, or None when the case has
    no such subject (``subjects.resolve_subject`` names subjects from what a user types).

    An endpoint or identity may also be named ``#N``, its row id: a key holding invalid UTF-8
    is read back with U+FFFD and no longer compares equal, its row id always does."""
    conn = store.conn
    by_row = subject_id[1:].isdigit() and subject_id.startswith("#")
    if subject_type == "credential":
        row = conn.execute(
            "SELECT kind || ' ' || redacted FROM credentials WHERE id = ?", (subject_id,)
        ).fetchone()
        return None if row is None else _labelled(credential_scope(subject_id), row[0])
    if subject_type == "identity":
        row = conn.execute(
            f"SELECT rowid, id, name FROM identities WHERE {'rowid' if by_row else 'id'} = ?",
            (int(subject_id[1:]) if by_row else subject_id,),
        ).fetchone()
        if row is None:
            return None
        return Scope(
            "identity",
            row[1],
            "e.id IN (SELECT exchange_id FROM exchange_credentials WHERE credential_id IN "
            "(SELECT id FROM credentials WHERE identity_id = "
            "(SELECT id FROM identities WHERE rowid = ?)))",
            (row[0],),
            row[2] or row[1],
        )
    if subject_type == "endpoint":
        if by_row:
            row = conn.execute(
                "SELECT id, host, method, template FROM endpoints WHERE id = ?",
                (int(subject_id[1:]),),
            ).fetchone()
        else:
            host, _, rest = subject_id.partition(" ")
            method, _, template = rest.partition(" ")
            row = conn.execute(
                "SELECT id, host, method, template FROM endpoints WHERE host = ? AND method = ? "
                "AND template = ?",
                (host, method, template),
            ).fetchone()
        if row is None:
            return None
        key = endpoint_key(row[1], row[2], row[3])
        return Scope("endpoint", key, "e.endpoint_id = ?", (row[0],), key)
    if subject_type == "client":
        row = conn.execute(
            "SELECT 1 FROM exchanges WHERE client_ip = ? LIMIT 1", (subject_id,)
        ).fetchone()
        return (
            None
            if row is None
            else Scope("client", subject_id, "e.client_ip = ?", (subject_id,), subject_id)
        )
    if subject_type == "host":
        row = conn.execute(
            "SELECT 1 FROM exchanges WHERE host = ? LIMIT 1", (subject_id,)
        ).fetchone()
        return (
            None
            if row is None
            else Scope("host", subject_id, "e.host = ?", (subject_id,), subject_id)
        )
    return None


def _labelled(scope: Scope, label: str) -> Scope:
    return Scope(scope.type, scope.id, scope.sql, scope.args, label)


# ---------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Totals:
    """How many requests a subject's exchanges hold, how they ended, and when."""

    requests: int
    successes: int
    refusals: int
    first_seen: float | None
    last_seen: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "successes": self.successes,
            "refusals": self.refusals,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
        }


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source of a subject's requests: a client address (for a client's own story, a
    credential it presented, or ``-`` for its requests without one)."""

    source: str
    requests: int
    successes: int
    refusals: int
    first_seen: float | None
    last_seen: float | None
    endpoints: int
    user_agents: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()  # JA4 of its TLS connections

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "requests": self.requests,
            "successes": self.successes,
            "refusals": self.refusals,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "endpoints": self.endpoints,
            "user_agents": list(self.user_agents),
            "fingerprints": list(self.fingerprints),
        }


@dataclass(frozen=True, slots=True)
class ReachRow:
    """An endpoint a subject's requests reached, its counts there and its marks."""

    endpoint_id: int
    host: str
    method: str
    template: str
    status: str
    requests: int
    successes: int
    refusals: int
    last_seen: float | None
    marks: tuple[str, ...] = ()  # shadow, zombie, privileged, sensitive, blocked

    @property
    def key(self) -> str:
        return endpoint_key(self.host, self.method, self.template)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "method": self.method,
            "template": self.template,
            "status": self.status,
            "requests": self.requests,
            "successes": self.successes,
            "refusals": self.refusals,
            "last_seen": iso(self.last_seen),
            "marks": list(self.marks),
        }


@dataclass(frozen=True, slots=True)
class Story:
    """A subject's page: totals, sources, reach, findings, the first exchanges, the timeline."""

    type: str
    id: str
    label: str
    totals: Totals
    sources: tuple[SourceRow, ...]
    source_count: int
    reach: tuple[ReachRow, ...]
    reach_count: int
    findings: tuple[FindingRow, ...]
    exchanges: Page[ExchangeRow]
    timeline: Timeline | None
    facts: dict[str, Any] = field(default_factory=dict)  # subject-specific (kind, identity...)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": {"type": self.type, "id": self.id, "label": self.label},
            **self.totals.to_json(),
            "facts": self.facts,
            "sources": [s.to_json() for s in self.sources],
            "endpoints": [r.to_json() for r in self.reach],
            "findings": [f.to_json() for f in self.findings],
            "timeline": self.timeline.to_json() if self.timeline else None,
        }


# ---------------------------------------------------------------- queries


def totals(store: Store, scope: Scope) -> Totals:
    """The subject's request count, successes, refusals, first and last times."""
    row = store.conn.execute(
        f"SELECT COUNT(*), SUM({OK_SQL}), SUM({REFUSED_SQL}), MIN(e.ts), MAX(e.ts) "
        f"FROM exchanges e WHERE {scope.sql}",
        scope.args,
    ).fetchone()
    return Totals(int(row[0]), int(row[1] or 0), int(row[2] or 0), row[3], row[4])


def sources(store: Store, scope: Scope, limit: int = SOURCES) -> tuple[tuple[SourceRow, ...], int]:
    """The subject's sources, busiest first (at most ``limit``), and how many there are."""
    if scope.type == "client":
        return _credentials_of_client(store, scope, limit)
    conn = store.conn
    found = conn.execute(
        f"SELECT COALESCE(e.client_ip, '-'), COUNT(*) AS n, SUM({OK_SQL}), SUM({REFUSED_SQL}), "
        "MIN(e.ts), MAX(e.ts), COUNT(DISTINCT e.endpoint_id) FROM exchanges e "
        f"WHERE {scope.sql} GROUP BY 1 ORDER BY n DESC, 1",
        scope.args,
    ).fetchall()
    shown = found[:limit]
    agents = _per_source(store, scope, "e.user_agent", {r[0] for r in shown})
    ja4 = _per_source(store, scope, "e.ja4", {r[0] for r in shown})
    rows = tuple(
        SourceRow(
            source=r[0],
            requests=int(r[1]),
            successes=int(r[2] or 0),
            refusals=int(r[3] or 0),
            first_seen=r[4],
            last_seen=r[5],
            endpoints=int(r[6]),
            user_agents=tuple(agents.get(r[0], ())),
            fingerprints=tuple(ja4.get(r[0], ())),
        )
        for r in shown
    )
    return rows, len(found)


def _per_source(store: Store, scope: Scope, column: str, wanted: set[str]) -> dict[str, list[str]]:
    """The most used values of ``column`` per source (``AGENTS`` each)."""
    out: dict[str, list[str]] = defaultdict(list)
    for source, value, _n in store.conn.execute(
        f"SELECT COALESCE(e.client_ip, '-'), {column}, COUNT(*) AS n FROM exchanges e "
        f"WHERE {scope.sql} AND {column} IS NOT NULL AND {column} != '' "
        "GROUP BY 1, 2 ORDER BY 1, n DESC",
        scope.args,
    ):
        if source in wanted and len(out[source]) < AGENTS:
            out[source].append(value)
    return out


def _credentials_of_client(
    store: Store, scope: Scope, limit: int
) -> tuple[tuple[SourceRow, ...], int]:
    """A client's sources: the credentials it presented, and ``-`` for requests with none."""
    found = store.conn.execute(
        f"SELECT COALESCE(ec.credential_id, '-'), COUNT(DISTINCT e.id) AS n, SUM({OK_SQL}), "
        f"SUM({REFUSED_SQL}), MIN(e.ts), MAX(e.ts), COUNT(DISTINCT e.endpoint_id), "
        "MAX(e.user_agent), MAX(e.ja4) FROM exchanges e "
        "LEFT JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        f"WHERE {scope.sql} GROUP BY 1 ORDER BY n DESC, 1",
        scope.args,
    ).fetchall()
    rows = tuple(
        SourceRow(
            source=r[0],
            requests=int(r[1]),
            successes=int(r[2] or 0),
            refusals=int(r[3] or 0),
            first_seen=r[4],
            last_seen=r[5],
            endpoints=int(r[6]),
            user_agents=(r[7],) if r[7] else (),
            fingerprints=(r[8],) if r[8] else (),
        )
        for r in found[:limit]
    )
    return rows, len(found)


def privileged(template: str, scopes: list[str] | None) -> bool:
    """An endpoint that administers something: its spec asks a powerful scope (write, delete,
    admin, ...) or a literal segment of its path names an administrative area (``/admin/``,
    ``/internal/``, ``/debug/``)."""
    if scopes and any(word in s.lower() for s in scopes for word in POWERFUL if word != "*"):
        return True
    segments = {s.lower() for s in template.split("/") if s and not s.startswith("{")}
    return bool(segments & ADMIN_WORDS)


def reach(store: Store, scope: Scope, limit: int = REACH) -> tuple[tuple[ReachRow, ...], int]:
    """The endpoints the subject's requests reached, busiest first, with counts and marks."""
    where = f"{scope.sql} AND e.endpoint_id IS NOT NULL"
    found = store.conn.execute(
        f"SELECT e.endpoint_id, COUNT(*) AS n, SUM({OK_SQL}), SUM({REFUSED_SQL}), MAX(e.ts) "
        f"FROM exchanges e WHERE {where} GROUP BY e.endpoint_id ORDER BY n DESC, 1",
        scope.args,
    ).fetchall()
    shown = found[:limit]
    if not shown:
        return (), 0
    meta = {
        r[0]: r[1:]
        for r in store.conn.execute(
            "SELECT ep.id, ep.host, ep.method, ep.template, ep.status, ep.sensitive, so.scopes "
            "FROM endpoints ep LEFT JOIN spec_operations so ON so.id = ep.spec_operation_id "
            "WHERE ep.id IN (SELECT value FROM json_each(?))",
            (json.dumps([r[0] for r in shown]),),
        )
    }
    blocked = blocked_subjects(store, "endpoint")
    rows = []
    for endpoint_id, n, ok, refused, last in shown:
        if endpoint_id not in meta:
            continue  # classified to an endpoint the inventory no longer holds
        host, method, template, status, sensitive, scopes = meta[endpoint_id]
        marks = [status] if status in ("shadow", "zombie") else []
        if privileged(template, loads(scopes, [])):
            marks.append("privileged")
        if loads(sensitive, {}):
            marks.append("sensitive")
        if endpoint_key(host, method, template) in blocked:
            marks.append("blocked")
        rows.append(
            ReachRow(
                endpoint_id=endpoint_id,
                host=host,
                method=method,
                template=template,
                status=status,
                requests=int(n),
                successes=int(ok or 0),
                refusals=int(refused or 0),
                last_seen=last,
                marks=tuple(marks),
            )
        )
    return tuple(rows), len(found)


def findings_of(store: Store, scope: Scope, limit: int = FINDINGS) -> tuple[FindingRow, ...]:
    """The findings about the subject (for a credential, also those about its identity)."""
    subjects: tuple[str, tuple[str, ...]] = (scope.type, (scope.id,))
    rows = list(finding_page(store, subjects=subjects, limit=limit).rows)
    if scope.type == "credential":
        holder = store.conn.execute(
            "SELECT identity_id FROM credentials WHERE id = ?", (scope.id,)
        ).fetchone()
        if holder and holder[0]:
            rows += finding_page(store, subjects=("identity", (holder[0],)), limit=limit).rows
    elif scope.type == "endpoint":
        rows += finding_page(store, subjects=("endpoint", (str(scope.args[0]),)), limit=limit).rows
    return tuple(rows[:limit])


def exchange_page(
    store: Store,
    scope: Scope,
    *,
    text: str = "",
    after: tuple[float, int] | None = None,
    limit: int = EXCHANGES,
    order: str = "ts",
    descending: bool = False,
) -> Page[ExchangeRow]:
    """The subject's exchanges in time order (``after``: the (ts, id) of the last row of the
    previous page), filtered by ``text`` (``client:``, ``method:``, ``path:``, ``status:>=400``).

    ``order`` ``ts`` pages by time; another column of ``EXCHANGE_NUMBERS``/``EXCHANGE_FIELDS``
    sorts the first ``limit`` rows by it (no keyset)."""
    where = scope.where + text_filter(
        text, EXCHANGE_HAYSTACK, EXCHANGE_FIELDS, numbers=EXCHANGE_NUMBERS
    )
    filtered = where
    direction = "DESC" if descending else "ASC"
    if order == "ts":
        if after is not None:
            op = "<" if descending else ">"
            where = where.and_(f"(e.ts, e.id) {op} (?, ?)", *after)
        order_by = f"e.ts {direction}, e.id {direction}"
    else:
        column = EXCHANGE_NUMBERS.get(order) or EXCHANGE_FIELDS.get(order)
        if column is None:
            raise ValueError(f"cannot sort exchanges by {order!r}")
        order_by = f"{column} {direction}, e.ts, e.id"
    columns = ", ".join(f"e.{c.strip()}" for c in EXCHANGE_COLUMNS.split(","))
    rows = tuple(
        exchange_row(r)
        for r in store.conn.execute(
            f"SELECT {columns} FROM exchanges e {where.sql} ORDER BY {order_by} LIMIT ?",
            (*where.args, limit),
        )
    )
    if after is None and len(rows) < limit:
        total = len(rows)
    else:
        total = int(
            store.conn.execute(
                f"SELECT COUNT(*) FROM exchanges e {filtered.sql}", filtered.args
            ).fetchone()[0]
        )
    return Page(rows, total, limit)


def subject_exchanges(
    store: Store,
    subject_type: str,
    subject_id: str,
    *,
    text: str = "",
    after: tuple[float, int] | None = None,
    limit: int = EXCHANGES,
    order: str = "ts",
    descending: bool = False,
) -> Page[ExchangeRow]:
    """A subject's exchanges (an empty page when the case has no such subject)."""
    scope = scope_for(store, subject_type, subject_id)
    if scope is None:
        return Page((), 0, limit)
    return exchange_page(
        store, scope, text=text, after=after, limit=limit, order=order, descending=descending
    )


def story(store: Store, subject_type: str, subject_id: str, *, buckets: int = 60) -> Story | None:
    """The story of one subject (None when the case holds no such subject)."""
    scope = scope_for(store, subject_type, subject_id)
    if scope is None:
        return None
    counted = totals(store, scope)
    source_rows, source_count = sources(store, scope)
    reach_rows, reach_count = reach(store, scope)
    timeline = None
    if counted.first_seen is not None and counted.last_seen is not None and buckets > 0:
        width = bucket_width(counted.first_seen, counted.last_seen, buckets)
        group_sql = "e.client_ip"
        # lanes in order of arrival: who used it first is on top
        first = [s.source for s in sorted(source_rows, key=lambda s: (s.first_seen or 0, s.source))]
        if scope.type == "client":
            group_sql = (
                "(SELECT MIN(credential_id) FROM exchange_credentials WHERE exchange_id = e.id)"
            )
        lanes = lanes_by_source(
            store,
            scope.sql,
            scope.args,
            counted.first_seen,
            width,
            buckets,
            group_sql=group_sql,
            first=first,
        )
        markers = (
            subject_markers(store, scope.type, scope.id)
            if scope.type in ("credential", "endpoint")
            else ()
        )
        timeline = Timeline(counted.first_seen, width, buckets, lanes, markers)
    return Story(
        type=scope.type,
        id=scope.id,
        label=scope.label or scope.id,
        totals=counted,
        sources=source_rows,
        source_count=source_count,
        reach=reach_rows,
        reach_count=reach_count,
        findings=findings_of(store, scope),
        exchanges=exchange_page(store, scope),
        timeline=timeline,
        facts=_facts(store, scope),
    )


def _facts(store: Store, scope: Scope) -> dict[str, Any]:
    """What a page header shows beside the counts (non-secret, as the case holds it)."""
    conn = store.conn
    if scope.type == "credential":
        row = conn.execute(
            "SELECT c.kind, c.redacted, c.identity_id, i.name, c.issued_at, c.expires_at, "
            "c.claims, (SELECT created_at FROM blocklist WHERE kind = 'credential' "
            "AND subject = c.id) FROM credentials c LEFT JOIN identities i "
            "ON i.id = c.identity_id WHERE c.id = ?",
            (scope.id,),
        ).fetchone()
        return {
            "kind": row[0],
            "redacted": row[1],
            "identity": row[2],
            "identity_name": row[3],
            "issued_at": row[4],
            "expires_at": row[5],
            "claims": loads(row[6], {}),
            "blocked_at": row[7],
        }
    if scope.type == "identity":
        row = conn.execute(
            "SELECT name, kind, owner, source, registered FROM identities WHERE rowid = ?",
            scope.args,
        ).fetchone()
        held = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM credentials WHERE identity_id = "
                "(SELECT id FROM identities WHERE rowid = ?) ORDER BY last_seen DESC LIMIT 50",
                scope.args,
            )
        ]
        return {
            "name": row[0],
            "kind": row[1],
            "owner": row[2],
            "source": row[3],
            "registered": bool(row[4]),
            "credentials": held,
        }
    if scope.type == "endpoint":
        row = conn.execute(
            "SELECT ep.status, ep.statuses, ep.sensitive, so.scopes, ep.template, "
            "(SELECT created_at FROM blocklist WHERE kind = 'endpoint' AND subject = ?) "
            "FROM endpoints ep LEFT JOIN spec_operations so ON so.id = ep.spec_operation_id "
            "WHERE ep.id = ?",
            (scope.id, scope.args[0]),
        ).fetchone()
        return {
            "status": row[0],
            "statuses": loads(row[1], {}),
            "sensitive": loads(row[2], {}),
            "privileged": privileged(row[4], loads(row[3], [])),
            "blocked_at": row[5],
        }
    return {}
