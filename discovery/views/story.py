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
    MAX_BUCKETS,
    MAX_LANES,
    OK_SQL,
    OTHERS,
    REFUSED_SQL,
    Lane,
    Timeline,
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
# the orders a story's exchange list takes (path: the normalised path, which the host index
# holds; the raw path as sent differs only by what normalising folds)
EXCHANGE_SORTS = {
    "ts": "e.ts",
    "id": "e.id",
    "status": "e.status",
    "client": "e.client_ip",
    "method": "e.method",
    "path": "e.path",
    "host": "e.host",
    "source": "e.source",
    "agent": "e.user_agent",
}
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


@dataclass(slots=True)
class _Summary:
    """What the one pass over a subject's exchanges returned, section by section."""

    totals: Totals
    width: float
    source_count: int = 0
    sources: list[tuple[Any, ...]] = field(default_factory=list)
    agents: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    ja4: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    reach_count: int = 0
    reach: list[tuple[Any, ...]] = field(default_factory=list)
    lanes: list[tuple[Any, ...]] = field(default_factory=list)
    first: list[tuple[float, int]] = field(default_factory=list)


def summarise(store: Store, scope: Scope, buckets: int = 60) -> _Summary:
    """Every count of a subject's page from one read of its exchanges (``_summary_sql``)."""
    buckets = max(1, min(buckets, MAX_BUCKETS))
    rows = store.conn.execute(_summary_sql(scope, buckets), scope.args).fetchall()
    # an aggregate without GROUP BY always answers its one row
    _section, _key, width, n, ok, refused, first, last, _extra = next(
        r for r in rows if r[0] == "span"
    )
    out = _Summary(Totals(int(n), int(ok or 0), int(refused or 0), first, last), float(width))
    for section, key, value, n, ok, refused, first, last, extra in rows:
        if section == "sources":
            out.source_count = int(n)
        elif section == "source":
            out.sources.append((key, int(n), int(ok or 0), int(refused or 0), first, last, extra))
        elif section == "agent":
            out.agents[key].append((int(n), value))
        elif section == "ja4":
            out.ja4[key].append((int(n), value))
        elif section == "reaches":
            out.reach_count = int(n)
        elif section == "reach":
            out.reach.append((key, int(n), int(ok or 0), int(refused or 0), last))
        elif section == "lane":  # value: lane * buckets + bucket; lane 0: the others
            lane, bucket = divmod(int(value), buckets)
            out.lanes.append((lane, bucket, int(ok or 0), int(refused or 0)))
        elif section == "first":
            out.first.append((first, int(n)))
    out.sources.sort(key=lambda r: (-r[1], r[0]))
    out.reach.sort(key=lambda r: (-r[1], r[0]))
    out.first.sort()
    return out


