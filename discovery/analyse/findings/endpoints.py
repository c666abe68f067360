"""Findings about endpoints and their classification (docs/findings.md): shadow and zombie
endpoints still called, documented operations answered without the credential the spec
requires, and clients probing for routes that do not exist.

Every rule reads the endpoint inventory as ``discovery.analyse.inventory`` left it, so it follows each
spec import and ingest, old traffic included.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, NamedTuple

from discovery.analyse.findings import Finding, rule
from discovery.analyse.inventory import probe_paths_by_host
from discovery.analyse.matching import requires_credential
from discovery.case.store import Store
from discovery.timeutil import iso

SAMPLES = 5
MAX_LISTED = 50
SUCCESS = "e.status BETWEEN 200 AND 399"
# Sources whose records do not carry request headers: a call seen only there may have carried a
# credential nobody logged, so it is never called unauthenticated.
HEADERLESS_SOURCES = ("zeek",)


def exchange_samples(store: Store, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """A few evidence references of the exchanges matching ``where`` (alias ``e``)."""
    rows = store.conn.execute(
        "SELECT e.ts, e.evidence, i.path, e.source, e.client_ip, e.status FROM exchanges e "
        f"LEFT JOIN inputs i ON i.id = e.input_id WHERE {where} ORDER BY e.ts LIMIT {SAMPLES}",
        args,
    ).fetchall()
    return [
        {
            "time": iso(ts),
            "evidence": ev,
            "input": path or source,
            "client": client,
            "status": status,
        }
        for ts, ev, path, source, client, status in rows
    ]


def _callers(store: Store, endpoint_id: int) -> tuple[list[str], list[str], int]:
    """(identities, credential ids, unauthenticated requests) of an endpoint's traffic."""
    identities: dict[str, None] = {}
    credentials: dict[str, None] = {}
    for cid, ident in store.conn.execute(
        "SELECT s.credential_id, c.identity_id FROM sightings s "
        "JOIN credentials c ON c.id = s.credential_id WHERE s.endpoint_id = ? "
        "ORDER BY s.first_seen",
        (endpoint_id,),
    ):
        credentials.setdefault(cid, None)
        if ident:
            identities.setdefault(ident, None)
    (anonymous,) = store.conn.execute(
        "SELECT COUNT(*) FROM exchanges e WHERE e.endpoint_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM exchange_credentials ec WHERE ec.exchange_id = e.id)",
        (endpoint_id,),
    ).fetchone()
    return list(identities), list(credentials), int(anonymous)


class _EndpointRow(NamedTuple):
    id: int
    host: str
    method: str
    template: str
    requests: int
    first: float | None
    last: float | None
    statuses: str  # JSON
    explanation: str  # JSON
    sensitive: str  # JSON
    operation_id: str | None
    spec: str | None


def _endpoint_rows(store: Store, status: str) -> list[_EndpointRow]:
    """The called endpoints of one status, with their spec operation (when documented)."""
    return [
        _EndpointRow(*row)
        for row in store.conn.execute(
            "SELECT ep.id, ep.host, ep.method, ep.template, ep.requests, ep.first_seen, "
            "ep.last_seen, ep.statuses, ep.explanation, ep.sensitive, so.operation_id, s.title "
            "FROM endpoints ep LEFT JOIN spec_operations so ON so.id = ep.spec_operation_id "
            "LEFT JOIN specs s ON s.id = so.spec_id "
            "WHERE ep.status = ? AND ep.requests > 0 ORDER BY ep.host, ep.template, ep.method",
            (status,),
        )
    ]


def _successes(statuses: dict[str, int]) -> int:
    return sum(n for code, n in statuses.items() if code.isdigit() and 200 <= int(code) < 400)


def _listed(values: list[str]) -> dict[str, Any]:
    return {"items": values[:MAX_LISTED], "count": len(values)}


def _endpoint_evidence(store: Store, row: _EndpointRow) -> dict[str, Any]:
    """What every finding about one called endpoint shows: counts, statuses, who called it
    (identities, credentials, how many calls without any) and sample evidence references."""
    codes = json.loads(row.statuses)
    identities, credentials, anonymous = _callers(store, row.id)
    return {
        "host": row.host,
        "method": row.method,
        "template": row.template,
        "requests": row.requests,
        "successes": _successes(codes),
        "statuses": codes,
        "unauthenticated_requests": anonymous,
        "identities": _listed(identities),
        "credentials": _listed(credentials),
        "samples": exchange_samples(store, "e.endpoint_id = ?", (row.id,)),
    }


