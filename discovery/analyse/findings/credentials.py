"""Findings about credentials and identities (docs/findings.md).

Every rule reads the case as it is now and yields findings with counts, first/last time and a
few evidence references (input file + frames / flow / entry) so each can be traced to packets.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from discovery.analyse.findings import PREPARE, Finding, rule, shared
from discovery.case.store import Store
from discovery.timeutil import iso

DAY = 86400.0
SAMPLES = 5
MAX_LISTED = 50  # evidence lists (sources, credentials) keep the first ones and a count
SUCCESS = "e.status BETWEEN 200 AND 399"
HIGH_RISK_DATA = ("private_key", "payment_card")
# Kinds whose secret half never travels in a request: cleartext transport does not expose them.
NOT_SENT_SECRETS = ("aws_sigv4", "aws_sigv2", "digest", "signed_request")


def samples(store: Store, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """A few evidence references of the exchanges matching ``where`` (alias ``e``/``ec``)."""
    rows = store.conn.execute(
        "SELECT e.ts, e.evidence, i.path, e.source FROM exchanges e "
        "JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        "LEFT JOIN inputs i ON i.id = e.input_id "
        f"WHERE {where} GROUP BY e.id ORDER BY e.ts LIMIT {SAMPLES}",
        args,
    ).fetchall()
    return [
        {"time": iso(ts), "evidence": ev, "input": path or source} for ts, ev, path, source in rows
    ]


def _credential(store: Store, cid: str) -> tuple[str, str, str | None]:
    row = store.conn.execute(
        "SELECT kind, redacted, identity_id FROM credentials WHERE id = ?", (cid,)
    ).fetchone()
    return (row[0], row[1], row[2]) if row else ("?", "?", None)


@rule("long_lived_token", traffic_only=True, long_lived_token_days=7.0)
def long_lived_token(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A token valid for longer than the register allows its identity, or than the default."""
    default = limits["long_lived_token_days"] * DAY
    for (
        cid,
        kind,
        redacted,
        ident,
        issued,
        expires,
        claims,
        first,
        last,
        requests,
        max_life,
    ) in store.conn.execute(
        "SELECT c.id, c.kind, c.redacted, c.identity_id, c.issued_at, c.expires_at, c.claims,"
        " c.first_seen, c.last_seen, c.requests, i.max_token_lifetime FROM credentials c "
        "LEFT JOIN identities i ON i.id = c.identity_id WHERE c.issued_at IS NOT NULL "
        "OR c.expires_at IS NOT NULL"
    ):
        limit, source = (max_life, "register") if max_life else (default, "default")
        start = issued if issued is not None else json.loads(claims).get("nbf")
        if expires is None:
            lifetime = None  # issued but never expires
        elif start is None:
            continue
        else:
            lifetime = expires - start
            if lifetime <= limit:
                continue
        yield Finding(
            rule="long_lived_token",
            severity="high" if lifetime is None else "medium",
            title=(
                f"{kind} {redacted} never expires"
                if lifetime is None
                else f"{kind} {redacted} is valid for {lifetime / DAY:.1f} days "
                f"(limit {limit / DAY:g} days)"
            ),
            subject_type="credential",
            subject_id=cid,
            evidence={
                "lifetime_days": None if lifetime is None else round(lifetime / DAY, 2),
                "limit_days": round(limit / DAY, 2),
                "limit_from": source,
                "identity": ident,
                "issued_at": iso(start),
                "expires_at": iso(expires),
                "requests": requests,
                "samples": samples(store, "ec.credential_id = ?", (cid,)),
            },
            first_seen=first,
            last_seen=last,
        )