def _most_used(values: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(v for _n, v in sorted(values, key=lambda nv: (-nv[0], nv[1]))[:AGENTS])


def _source_rows(summary: _Summary) -> tuple[SourceRow, ...]:
    return tuple(
        SourceRow(
            source=source,
            requests=n,
            successes=ok,
            refusals=refused,
            first_seen=first,
            last_seen=last,
            endpoints=int(endpoints or 0),
            user_agents=_most_used(summary.agents.get(source, [])),
            fingerprints=_most_used(summary.ja4.get(source, [])),
        )
        for source, n, ok, refused, first, last, endpoints in summary.sources
    )


def _lanes(summary: _Summary, sources: tuple[SourceRow, ...], buckets: int) -> tuple[Lane, ...]:
    """The timeline's lanes: the drawn sources in order of arrival (who used it first is on
    top), then the others together (``OTHERS``, only when they made any request)."""
    first = [s.source for s in sorted(sources, key=lambda s: (s.first_seen or 0, s.source))]
    drawn = first[: MAX_LANES - 1] if len(first) > MAX_LANES else first
    ok = {label: [0] * buckets for label in (*drawn, OTHERS)}
    refused = {label: [0] * buckets for label in (*drawn, OTHERS)}
    for lane, bucket, n_ok, n_refused in summary.lanes:  # lane n: drawn[n - 1]
        label = drawn[lane - 1] if 0 < lane <= len(drawn) else OTHERS
        b = min(max(bucket, 0), buckets - 1)
        ok[label][b] += n_ok
        refused[label][b] += n_refused
    lanes = [Lane(label, tuple(ok[label]), tuple(refused[label])) for label in drawn]
    others = Lane(OTHERS, tuple(ok[OTHERS]), tuple(refused[OTHERS]))
    if others.total:
        lanes.append(others)
    return tuple(lanes)


def _summary_sql(scope: Scope, buckets: int) -> str:
    """One statement that reads the subject's exchanges once (``s``, materialised) and groups
    them for every section of the page: totals, sources, their user agents and fingerprints,
    endpoints reached, timeline lanes and the first exchanges in time order.

    Every output row is ``(section, key, value, n, ok, refused, first, last, extra)``; each
    section is bounded (``SOURCES``, ``AGENTS`` per source, ``REACH``, ``MAX_LANES`` x
    ``buckets``, ``EXCHANGES``), so the rows returned stay few whatever the subject's size."""
    client = scope.type == "client"
    # a lane's source: the client address; for a client's own page the credential presented
    # (the least of them when a request carried several; ``-`` for none)
    lane_source = (
        "COALESCE((SELECT MIN(credential_id) FROM exchange_credentials "
        "WHERE exchange_id = e.id), '-')"
        if client
        else "COALESCE(e.client_ip, '-')"
    )
    # the rows sources are counted over: for a client, one per credential it presented
    by = (
        "by AS MATERIALIZED (SELECT DISTINCT s.id, s.ts, COALESCE(ec.credential_id, '-') AS src, "
        "s.ep, s.ok, s.ref, s.ua, s.ja4 FROM s LEFT JOIN exchange_credentials ec "
        "ON ec.exchange_id = s.id),"
        if client
        else "by AS (SELECT * FROM s),"
    )
    ranked = (
        "SELECT '{name}', src, {col}, n, NULL, NULL, NULL, NULL, NULL FROM ("
        "SELECT src, {col}, COUNT(*) AS n, ROW_NUMBER() OVER "
        "(PARTITION BY src ORDER BY COUNT(*) DESC, {col}) AS rank FROM by "
        "WHERE {col} IS NOT NULL AND {col} != '' AND src IN (SELECT src FROM shown) "
        "GROUP BY src, {col}) WHERE rank <= {AGENTS}"
    )
    return f"""
WITH s AS MATERIALIZED (
    SELECT e.id AS id, e.ts AS ts, {lane_source} AS src, e.endpoint_id AS ep,
           {OK_SQL} AS ok, {REFUSED_SQL} AS ref, e.user_agent AS ua, e.ja4 AS ja4
    FROM exchanges e WHERE {scope.sql}),
span AS MATERIALIZED (
    SELECT COUNT(*) AS n, SUM(ok) AS ok, SUM(ref) AS ref, MIN(ts) AS lo, MAX(ts) AS hi,
           CASE WHEN MAX(ts) > MIN(ts) THEN (MAX(ts) - MIN(ts)) / {buckets} ELSE 1.0 END AS width
    FROM s),
{by}
src AS MATERIALIZED (
    SELECT src, COUNT(*) AS n, SUM(ok) AS ok, SUM(ref) AS ref, MIN(ts) AS lo, MAX(ts) AS hi,
           COUNT(DISTINCT ep) AS eps
    FROM by GROUP BY src),
shown AS MATERIALIZED (SELECT * FROM src ORDER BY n DESC, src LIMIT {SOURCES}),
drawn AS MATERIALIZED (
    SELECT src, ROW_NUMBER() OVER (ORDER BY lo, src) AS lane FROM shown ORDER BY lo, src
    LIMIT CASE WHEN (SELECT COUNT(*) FROM shown) > {MAX_LANES} THEN {MAX_LANES - 1}
          ELSE {MAX_LANES} END)
SELECT 'span', NULL, width, n, ok, ref, lo, hi, NULL FROM span
UNION ALL SELECT 'sources', NULL, NULL, COUNT(*), NULL, NULL, NULL, NULL, NULL FROM src
UNION ALL SELECT 'source', src, NULL, n, ok, ref, lo, hi, eps FROM shown
UNION ALL {ranked.format(name="agent", col="ua", AGENTS=AGENTS)}
UNION ALL {ranked.format(name="ja4", col="ja4", AGENTS=AGENTS)}
UNION ALL SELECT 'reaches', NULL, NULL, COUNT(DISTINCT ep), NULL, NULL, NULL, NULL, NULL
    FROM s WHERE ep IS NOT NULL
UNION ALL SELECT 'reach', ep, NULL, n, ok, ref, NULL, hi, NULL FROM (
    SELECT ep, COUNT(*) AS n, SUM(ok) AS ok, SUM(ref) AS ref, MAX(ts) AS hi FROM s
    WHERE ep IS NOT NULL GROUP BY ep ORDER BY n DESC, ep LIMIT {REACH})
UNION ALL SELECT 'lane', NULL, cell, NULL, SUM(ok), SUM(ref), NULL, NULL, NULL FROM (
    SELECT COALESCE(drawn.lane, 0) * {buckets}
           + MIN(CAST((s.ts - span.lo) / span.width AS INTEGER), {buckets - 1}) AS cell,
           s.ok AS ok, s.ref AS ref
    FROM s CROSS JOIN span LEFT JOIN drawn ON drawn.src = s.src) GROUP BY cell
UNION ALL SELECT 'first', NULL, NULL, id, NULL, NULL, ts, NULL, NULL FROM (
    SELECT id, ts FROM s ORDER BY ts, id LIMIT {EXCHANGES})
"""


def privileged(template: str, scopes: list[str] | None) -> bool:
    """An endpoint that administers something: its spec asks a powerful scope (write, delete,
    admin, ...) or a literal segment of its path names an administrative area (``/admin/``,
    ``/internal/``, ``/debug/``)."""
    if scopes and any(word in s.lower() for s in scopes for word in POWERFUL if word != "*"):
        return True
    segments = {s.lower() for s in template.split("/") if s and not s.startswith("{")}
    return bool(segments & ADMIN_WORDS)


def _reach_rows(store: Store, shown: list[tuple[Any, ...]]) -> tuple[ReachRow, ...]:
    """The reached endpoints' rows (counted by the one pass) with their names and marks."""
    if not shown:
        return ()
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
    return tuple(rows)


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
    total: int | None = None,
) -> Page[ExchangeRow]:
    """The subject's exchanges in time order (``after``: the (ts, id) of the last row of the
    previous page), filtered by ``text`` (``client:``, ``method:``, ``path:``, ``status:>=400``).

    ``order`` ``ts`` pages by time; another column of ``EXCHANGE_SORTS`` sorts the first
    ``limit`` rows by it (no keyset). SQLite sorts: the page's ids are chosen first (from an
    index alone when one holds the scope and the sort key, as ``exchanges_host`` does for a
    host's status, method, path, time and client), then only those rows are read. ``total``:
    the count the caller already has for this filter (a new order of the same rows), not
    counted again."""
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
        column = EXCHANGE_SORTS.get(order)
        if column is None:
            raise ValueError(f"cannot sort exchanges by {order!r}")
        order_by = f"{column} {direction}, e.ts, e.id"
    columns = ", ".join(f"e.{c.strip()}" for c in EXCHANGE_COLUMNS.split(","))
    chosen = f"SELECT e.id FROM exchanges e {where.sql} ORDER BY {order_by} LIMIT ?"
    rows = tuple(
        exchange_row(r)
        for r in store.conn.execute(
            f"SELECT {columns} FROM exchanges e WHERE e.id IN ({chosen}) ORDER BY {order_by}",
            (*where.args, limit),
        )
    )
    if after is None and len(rows) < limit:
        total = len(rows)
    elif total is None:
        total = int(
            store.conn.execute(
                f"SELECT COUNT(*) FROM exchanges e {filtered.sql}", filtered.args
            ).fetchone()[0]
        )
    return Page(rows, total, limit)


