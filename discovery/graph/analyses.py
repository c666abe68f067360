"""Analyses over the identity-to-API graph: blast radius, exposure, paths, choke points, what-if.

Every function takes the graph and node ids (``discovery.graph.build.node_for``) and returns
JSON-shaped data, sorted so that the same case always gives the same answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import networkx as nx

from discovery.errors import SubjectNotFound, UnsupportedSubject
from discovery.graph.build import CLIENT, CREDENTIAL, ENDPOINT, IDENTITY, SERVICE


def _require(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    if node not in g:
        kind, _, ident = node.partition(":")
        raise SubjectNotFound(f"{kind} {ident!r} is not in the graph (nothing links to it)")
    attrs: dict[str, Any] = g.nodes[node]
    return attrs


def _ref(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    a = g.nodes[node]
    return {"type": a["type"], "id": a["id"], "label": a["label"]}


def _of_type(g: nx.MultiDiGraph, nodes: Iterable[str], node_type: str) -> list[str]:
    return sorted(n for n in nodes if g.nodes[n]["type"] == node_type)


def _succ(g: nx.MultiDiGraph, node: str, node_type: str) -> list[str]:
    return _of_type(g, g.successors(node), node_type)


def _pred(g: nx.MultiDiGraph, node: str, node_type: str) -> list[str]:
    return _of_type(g, g.predecessors(node), node_type)


def _endpoint(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    a = g.nodes[node]
    return {
        "id": a["id"], "host": a["host"], "method": a["method"], "template": a["template"],
        "status": a["status"], "requests": a["requests"], "sensitive": a["sensitive_kinds"],
        "privileged": a["privileged"], "blocked": a["blocked"],
    }


def _credential(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    a = g.nodes[node]
    return {"id": a["id"], "kind": a["kind"], "redacted": a["redacted"],
            "identity": a["identity"], "requests": a["requests"], "blocked": a["blocked"]}


def _risky(a: dict[str, Any]) -> bool:
    return bool(a.get("sensitive_kinds")) or bool(a.get("privileged"))


def blast_radius(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    """What a credential, identity or client reaches, and what else its clients hold."""
    attrs = _require(g, node)
    kind = attrs["type"]
    if kind not in (CREDENTIAL, IDENTITY, CLIENT):
        raise UnsupportedSubject(
            f"blast radius applies to a credential, identity or client, not a {kind}; "
            "use `graph exposure` for endpoints and hosts")
    reached = nx.descendants(g, node)
    creds = [node] if kind == CREDENTIAL else _of_type(g, reached, CREDENTIAL)
    endpoints = _of_type(g, reached, ENDPOINT)
    via: dict[str, list[str]] = defaultdict(list)
    for cred in creds:
        for endpoint in _succ(g, cred, ENDPOINT):
            via[endpoint].append(g.nodes[cred]["id"])
    clients = sorted({k for c in creds for k in _pred(g, c, CLIENT)})
    holders = sorted({i for c in creds for i in _pred(g, c, IDENTITY)})
    own = set(creds)
    shared: dict[str, list[str]] = defaultdict(list)
    for client in clients:
        for other in _succ(g, client, CREDENTIAL):
            if other not in own:
                shared[other].append(g.nodes[client]["id"])
    endpoint_rows = [dict(_endpoint(g, e), via=sorted(via[e])) for e in endpoints]
    sensitive = sorted({k for e in endpoints for k in g.nodes[e]["sensitive_kinds"]})
    services = []
    for service in _of_type(g, reached, SERVICE):
        hit = [e for e in endpoints if g.has_edge(e, service)]
        services.append({"host": g.nodes[service]["host"], "endpoints": len(hit)})
    result: dict[str, Any] = {
        "subject": _ref(g, node),
        "identities": [_ref(g, i) for i in holders],
        "credentials": [_credential(g, c) for c in creds],
        "endpoints": endpoint_rows,
        "services": services,
        "shadow": [r["id"] for r in endpoint_rows if r["status"] == "shadow"],
        "zombie": [r["id"] for r in endpoint_rows if r["status"] == "zombie"],
        "privileged": [r["id"] for r in endpoint_rows if r["privileged"]],
        "sensitive_kinds": sensitive,
        "clients": [
            {"address": g.nodes[k]["id"],
             "credentials": sorted(g.nodes[c]["id"] for c in _succ(g, k, CREDENTIAL) if c in own)}
            for k in clients
        ],
        "co_credentials": [
            dict(_credential(g, c), clients=sorted(shared[c])) for c in sorted(shared)
        ],
    }
    result["summary"] = {
        key: len(result[key]) for key in
        ("credentials", "endpoints", "services", "shadow", "zombie", "privileged",
         "sensitive_kinds", "clients", "co_credentials")
    }
    return result


def exposure(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    """Every identity, credential and client that reached an endpoint, a service, or a credential."""
    attrs = _require(g, node)
    above = nx.ancestors(g, node)
    creds = _of_type(g, above, CREDENTIAL)
    endpoints = _of_type(g, above, ENDPOINT)
    calls: dict[str, int] = defaultdict(int)
    targets = endpoints or ([node] if attrs["type"] == ENDPOINT else [])
    for endpoint in targets:
        for cred, _, data in g.in_edges(endpoint, data=True):
            calls[cred] += int(data.get("requests") or 0)
    cred_rows = [dict(_credential(g, c), calls=calls.get(c, 0)) for c in creds]
    identities = []
    for ident in _of_type(g, above, IDENTITY):
        a = g.nodes[ident]
        identities.append({"id": a["id"], "name": a["name"], "registered": a["registered"],
                           "owner": a["owner"]})
    result: dict[str, Any] = {
        "subject": _ref(g, node),
        "endpoints": [_endpoint(g, e) for e in endpoints],
        "credentials": cred_rows,
        "identities": identities,
        "clients": [g.nodes[k]["id"] for k in _of_type(g, above, CLIENT)],
        "unblocked_credentials": [r["id"] for r in cred_rows if not r["blocked"]],
    }
    result["summary"] = {key: len(result[key]) for key in
                         ("endpoints", "credentials", "identities", "clients",
                          "unblocked_credentials")}
    return result


def paths(g: nx.MultiDiGraph, source: str, target: str | None = None,
          max_paths: int = 20) -> list[dict[str, Any]]:
    """Paths from a source to sensitive/privileged endpoints it reaches (or to ``target``)."""
    attrs = _require(g, source)
    if attrs["type"] not in (IDENTITY, CREDENTIAL, CLIENT):
        raise UnsupportedSubject(
            f"paths start at an identity, credential or client, not a {attrs['type']}")
    reached = nx.descendants(g, source)
    if target is not None:
        _require(g, target)
        targets = [target] if target in reached else []
    else:
        targets = [e for e in _of_type(g, reached, ENDPOINT) if _risky(g.nodes[e])]
    out = []
    for node in targets:
        a = g.nodes[node]
        found: list[dict[str, list[Any]]] = []
        for path in nx.all_simple_paths(g, source, node, cutoff=len(NODE_ORDER)):
            found.append({
                "nodes": [_ref(g, n) for n in path],
                "edges": [_edge_kind(g, u, v) for u, v in pairwise(path)],
            })
            if len(found) >= max_paths:
                break
        found.sort(key=lambda p: [str(n["id"]) for n in p["nodes"]])
        why = [f"sensitive data: {k}" for k in a.get("sensitive_kinds", [])]
        why += list(a.get("privileged_reasons", []))
        if a.get("status") in ("shadow", "zombie"):
            why.append(f"{a['status']} endpoint")
        out.append({"target": _ref(g, node), "why": why, "paths": found})
    return out


NODE_ORDER = (IDENTITY, CREDENTIAL, ENDPOINT, SERVICE)


def _edge_kind(g: nx.MultiDiGraph, u: str, v: str) -> str:
    data: dict[str, Any] = g.get_edge_data(u, v) or {}
    return "|".join(sorted(str(k) for k in data))


def _reach_tables(g: nx.MultiDiGraph) -> tuple[dict[str, set[str]], dict[str, dict[str, int]],
                                               dict[str, list[str]]]:
    """Per credential its endpoints; per source (identity, client) how many of its credentials
    reach each endpoint; per credential its sources."""
    cred_endpoints: dict[str, set[str]] = {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sources: dict[str, list[str]] = {}
    for node, a in g.nodes(data=True):
        if a["type"] != CREDENTIAL:
            continue
        reach = {e for e in g.successors(node) if g.nodes[e]["type"] == ENDPOINT}
        cred_endpoints[node] = reach
        sources[node] = [s for s in g.predecessors(node)
                         if g.nodes[s]["type"] in (IDENTITY, CLIENT)]
        for source in sources[node]:
            table = counts[source]
            for endpoint in reach:
                table[endpoint] += 1
    return cred_endpoints, counts, sources


def choke_points(g: nx.MultiDiGraph, top: int = 10) -> list[dict[str, Any]]:
    """Credentials and clients whose removal cuts the most (identity or client, endpoint) reach.

    A pair (source, endpoint) is cut by removing a credential when no other credential of that
    source reaches the endpoint; removing a client cuts all of its own pairs. ``exclusive`` lists
    endpoints nobody else reaches at all once it is gone.
    """
    cred_endpoints, counts, sources = _reach_tables(g)
    rows = []
    for cred, reach in cred_endpoints.items():
        cut = [(s, e) for s in sources[cred] for e in reach if counts[s][e] == 1]
        exclusive = [e for e in reach
                     if all(p == cred for p in g.predecessors(e)
                            if g.nodes[p]["type"] == CREDENTIAL)]
        rows.append((cred, cut, exclusive))
    presenters: dict[str, set[str]] = {
        c: {s for s in srcs if g.nodes[s]["type"] == CLIENT} for c, srcs in sources.items()}
    for node, a in g.nodes(data=True):
        if a["type"] != CLIENT:
            continue
        reach = set(counts.get(node, {}))
        cut = [(node, e) for e in reach]
        exclusive = []
        for endpoint in reach:
            callers = [p for p in g.predecessors(endpoint) if g.nodes[p]["type"] == CREDENTIAL]
            if all(presenters[c] == {node} for c in callers):
                exclusive.append(endpoint)
        rows.append((node, cut, exclusive))
    out = []
    for node, cut, exclusive in rows:
        if not cut:
            continue
        risky = sum(1 for _, e in cut if _risky(g.nodes[e]))
        out.append(dict(_ref(g, node), cut_pairs=len(cut), cut_sensitive=risky,
                        exclusive=sorted(g.nodes[e]["id"] for e in exclusive)))
    out.sort(key=lambda r: (-r["cut_sensitive"], -r["cut_pairs"], -len(r["exclusive"]),
                            r["type"], r["id"]))
    return out[:top]


def what_if(g: nx.MultiDiGraph, remove: Iterable[str]) -> dict[str, Any]:
    """Remove credentials (an identity stands for all it holds; a client for itself), recompute
    what the affected identities and clients still reach and who still reaches each endpoint."""
    gone: set[str] = set()
    removed = []
    for node in remove:
        attrs = _require(g, node)
        removed.append(_ref(g, node))
        if attrs["type"] == IDENTITY:
            gone.update(_succ(g, node, CREDENTIAL))
        elif attrs["type"] in (CREDENTIAL, CLIENT):
            gone.add(node)
        else:
            raise UnsupportedSubject(
                f"what-if removes credentials, identities or clients, not a {attrs['type']}")
    after = nx.restricted_view(g, gone, [])
    creds = {n for n in gone if g.nodes[n]["type"] == CREDENTIAL}
    affected_endpoints = sorted({e for c in creds for e in _succ(g, c, ENDPOINT)})
    identity_nodes = sorted({i for c in creds for i in _pred(g, c, IDENTITY)})
    client_nodes = sorted({k for c in creds for k in _pred(g, c, CLIENT)} - gone)
    for node in gone:
        if g.nodes[node]["type"] == CLIENT:
            affected_endpoints = sorted(set(affected_endpoints) | {
                e for e in nx.descendants(g, node) if g.nodes[e]["type"] == ENDPOINT})

    def reach(graph: Any, node: str) -> set[str]:
        if node not in graph:
            return set()
        return {e for e in nx.descendants(graph, node) if g.nodes[e]["type"] == ENDPOINT}

    def sources_change(node: str) -> dict[str, Any]:
        before, now = reach(g, node), reach(after, node)
        return dict(_ref(g, node), before=len(before), after=len(now),
                    lost=sorted(g.nodes[e]["id"] for e in before - now),
                    still_reaches=[_endpoint(g, e) for e in sorted(now)])

    def exposure_count(graph: Any, endpoint: str) -> dict[str, int]:
        above = nx.ancestors(graph, endpoint)
        return {t: sum(1 for n in above if g.nodes[n]["type"] == t)
                for t in (CREDENTIAL, IDENTITY, CLIENT)}

    endpoints = []
    for endpoint in affected_endpoints:
        before, now = exposure_count(g, endpoint), exposure_count(after, endpoint)
        endpoints.append(dict(_endpoint(g, endpoint), exposure_before=before,
                              exposure_after=now, unreached=now[CREDENTIAL] == 0))
    result: dict[str, Any] = {
        "removed": removed,
        "credentials_removed": sorted(g.nodes[c]["id"] for c in creds),
        "identities": [sources_change(i) for i in identity_nodes],
        "clients": [sources_change(k) for k in client_nodes],
        "endpoints": endpoints,
    }
    result["summary"] = {
        "credentials_removed": len(creds),
        "endpoints_affected": len(endpoints),
        "endpoints_unreached": sum(1 for e in endpoints if e["unreached"]),
        "identities_still_reaching": sum(1 for i in result["identities"] if i["after"]),
    }
    return result