@rule("shadow_endpoint_access")
def shadow_endpoint_access(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """Calls to endpoints the specs in the case do not document: an undocumented path or method
    on a documented host (one finding per endpoint), or a host no spec covers (one per host).

    A case with no spec at all has nothing to compare with: every endpoint there is shadow by
    definition, and the inventory already says so, so no finding is raised."""
    documented_hosts = {
        h for (h,) in store.conn.execute("SELECT DISTINCT host FROM spec_operations")
    }
    if not documented_hosts:
        return
    undocumented: dict[str, list[_EndpointRow]] = defaultdict(list)
    for row in _endpoint_rows(store, "shadow"):
        host, method, template, requests = row.host, row.method, row.template, row.requests
        if host not in documented_hosts:
            undocumented[host].append(row)
            continue
        evidence = _endpoint_evidence(store, row)
        evidence["why_shadow"] = json.loads(row.explanation).get("classification")
        evidence["sensitive_data"] = kinds = json.loads(row.sensitive)
        succeeded = evidence["successes"]
        yield Finding(
            rule="shadow_endpoint_access",
            severity="high"
            if succeeded and (kinds or evidence["unauthenticated_requests"])
            else "medium"
            if succeeded
            else "low",
            title=f"undocumented endpoint {method} {host}{template} called {requests} times"
            f" ({succeeded} successful)",
            subject_type="endpoint",
            subject_id=f"{host} {method} {template}",
            evidence=evidence,
            first_seen=row.first,
            last_seen=row.last,
        )
    for host, rows in sorted(undocumented.items()):
        requests = sum(r.requests for r in rows)
        succeeded = sum(_successes(json.loads(r.statuses)) for r in rows)
        callers: dict[str, None] = {}
        for r in rows:
            for ident in _callers(store, r.id)[0]:
                callers.setdefault(ident, None)
        yield Finding(
            rule="shadow_endpoint_access",
            severity="medium" if succeeded else "low",
            title=f"{host} serves {len(rows)} endpoints that no spec in the case documents "
            f"({requests} requests)",
            subject_type="host",
            subject_id=host,
            evidence={
                "host": host,
                "why_shadow": f"no spec in the case documents {host}",
                "endpoints": [f"{r.method} {r.template}" for r in rows[:MAX_LISTED]],
                "endpoint_count": len(rows),
                "requests": requests,
                "successes": succeeded,
                "identities": _listed(list(callers)),
                "samples": exchange_samples(
                    store, "e.host = ? AND e.endpoint_id IS NOT NULL", (host,)
                ),
            },
            first_seen=min(r.first for r in rows if r.first is not None),
            last_seen=max(r.last for r in rows if r.last is not None),
        )


@rule("masked_route")
def masked_route(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """Paths a documented template would take, but whose value does not look like that
    parameter's values (a word where ids go, a route name called with methods the template
    lacks): a possibly undocumented route hidden behind a catch-all parameter."""
    for row in _endpoint_rows(store, "shadow"):
        why = json.loads(row.explanation)
        masked_by = why.get("masked_by")
        if not masked_by:
            continue
        evidence = _endpoint_evidence(store, row)
        evidence["masked_by"] = masked_by
        evidence["why"] = next(
            (s["reason"] for s in why.get("segments", []) if s.get("rule") == "masked-route"),
            why.get("classification"),
        )
        yield Finding(
            rule="masked_route",
            severity="medium" if evidence["successes"] else "low",
            title=f"{row.method} {row.host}{row.template} looks like a route masked by "
            f"documented {masked_by} ({row.requests} requests)",
            subject_type="endpoint",
            subject_id=f"{row.host} {row.method} {row.template}",
            evidence=evidence,
            first_seen=row.first,
            last_seen=row.last,
        )


@rule("zombie_endpoint_access")
def zombie_endpoint_access(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A deprecated operation still called: who still depends on it, and whether it answers."""
    for row in _endpoint_rows(store, "zombie"):
        host, method, template, requests = row.host, row.method, row.template, row.requests
        evidence = _endpoint_evidence(store, row)
        evidence.update(
            {"spec": row.spec, "operation_id": row.operation_id, "last_called": iso(row.last)}
        )
        succeeded = evidence["successes"]
        yield Finding(
            rule="zombie_endpoint_access",
            severity="medium" if succeeded else "low",
            title=f"deprecated endpoint {method} {host}{template} still called {requests} times"
            f" ({succeeded} successful)",
            subject_type="endpoint",
            subject_id=f"{host} {method} {template}",
            evidence=evidence,
            first_seen=row.first,
            last_seen=row.last,
        )


@rule("unauthenticated_access")
def unauthenticated_access(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A documented operation whose spec requires a credential answered a call that carried
    none: authentication is not enforced there. Calls from sources that do not record headers
    (Zeek) and partial exchanges are left out, since a credential may have gone unseen."""
    headerless = ",".join("?" for _ in HEADERLESS_SOURCES)
    anonymous = (
        f"e.endpoint_id = ? AND {SUCCESS} AND e.partial = 0 AND e.blocked = 0 "
        f"AND e.source NOT IN ({headerless}) AND NOT EXISTS "
        "(SELECT 1 FROM exchange_credentials ec WHERE ec.exchange_id = e.id)"
    )
    for (
        endpoint_id,
        host,
        method,
        template,
        status,
        security,
        operation_id,
        title,
    ) in store.conn.execute(
        "SELECT ep.id, ep.host, ep.method, ep.template, ep.status, so.security, "
        "so.operation_id, s.title FROM endpoints ep "
        "JOIN spec_operations so ON so.id = ep.spec_operation_id "
        "JOIN specs s ON s.id = so.spec_id "
        "WHERE ep.status IN ('documented', 'zombie') AND ep.requests > 0 "
        "ORDER BY ep.host, ep.template, ep.method"
    ):
        requirements = json.loads(security) if security else []
        if not requires_credential(requirements):
            continue
        args = (endpoint_id, *HEADERLESS_SOURCES)
        count, first, last, clients = store.conn.execute(
            "SELECT COUNT(*), MIN(e.ts), MAX(e.ts), GROUP_CONCAT(DISTINCT e.client_ip) "
            f"FROM exchanges e WHERE {anonymous}",
            args,
        ).fetchone()
        if not count:
            continue
        agents = [
            a
            for (a,) in store.conn.execute(
                f"SELECT DISTINCT e.user_agent FROM exchanges e WHERE {anonymous} "
                "AND e.user_agent IS NOT NULL LIMIT 10",
                args,
            )
        ]
        yield Finding(
            rule="unauthenticated_access",
            severity="high",
            title=f"{method} {host}{template} answered {count} calls that carried no credential;"
            " its spec requires one",
            subject_type="endpoint",
            subject_id=f"{host} {method} {template}",
            evidence={
                "host": host,
                "method": method,
                "template": template,
                "endpoint_status": status,
                "spec": title,
                "operation_id": operation_id,
                "required": [" + ".join(sorted(req)) for req in requirements],
                "successful_unauthenticated_requests": count,
                "clients": _listed(sorted((clients or "").split(",")) if clients else []),
                "user_agents": agents,
                "samples": exchange_samples(store, anonymous, args),
            },
            first_seen=first,
            last_seen=last,
        )


@rule("route_probing", traffic_only=True, route_probing_min_paths=10.0)
def route_probing(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A client asking for many paths that only ever answered 404 (a scanner or fuzzer mapping
    routes), one finding per client across hosts. The paths are not endpoints; this is where
    they are reported."""
    minimum = int(limits["route_probing_min_paths"])
    paths: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    seen: dict[str, set[int]] = defaultdict(set)
    spans: dict[str, list[float]] = {}
    credentials: dict[str, set[str]] = defaultdict(set)
    # only the 404-only paths reach Python (aggregated in SQL): memory stays flat with traffic
    for host, probes in sorted(probe_paths_by_host(store).items()):
        if len(probes) < minimum:
            continue
        for exchange_id, client, path, ts, cid in store.conn.execute(
            "SELECT e.id, COALESCE(e.client_ip, ''), e.path, e.ts, ec.credential_id "
            "FROM exchanges e LEFT JOIN exchange_credentials ec ON ec.exchange_id = e.id "
            "WHERE e.host = ? AND e.status = 404 AND e.path IS NOT NULL",
            (host,),
        ):
            if path not in probes:
                continue
            paths[client][host].add(path)
            seen[client].add(exchange_id)
            span = spans.setdefault(client, [ts, ts])
            span[0], span[1] = min(span[0], ts), max(span[1], ts)
            if cid:
                credentials[client].add(cid)
    for client, by_host in sorted(paths.items()):
        by_host = {h: p for h, p in by_host.items() if len(p) >= minimum}
        if not by_host:
            continue
        total = sum(len(p) for p in by_host.values())
        agents = [
            a
            for (a,) in store.conn.execute(
                "SELECT DISTINCT user_agent FROM exchanges WHERE status = 404 "
                "AND COALESCE(client_ip, '') = ? AND user_agent IS NOT NULL LIMIT 10",
                (client,),
            )
        ]
        yield Finding(
            rule="route_probing",
            severity="medium",
            title=f"{client or 'an unknown client'} probed {total} paths that do not exist on "
            + ", ".join(sorted(by_host))
            + " (all answered 404)",
            subject_type="client",
            subject_id=client or "unknown",
            evidence={
                "hosts": {
                    h: {"probed_paths": sorted(p)[:MAX_LISTED], "count": len(p)}
                    for h, p in sorted(by_host.items())
                },
                "probed_path_count": total,
                "requests": len(seen[client]),
                "user_agents": agents,
                "credentials": sorted(credentials[client]),
                "samples": exchange_samples(
                    store, "e.status = 404 AND COALESCE(e.client_ip, '') = ?", (client,)
                ),
            },
            first_seen=spans[client][0],
            last_seen=spans[client][1],
        )