@rule("expired_token_in_use", traffic_only=True, expired_token_grace_seconds=300.0)
def expired_token_in_use(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A token used after its ``exp`` and still answered with success: expiry is not enforced."""
    grace = limits["expired_token_grace_seconds"]
    for cid, expires, ok, rejected, first, last in store.conn.execute(
        # from the credentials with an expiry (CROSS JOIN keeps that order): only their
        # exchanges are read, not every credential's
        f"SELECT c.id, c.expires_at, SUM({SUCCESS}), SUM(e.status >= 400), MIN(e.ts), MAX(e.ts) "
        "FROM credentials c CROSS JOIN exchange_credentials ec ON ec.credential_id = c.id "
        "CROSS JOIN exchanges e ON e.id = ec.exchange_id "
        "WHERE c.expires_at IS NOT NULL AND e.ts > c.expires_at + ? GROUP BY c.id",
        (grace,),
    ):
        if not ok:
            continue  # used after expiry but refused: the server did its job
        kind, redacted, ident = _credential(store, cid)
        yield Finding(
            rule="expired_token_in_use",
            severity="high",
            title=f"expired {kind} {redacted} still accepted ({ok} successful requests)",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "expired_at": iso(expires),
                "successful_after_expiry": ok,
                "refused_after_expiry": rejected or 0,
                "identity": ident,
                "days_past_expiry": round((last - expires) / DAY, 2),
                "samples": samples(
                    store,
                    f"ec.credential_id = ? AND e.ts > ? AND {SUCCESS}",
                    (cid, expires + grace),
                ),
            },
            first_seen=first,
            last_seen=last,
        )


@rule("credential_in_query", traffic_only=True)
def credential_in_query(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A credential sent in the URL, where logs, proxies and Referer headers keep it."""
    for cid, names, count, cleartext, first, last in store.conn.execute(
        "SELECT ec.credential_id, GROUP_CONCAT(DISTINCT ec.name), COUNT(*), SUM(e.tls = 0), "
        "MIN(e.ts), MAX(e.ts) FROM exchange_credentials ec "
        "JOIN exchanges e ON e.id = ec.exchange_id JOIN credentials c ON c.id = ec.credential_id "
        # a presigned URL is meant to travel in the query (the signing key does not)
        "WHERE ec.location = 'query' AND c.kind NOT IN ('aws_sigv4', 'aws_sigv2') "
        "GROUP BY ec.credential_id"
    ):
        kind, redacted, ident = _credential(store, cid)
        yield Finding(
            rule="credential_in_query",
            severity="high" if cleartext else "medium",
            title=f"{kind} {redacted} sent in the query string ({count} requests)",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "parameters": sorted(names.split(",")),
                "requests": count,
                "over_cleartext": cleartext or 0,
                "identity": ident,
                "samples": samples(store, "ec.credential_id = ? AND ec.location = 'query'", (cid,)),
            },
            first_seen=first,
            last_seen=last,
        )


