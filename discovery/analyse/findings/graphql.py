"""Findings about GraphQL traffic (docs/findings.md): the schema answered to whoever asks
(introspection left on), queries far deeper or wider than the case's own baseline (alias and
batch abuse, the brute-force path around per-request rate limits), and mutations called by
identities whose traffic is otherwise read-only.

They read the facts ``discovery.redact.graphql`` stored with each exchange (kind, depth,
aliases, batch position, introspection, a rejection's reason) and the operation endpoints of
``discovery.analyse.inventory``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from discovery.analyse.findings import Finding, rule, shared
from discovery.analyse.findings.endpoints import MAX_LISTED, exchange_samples
from discovery.case.store import Store

# Rejections that mean a document tried to be expensive (not a client's syntax error).
ABUSIVE_REJECTIONS = ("aliases", "depth", "nesting", "tokens", "complexity", "batch", "string")


def _operations(store: Store) -> list[tuple[Any, ...]]:
    """Every GraphQL exchange: (id, ts, client, endpoint template, host, operation, outcome,
    kind, depth, aliases, batch size, introspection, rejected), in time order."""
    rows = []
    for row in store.conn.execute(
        "SELECT e.id, e.ts, COALESCE(e.client_ip, ''), ep.template, e.host, e.operation, "
        "e.outcome, e.facts FROM exchanges e LEFT JOIN endpoints ep ON ep.id = e.endpoint_id "
        "WHERE e.protocol = 'graphql' ORDER BY e.ts"
    ):
        try:
            facts = json.loads(row[7] or "{}")
        except ValueError:
            facts = {}
        if not isinstance(facts, dict):
            facts = {}
        batch = facts.get("batch") or [1, 1]
        rows.append(
            (
                *row[:7],
                facts.get("kind"),
                int(facts.get("depth") or 0),
                int(facts.get("aliases") or 0),
                int(batch[1]) if isinstance(batch, list) and len(batch) == 2 else 1,
                bool(facts.get("introspection")),
                facts.get("rejected"),
            )
        )
    return rows


def _graphql(store: Store) -> list[tuple[Any, ...]]:
    return list(shared("graphql_operations", store, _operations))


@rule("graphql_introspection_enabled")
def introspection_enabled(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """The schema was answered with data to an introspection query (``__schema``/``__type``):
    anyone who can reach the endpoint gets every type, field and mutation, the hidden ones too."""
    per_host: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in _graphql(store):
        outcome = row[6] or ""
        if row[11] and outcome.startswith("data"):
            per_host[row[4]].append(row)
    for host, rows in sorted(per_host.items()):
        ids = [r[0] for r in rows]
        marks = ",".join("?" for _ in ids[:500])
        yield Finding(
            rule="graphql_introspection_enabled",
            severity="medium",
            title=f"{host} answers GraphQL introspection: its whole schema is readable "
            f"({len(rows)} introspection queries answered with data)",
            subject_type="host",
            subject_id=host,
            evidence={
                "host": host,
                "answered": len(rows),
                "endpoints": sorted({str(r[3]) for r in rows if r[3]})[:MAX_LISTED],
                "clients": sorted({r[2] for r in rows})[:MAX_LISTED],
                "samples": exchange_samples(store, f"e.id IN ({marks})", tuple(ids[:500])),
            },
            first_seen=rows[0][1],
            last_seen=rows[-1][1],
        )


def _median(values: Counter[int]) -> float:
    total = sum(values.values())
    if not total:
        return 0.0
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if seen * 2 >= total:
            return float(value)
    return 0.0  # pragma: no cover - the loop returns


@rule(
    "graphql_query_abuse",
    graphql_depth_factor=3,
    graphql_depth_min=10,
    graphql_alias_factor=5,
    graphql_alias_min=20,
    graphql_batch_min=10,
)
def query_abuse(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """Clients whose GraphQL documents are far deeper or carry far more aliases (or batch far
    more operations) than the case's own baseline, or were rejected for it: one request doing
    the work of hundreds (alias or batch brute force of logins and one-time codes, or a
    denial of service through nesting)."""
    rows = _graphql(store)
    if not rows:
        return
    depths: Counter[int] = Counter()
    aliases: Counter[int] = Counter()
    for row in rows:
        if row[12] is None and row[5] is not None:
            depths[row[8]] += 1
            aliases[row[9]] += 1
    base_depth, base_aliases = _median(depths), _median(aliases)
    depth_limit = max(limits["graphql_depth_min"], base_depth * limits["graphql_depth_factor"])
    alias_limit = max(limits["graphql_alias_min"], base_aliases * limits["graphql_alias_factor"])
    batch_limit = limits["graphql_batch_min"]
    per_client: dict[str, list[tuple[tuple[Any, ...], list[str]]]] = defaultdict(list)
    for row in rows:
        why = []
        if row[11]:
            continue  # the introspection query is deep by design: it has its own finding
        if row[8] >= depth_limit:
            why.append("depth")
        if row[9] >= alias_limit:
            why.append("aliases")
        if row[10] >= batch_limit:
            why.append("batch")
        if row[12] in ABUSIVE_REJECTIONS:
            why.append(f"rejected:{row[12]}")
        if why:
            per_client[row[2]].append((row, why))
    for client, hits in sorted(per_client.items()):
        reasons: Counter[str] = Counter(w for _row, why in hits for w in why)
        ids = [row[0] for row, _why in hits]
        marks = ",".join("?" for _ in ids[:500])
        yield Finding(
            rule="graphql_query_abuse",
            severity="high",
            title=f"{client or 'an unknown client'} sent {len(hits)} GraphQL requests far beyond "
            f"the case's baseline ("
            + ", ".join(f"{k} {n}" for k, n in sorted(reasons.items()))
            + ")",
            subject_type="client",
            subject_id=client or "unknown",
            evidence={
                "requests": len(hits),
                "reasons": dict(sorted(reasons.items())),
                "max_depth": max(row[8] for row, _ in hits),
                "max_aliases": max(row[9] for row, _ in hits),
                "max_batch": max(row[10] for row, _ in hits),
                "baseline": {"depth": base_depth, "aliases": base_aliases},
                "limits": {"depth": depth_limit, "aliases": alias_limit, "batch": batch_limit},
                "operations": sorted({str(row[5]) for row, _ in hits if row[5]})[:MAX_LISTED],
                "samples": exchange_samples(store, f"e.id IN ({marks})", tuple(ids[:500])),
            },
            first_seen=hits[0][0][1],
            last_seen=hits[-1][0][1],
        )


@rule("graphql_mutation_by_reader", graphql_reader_min_queries=20, graphql_reader_max_share=0.05)
def mutation_by_reader(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """An identity whose GraphQL traffic is reads (at least ``graphql_reader_min_queries``
    queries) called a mutation, mutations being at most ``graphql_reader_max_share`` of its
    calls: a read-only integration writing is a stolen credential or a privilege it should
    not hold."""
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    mutations: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for ident, ex_id, ts, kind, template, outcome in store.conn.execute(
        "SELECT DISTINCT c.identity_id, e.id, e.ts, json_extract(e.facts, '$.kind'), "
        "ep.template, e.outcome FROM exchanges e "
        "JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        "JOIN credentials c ON c.id = ec.credential_id "
        "LEFT JOIN endpoints ep ON ep.id = e.endpoint_id "
        "WHERE e.protocol = 'graphql' AND c.identity_id IS NOT NULL "
        "AND ec.location != 'response' ORDER BY e.ts"
    ):
        kinds[ident][str(kind)] += 1
        if kind == "mutation":
            mutations[ident].append((ex_id, ts, template, outcome))
    for ident, counts in sorted(kinds.items()):
        reads, writes = counts["query"], counts["mutation"]
        if not writes or reads < limits["graphql_reader_min_queries"]:
            continue
        if writes / (reads + writes) > limits["graphql_reader_max_share"]:
            continue
        calls = mutations[ident]
        ids = [c[0] for c in calls]
        marks = ",".join("?" for _ in ids[:500])
        yield Finding(
            rule="graphql_mutation_by_reader",
            severity="high",
            title=f"{ident}, which otherwise only reads ({reads} queries), called "
            f"{writes} GraphQL mutation{'s' if writes != 1 else ''}",
            subject_type="identity",
            subject_id=ident,
            evidence={
                "queries": reads,
                "mutations": writes,
                "mutation_endpoints": sorted({str(c[2]) for c in calls if c[2]})[:MAX_LISTED],
                "answered_with_data": sum(1 for c in calls if (c[3] or "").startswith("data")),
                "samples": exchange_samples(store, f"e.id IN ({marks})", tuple(ids[:500])),
            },
            first_seen=calls[0][1],
            last_seen=calls[-1][1],
        )