def _exchanges_by_id(store: Store, first: list[tuple[float, int]]) -> tuple[ExchangeRow, ...]:
    """The rows of the exchanges the one pass found first, in its (time, id) order."""
    if not first:
        return ()
    columns = ", ".join(f"e.{c.strip()}" for c in EXCHANGE_COLUMNS.split(","))
    found = {
        r[0]: exchange_row(r)
        for r in store.conn.execute(
            f"SELECT {columns} FROM exchanges e WHERE e.id IN (SELECT value FROM json_each(?))",
            (json.dumps([i for _ts, i in first]),),
        )
    }
    return tuple(found[i] for _ts, i in first if i in found)


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
    total: int | None = None,
) -> Page[ExchangeRow]:
    """A subject's exchanges (an empty page when the case has no such subject)."""
    scope = scope_for(store, subject_type, subject_id)
    if scope is None:
        return Page((), 0, limit)
    return exchange_page(
        store,
        scope,
        text=text,
        after=after,
        limit=limit,
        order=order,
        descending=descending,
        total=total,
    )


def story(store: Store, subject_type: str, subject_id: str, *, buckets: int = 60) -> Story | None:
    """The story of one subject (None when the case holds no such subject).

    One read of the subject's exchanges counts every section (``summarise``); the rest are
    small lookups (the reached endpoints' names, findings, facts, the first page's rows)."""
    scope = scope_for(store, subject_type, subject_id)
    if scope is None:
        return None
    summary = summarise(store, scope, buckets if buckets > 0 else 1)
    counted = summary.totals
    source_rows = _source_rows(summary)
    timeline = None
    if counted.first_seen is not None and buckets > 0:
        buckets = max(1, min(buckets, MAX_BUCKETS))
        markers = (
            subject_markers(store, scope.type, scope.id)
            if scope.type in ("credential", "endpoint")
            else ()
        )
        lanes = _lanes(summary, source_rows, buckets)
        timeline = Timeline(counted.first_seen, summary.width, buckets, lanes, markers)
    return Story(
        type=scope.type,
        id=scope.id,
        label=scope.label or scope.id,
        totals=counted,
        sources=source_rows,
        source_count=summary.source_count,
        reach=_reach_rows(store, summary.reach),
        reach_count=summary.reach_count,
        findings=findings_of(store, scope),
        exchanges=Page(_exchanges_by_id(store, summary.first), counted.requests, EXCHANGES),
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
