"""Findings about how requests were framed on the wire (docs/findings.md)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from discovery.analyse.findings import Finding, rule
from discovery.case.store import Store
from discovery.timeutil import iso

MAX_LISTED = 20


@rule("request_smuggling", traffic_only=True)
def request_smuggling(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A request whose framing two servers would read differently, with a request hidden in
    the difference: one finding per server (named by the carriers' host), naming the carriers
    and the hidden requests."""
    rows = store.conn.execute(
        "SELECT e.id, e.ts, e.evidence, i.path, e.source, e.host, e.client_ip, e.method, "
        "e.server_ip || ':' || e.server_port, "
        "e.raw_path, e.anomalies FROM exchanges e LEFT JOIN inputs i ON i.id = e.input_id "
        "WHERE e.anomalies LIKE '%framing_conflict%' OR e.anomalies LIKE '%smuggled_request%' "
        "ORDER BY e.ts, e.id"
    ).fetchall()
    by_host: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {"carriers": [], "hidden": []}
    )
    seen: dict[str, list[float]] = defaultdict(list)
    hosts: dict[str, str] = {}
    for eid, ts, evidence, path, source, host, client, method, server, raw_path, anomalies in rows:
        codes: list[str] = json.loads(anomalies)
        entry: dict[str, Any] = {
            "exchange": eid,
            "time": iso(ts),
            "evidence": evidence,
            "input": path or source,
            "client": client,
            "request": f"{method} {raw_path}",
        }
        smuggled = [a for a in codes if a.startswith("smuggled_request")]
        key = server or host or "?"
        group = by_host[key]
        seen[key].append(ts)
        if smuggled:
            entry["reading"] = smuggled[0].partition(": ")[2]
            group["hidden"].append(entry)
        else:
            entry["readings"] = [
                a.partition(": ")[2] for a in codes if a.startswith("framing_conflict")
            ]
            group["carriers"].append(entry)
            hosts.setdefault(key, host or key)
    for key, group in sorted(by_host.items()):
        host = hosts.get(key, key)
        hidden, carriers = group["hidden"], group["carriers"]
        if not hidden:
            continue  # two readings, nothing hidden between them: an anomaly, not smuggling
        times = seen[key]
        yield Finding(
            rule="request_smuggling",
            severity="high",
            title=f"{len(hidden)} request(s) to {host} hidden by conflicting framing "
            f"(first: {hidden[0]['request'][:80]})",
            subject_type="host",
            subject_id=host,
            evidence={
                "hidden_requests": hidden[:MAX_LISTED],
                "carriers": carriers[:MAX_LISTED],
                "hidden_count": len(hidden),
                "server": key,
                "clients": sorted({e["client"] for e in hidden if e["client"]})[:MAX_LISTED],
            },
            first_seen=min(times),
            last_seen=max(times),
        )