@rule("cleartext_credential", traffic_only=True)
def cleartext_credential(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A reusable secret sent over plain HTTP, readable by anyone on the path."""
    for cid, count, hosts, first, last in store.conn.execute(
        "SELECT ec.credential_id, COUNT(DISTINCT e.id), GROUP_CONCAT(DISTINCT e.host), MIN(e.ts),"
        " MAX(e.ts) FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
        "JOIN credentials c ON c.id = ec.credential_id "
        f"WHERE e.tls = 0 AND c.kind NOT IN ({','.join('?' for _ in NOT_SENT_SECRETS)}) "
        "GROUP BY ec.credential_id",
        NOT_SENT_SECRETS,
    ):
        kind, redacted, ident = _credential(store, cid)
        yield Finding(
            rule="cleartext_credential",
            severity="high",
            title=f"{kind} {redacted} sent over cleartext HTTP ({count} requests)",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "requests": count,
                "hosts": sorted((hosts or "").split(",")),
                "identity": ident,
                "samples": samples(store, "ec.credential_id = ? AND e.tls = 0", (cid,)),
            },
            first_seen=first,
            last_seen=last,
        )


# One pass over the credentials' traffic, grouped by everything the client rules group it by:
# (credential, JA4, user agent, client address, a request or not), with the first and last time
# and the count. SQL's ranks of the credential, of (JA4, user agent) and of the client address
# say which groups SQL holds equal (two byte strings that decode to one text stay apart).
_CREDENTIAL_CLIENTS = (
    "SELECT ec.credential_id, e.ja4, e.user_agent, e.client_ip, e.method IS NOT NULL, "
    "MIN(e.ts), MAX(e.ts), COUNT(*), DENSE_RANK() OVER (ORDER BY ec.credential_id), "
    "DENSE_RANK() OVER (ORDER BY e.ja4, e.user_agent), DENSE_RANK() OVER (ORDER BY e.client_ip) "
    "FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
    "WHERE e.method IS NOT NULL OR e.client_ip IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
)
_CID, _JA4, _AGENT, _CLIENT, _REQUEST, _FIRST, _LAST, _COUNT = range(8)
_CID_RANK, _TOOL_RANK, _CLIENT_RANK = 8, 9, 10


def _credential_clients(store: Store) -> list[tuple[Any, ...]]:
    return store.conn.execute(_CREDENTIAL_CLIENTS).fetchall()


def credential_groups(store: Store, by: str) -> list[tuple[Any, ...]]:
    """The credentials' traffic grouped as ``GROUP BY credential_id, <by>`` would, in that
    order: ``by`` "tool" gives (credential, ja4, user agent, first, last, count) of requests,
    "client" (credential, client address, first, last, count) of exchanges from a known
    address. Shared by the rules that group it (one pass over the traffic)."""
    rows = shared("credential_clients", store, _credential_clients)
    tools = by == "tool"
    rank, values = (_TOOL_RANK, (_JA4, _AGENT)) if tools else (_CLIENT_RANK, (_CLIENT,))
    groups: dict[tuple[int, int], list[Any]] = {}
    for row in rows:
        if (not row[_REQUEST]) if tools else (row[_CLIENT] is None):
            continue  # (tools: requests only; clients: a known address)
        key = (row[_CID_RANK], row[rank])
        group = groups.get(key)
        if group is None:
            groups[key] = [
                row[_CID],
                *(row[i] for i in values),
                row[_FIRST],
                row[_LAST],
                row[_COUNT],
            ]
        else:
            group[-3] = min(group[-3], row[_FIRST])
            group[-2] = max(group[-2], row[_LAST])
            group[-1] += row[_COUNT]
    return [tuple(groups[key]) for key in sorted(groups)]


@rule("credential_multiple_sources", traffic_only=True, multiple_sources_min=2.0)
def credential_multiple_sources(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """One credential presented from several client addresses: shared, copied or leaked."""
    minimum = int(limits["multiple_sources_min"])
    per: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for cid, client, first, last, _count in credential_groups(store, "client"):
        per[cid][client] = [first, last]
    for cid, clients in per.items():
        if len(clients) < minimum:
            continue
        kind, redacted, ident = _credential(store, cid)
        ordered = sorted(clients.items(), key=lambda kv: kv[1][0])
        yield Finding(
            rule="credential_multiple_sources",
            severity="medium",
            title=f"{kind} {redacted} used from {len(clients)} client addresses",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "source_count": len(ordered),
                "sources": [
                    {"client": c, "first_seen": iso(f), "last_seen": iso(la)}
                    for c, (f, la) in ordered[:MAX_LISTED]
                ],
                "identity": ident,
                "samples": samples(store, "ec.credential_id = ?", (cid,)),
            },
            first_seen=ordered[0][1][0],
            last_seen=max(v[1] for v in clients.values()),
        )


@rule("unregistered_identity", traffic_only=True)
def unregistered_identity(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """An identity calling APIs that the register (once one is imported) does not name."""
    conn = store.conn
    if not conn.execute("SELECT 1 FROM identities WHERE registered = 1 LIMIT 1").fetchone():
        return  # no register: every identity would be "unregistered"; nothing to compare with
    for ident, name, source, first, last in conn.execute(
        "SELECT id, name, source, first_seen, last_seen FROM identities WHERE registered = 0"
    ):
        creds = conn.execute(
            "SELECT id, kind, redacted, requests FROM credentials WHERE identity_id = ? "
            "ORDER BY id",
            (ident,),
        ).fetchall()
        if not creds:
            continue
        yield Finding(
            rule="unregistered_identity",
            severity="medium",
            title=f"identity {name} is not in the register ({len(creds)} credentials)",
            subject_type="identity",
            subject_id=ident,
            evidence={
                "source": source,
                "requests": sum(c[3] for c in creds),
                "credential_count": len(creds),
                "credentials": [
                    {"id": c[0], "kind": c[1], "redacted": c[2]} for c in creds[:MAX_LISTED]
                ],
                "samples": samples(
                    store,
                    "ec.credential_id IN (SELECT id FROM credentials WHERE identity_id = ?)",
                    (ident,),
                ),
            },
            first_seen=first,
            last_seen=last,
        )


_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{24,64}|[A-Za-z]{2,5}-\d[\d-]{3,})$"
)


@lru_cache(maxsize=4096)
def _slots(template: str) -> tuple[int, tuple[int, ...]]:
    """A template's segment count and the positions of its ``{…}`` segments."""
    parts = template.strip("/").split("/")
    return len(parts), tuple(i for i, p in enumerate(parts) if p.startswith("{"))


def object_ids(path: str, template: str | None) -> tuple[str, str] | None:
    """(template, object id) of a path: the values at the template's ``{…}`` segments, or, when
    no endpoint is known yet, at id-like segments."""
    segments = path.strip("/").split("/")
    if template:
        count, slots = _slots(template)
        if count == len(segments):
            return (template, "/".join([segments[i] for i in slots])) if slots else None
    ids = [s for s in segments if _ID_SEGMENT.match(s)]
    if not ids:
        return None
    guessed = "/" + "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in segments)
    return guessed, "/".join(ids)


def max_distinct_in_window(events: Iterable[tuple[float, str]], window: float) -> tuple[int, float]:
    """The most distinct ids seen within any ``window`` seconds, and where that window starts."""
    seen: Counter[str] = Counter()
    queue: deque[tuple[float, str]] = deque()
    best, best_start = 0, 0.0
    for ts, oid in events:
        queue.append((ts, oid))
        seen[oid] += 1
        while queue and queue[0][0] < ts - window:
            _, old = queue.popleft()
            seen[old] -= 1
            if not seen[old]:
                del seen[old]
        if len(seen) > best:
            best, best_start = len(seen), queue[0][0]
    return best, best_start


class _Walk:
    """One (identity, endpoint)'s requests in time order, compactly: timestamps in an array,
    ids shared between requests, statuses counted as they come (memory per request: ~16 bytes)."""

    __slots__ = ("oids", "statuses", "times")

    def __init__(self) -> None:
        self.times = array("d")
        self.oids: list[str] = []
        self.statuses: Counter[str] = Counter()


def _walkers(store: Store, limits: dict[str, float]) -> str:
    """The (identity, host, method)s with at least ``enumeration_distinct_ids`` distinct paths,
    in a temporary table (kept in SQL, compared as a subquery's rows would be), made once:
    only those can walk that many ids of one endpoint. Reads no endpoint."""
    threshold = max(int(limits["enumeration_distinct_ids"]), 1)
    table = f"object_walkers_{threshold}"
    made = store.conn.execute(
        "SELECT 1 FROM temp.sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if made is None:
        store.conn.execute(
            f"CREATE TEMP TABLE {table} AS "
            "SELECT COALESCE(c.identity_id, '') AS identity, COALESCE(e.host, '') AS host, "
            "e.method AS method "
            "FROM exchanges e JOIN exchange_credentials ec ON ec.exchange_id = e.id "
            "JOIN credentials c ON c.id = ec.credential_id "
            "WHERE e.method IS NOT NULL AND e.path IS NOT NULL "
            "GROUP BY 1, 2, 3 HAVING COUNT(DISTINCT e.path) >= ?",
            (threshold,),
        )
    return f"temp.{table}"


PREPARE["object_enumeration"] = _walkers


@rule(
    "object_enumeration",
    after_inventory=True,
    enumeration_distinct_ids=50.0,
    enumeration_window_seconds=600.0,
)
def object_enumeration(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """One identity walking many object ids of one endpoint in a short time (BOLA probing)."""
    threshold = int(limits["enumeration_distinct_ids"])
    window = limits["enumeration_window_seconds"]
    walks: dict[tuple[str, str, str, str], _Walk] = {}
    oid_texts: dict[str, str] = {}  # one string per distinct id, however often it is requested
    # Only (identity, host, method)s with at least ``threshold`` distinct paths can walk that
    # many ids of one endpoint (a walk is finer: one template of them): the rest, nearly all
    # traffic, is ruled out in SQL and never reaches Python.
    last_id: int | None = None
    idents: list[str | None] = []  # the identities the exchange ``last_id`` was read for
    walkers = _walkers(store, limits)
    rows = store.conn.execute(
        # (row values IN the walkers: NULLs compared as ''). In time order, one sort: an
        # exchange's rows (one per credential it carried) come together and are taken once
        # per identity
        "SELECT e.id, c.identity_id, e.host, e.method, e.path, ep.template, e.ts, e.status "
        "FROM exchanges e JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        "JOIN credentials c ON c.id = ec.credential_id "
        "LEFT JOIN endpoints ep ON ep.id = e.endpoint_id "
        "WHERE e.method IS NOT NULL AND e.path IS NOT NULL "
        "AND (COALESCE(c.identity_id, ''), COALESCE(e.host, ''), e.method) IN ("
        f"SELECT identity, host, method FROM {walkers}) "
        "ORDER BY e.ts, e.id"
    )
    try:
        for exchange_id, ident, host, method, path, template, ts, status in rows:
            if exchange_id != last_id:
                last_id, idents = exchange_id, [ident]
            elif ident in idents:
                continue
            else:
                idents.append(ident)
            found = object_ids(path, template)
            if found is not None:
                key = (ident, host or "", method, found[0])
                walk = walks.get(key)
                if walk is None:
                    walk = walks[key] = _Walk()
                walk.times.append(ts)
                walk.oids.append(oid_texts.setdefault(found[1], found[1]))
                walk.statuses[str(status)] += 1
    finally:
        rows.close()  # (a table read by a running statement cannot be dropped)
        store.conn.execute(f"DROP TABLE IF EXISTS {walkers}")
    del oid_texts
    for (ident, host, method, template), walk in walks.items():
        distinct, start = max_distinct_in_window(zip(walk.times, walk.oids, strict=True), window)
        if distinct < threshold:
            continue
        yield Finding(
            rule="object_enumeration",
            severity="high",
            title=f"{ident} walked {distinct} ids of {method} {host}{template} "
            f"within {window / 60:g} minutes",
            subject_type="identity",
            subject_id=ident,
            evidence={
                "endpoint": {"host": host, "method": method, "template": template},
                "distinct_ids_in_window": distinct,
                "window_seconds": window,
                "window_start": iso(start),
                "distinct_ids_total": len(set(walk.oids)),
                "requests": len(walk.oids),
                "statuses": dict(walk.statuses),
            },
            first_seen=walk.times[0],
            last_seen=walk.times[-1],
        )


@rule("sensitive_data_exposure", after_inventory=True)
def sensitive_data_exposure(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """Personal data or secrets in successful answers of endpoints no spec documents."""
    totals: dict[int, Counter[str]] = defaultdict(Counter)
    spans: dict[int, list[float]] = {}
    for endpoint_id, sensitive, ts in store.conn.execute(
        "SELECT e.endpoint_id, e.sensitive, e.ts FROM exchanges e "
        "JOIN endpoints ep ON ep.id = e.endpoint_id "
        f"WHERE ep.status IN ('shadow', 'zombie') AND e.sensitive != '{{}}' AND {SUCCESS}"
    ):
        totals[endpoint_id].update(json.loads(sensitive))
        span = spans.setdefault(endpoint_id, [ts, ts])
        span[0], span[1] = min(span[0], ts), max(span[1], ts)
    for endpoint_id, kinds in totals.items():
        host, method, template, status = store.conn.execute(
            "SELECT host, method, template, status FROM endpoints WHERE id = ?", (endpoint_id,)
        ).fetchone()
        identities = [
            r[0]
            for r in store.conn.execute(
                "SELECT DISTINCT c.identity_id FROM exchanges e JOIN exchange_credentials ec "
                "ON ec.exchange_id = e.id JOIN credentials c ON c.id = ec.credential_id "
                "WHERE e.endpoint_id = ? ORDER BY 1",
                (endpoint_id,),
            )
        ]
        severe = any(k in HIGH_RISK_DATA or k.endswith(("_key", "_token")) for k in kinds)
        yield Finding(
            rule="sensitive_data_exposure",
            severity="high" if severe else "medium",
            title=f"{status} endpoint {method} {host}{template} returns "
            + ", ".join(f"{k} ({n})" for k, n in sorted(kinds.items())),
            subject_type="endpoint",
            subject_id=f"{host} {method} {template}",
            evidence={
                "kinds": dict(sorted(kinds.items())),
                "endpoint_status": status,
                "identities": identities,
            },
            first_seen=spans[endpoint_id][0],
            last_seen=spans[endpoint_id][1],
        )


_CREDENTIAL_ID = re.compile(r"\bc-[0-9a-f]{12}\b")


def containments(store: Store) -> dict[str, tuple[float, str, str | None]]:
    """Per credential id, the earliest containment: (time, how, reason). A block at the proxy,
    or a runbook step (not a dry run) that reported ``"revoked": true`` for a credential target."""
    out: dict[str, tuple[float, str, str | None]] = {}

    def add(cid: str, at: float, how: str, reason: str | None) -> None:
        if cid not in out or at < out[cid][0]:
            out[cid] = (at, how, reason)

    for cid, at, reason in store.conn.execute(
        "SELECT c.id, b.created_at, b.reason FROM blocklist b "
        "JOIN credentials c ON c.fingerprint = b.value WHERE b.kind = 'credential'"
    ):
        add(cid, at, "blocked at the proxy", reason)
    for target, runbook, step, at, output in store.conn.execute(
        "SELECT r.target, r.runbook_id, s.step_id, s.finished_at, s.output FROM runbook_steps s "
        "JOIN runbook_runs r ON r.id = s.run_id WHERE r.dry_run = 0 AND s.state = 'done' "
        "AND s.finished_at IS NOT NULL"
    ):
        try:
            revoked = json.loads(output).get("revoked") is True
        except (ValueError, AttributeError):
            continue  # a step output that is not a JSON object says nothing about revocation
        match = _CREDENTIAL_ID.search(target or "")
        if revoked and match:
            add(match.group(0), at, f"revoked by runbook {runbook} (step {step})", None)
    return out


@rule("use_after_revocation", traffic_only=True)
def use_after_revocation(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A blocked or revoked credential still getting successful answers afterwards."""
    for cid, (contained_at, how, reason) in sorted(containments(store).items()):
        row = store.conn.execute(
            f"SELECT COUNT(*), SUM(e.blocked), MIN(e.ts), MAX(e.ts), SUM({SUCCESS} AND e.blocked = 0)"
            " FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
            "WHERE ec.credential_id = ? AND e.ts > ?",
            (cid, contained_at),
        ).fetchone()
        after, stopped, first, last, succeeded = row
        if not succeeded:
            continue
        kind, redacted, ident = _credential(store, cid)
        yield Finding(
            rule="use_after_revocation",
            severity="critical",
            title=f"{kind} {redacted} still succeeded {succeeded} times after it was contained",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "contained_at": iso(contained_at),
                "contained_by": how,
                "blocked_at": iso(contained_at) if how.startswith("blocked") else None,
                "reason": reason,
                "requests_after_block": after,
                "stopped_by_proxy": stopped or 0,
                "succeeded_after_block": succeeded,
                "identity": ident,
                "samples": samples(
                    store,
                    f"ec.credential_id = ? AND e.ts > ? AND {SUCCESS} AND e.blocked = 0",
                    (cid, contained_at),
                ),
            },
            first_seen=first,
            last_seen=last,
        )
