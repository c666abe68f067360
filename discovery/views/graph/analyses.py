"""Analyses over the identity-to-API graph: blast radius, exposure, paths, choke points, what-if.

Every function takes the graph and node ids (``discovery.views.graph.build.node_for``) and returns
JSON-shaped data, sorted so that the same case always gives the same answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from itertools import pairwise
from typing import Any

import networkx as nx

from discovery.errors import SubjectNotFound, UnsupportedSubject
from discovery.views.graph.build import CLIENT, CREDENTIAL, ENDPOINT, IDENTITY, SERVICE


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
        "id": a["id"],
        "host": a["host"],
        "method": a["method"],
        "template": a["template"],
        "status": a["status"],
        "requests": a["requests"],
        "sensitive": a["sensitive_kinds"],
        "privileged": a["privileged"],
        "blocked": a["blocked"],
    }


def _credential(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    a = g.nodes[node]
    return {
        "id": a["id"],
        "kind": a["kind"],
        "redacted": a["redacted"],
        "identity": a["identity"],
        "requests": a["requests"],
        "blocked": a["blocked"],
    }


def _requests(g: nx.MultiDiGraph, u: str, v: str) -> int:
    """Requests counted on the edges from ``u`` to ``v`` (CALLS, PRESENTS)."""
    edges: dict[str, dict[str, Any]] = g.get_edge_data(u, v) or {}
    return sum(int(data.get("requests") or 0) for data in edges.values())


def _risky(a: dict[str, Any]) -> bool:
    return bool(a.get("sensitive_kinds")) or bool(a.get("privileged"))


def blast_radius(g: nx.MultiDiGraph, node: str) -> dict[str, Any]:
    """What a credential, identity or client reaches, and what else its clients hold.

    Each endpoint row says which of the subject's credentials reached it (``via``) and how many
    requests they made there (``calls``); each client how many requests it made with them."""
    attrs = _require(g, node)
    kind = attrs["type"]
    if kind not in (CREDENTIAL, IDENTITY, CLIENT):
        raise UnsupportedSubject(
            f"blast radius applies to a credential, identity or client, not a {kind}; "
            "use `graph exposure` for endpoints and hosts"
        )
    reached = nx.descendants(g, node)
    # a credential's own reach includes the tokens it obtained (ISSUED) and theirs
    creds = _of_type(g, reached, CREDENTIAL)
    if kind == CREDENTIAL:
        creds = [node, *creds]
    endpoints = _of_type(g, reached, ENDPOINT)
    via: dict[str, list[str]] = defaultdict(list)
    calls: dict[str, int] = defaultdict(int)  # requests through the subject's credentials
    for cred in creds:
        for endpoint in _succ(g, cred, ENDPOINT):
            via[endpoint].append(g.nodes[cred]["id"])
            calls[endpoint] += _requests(g, cred, endpoint)
    clients = sorted({k for c in creds for k in _pred(g, c, CLIENT)})
    holders = sorted({i for c in creds for i in _pred(g, c, IDENTITY)})
    own = set(creds)
    shared: dict[str, list[str]] = defaultdict(list)
    for client in clients:
        for other in _succ(g, client, CREDENTIAL):
            if other not in own:
                shared[other].append(g.nodes[client]["id"])
    endpoint_rows = [
        dict(_endpoint(g, e), via=sorted(via[e]), calls=calls.get(e, 0)) for e in endpoints
    ]
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
            {
                "address": g.nodes[k]["id"],
                "credentials": sorted(
                    g.nodes[c]["id"] for c in _succ(g, k, CREDENTIAL) if c in own
                ),
                "requests": sum(_requests(g, k, c) for c in _succ(g, k, CREDENTIAL) if c in own),
            }
            for k in clients
        ],
        "co_credentials": [
            dict(_credential(g, c), clients=sorted(shared[c])) for c in sorted(shared)
        ],
    }
    result["summary"] = {
        key: len(result[key])
        for key in (
            "credentials",
            "endpoints",
            "services",
            "shadow",
            "zombie",
            "privileged",
            "sensitive_kinds",
            "clients",
            "co_credentials",
        )
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
        identities.append(
            {"id": a["id"], "name": a["name"], "registered": a["registered"], "owner": a["owner"]}
        )
    result: dict[str, Any] = {
        "subject": _ref(g, node),
        "endpoints": [_endpoint(g, e) for e in endpoints],
        "credentials": cred_rows,
        "identities": identities,
        "clients": [g.nodes[k]["id"] for k in _of_type(g, above, CLIENT)],
        "unblocked_credentials": [r["id"] for r in cred_rows if not r["blocked"]],
    }
    result["summary"] = {
        key: len(result[key])
        for key in ("endpoints", "credentials", "identities", "clients", "unblocked_credentials")
    }
    return result


def paths(
    g: nx.MultiDiGraph, source: str, target: str | None = None, max_paths: int = 20
) -> list[dict[str, Any]]:
    """Paths from a source to sensitive/privileged endpoints it reaches (or to ``target``)."""
    attrs = _require(g, source)
    if attrs["type"] not in (IDENTITY, CREDENTIAL, CLIENT):
        raise UnsupportedSubject(
            f"paths start at an identity, credential or client, not a {attrs['type']}"
        )
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
            found.append(
                {
                    "nodes": [_ref(g, n) for n in path],
                    "edges": [_edge_kind(g, u, v) for u, v in pairwise(path)],
                }
            )
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


class _Layers:
    """The graph's layers as plain sets, computed on demand and cached (credential -> endpoints,
    identities, clients; endpoint -> callers; source -> credentials): the whole-graph analyses
    walk these instead of networkx views, which keeps them fast on large cases."""

    def __init__(self, g: nx.MultiDiGraph) -> None:
        self.g = g
        self._nodes = g.nodes
        self._endpoints: dict[str, set[str]] = {}
        self._identities: dict[str, set[str]] = {}
        self._clients: dict[str, set[str]] = {}
        self._callers: dict[str, set[str]] = {}
        self._held: dict[str, set[str]] = {}

    def type(self, node: str) -> str:
        return str(self._nodes[node]["type"])

    def _split_preds(self, cred: str) -> None:
        above = list(self.g.predecessors(cred))
        self._identities[cred] = {s for s in above if self.type(s) == IDENTITY}
        self._clients[cred] = {s for s in above if self.type(s) == CLIENT}

    def endpoints(self, cred: str) -> set[str]:
        """Endpoints a credential called."""
        found = self._endpoints.get(cred)
        if found is None:
            found = self._endpoints[cred] = {
                e for e in self.g.successors(cred) if self.type(e) == ENDPOINT
            }
        return found

    def identities(self, cred: str) -> set[str]:
        """Identities holding a credential."""
        if cred not in self._identities:
            self._split_preds(cred)
        return self._identities[cred]

    def clients(self, cred: str) -> set[str]:
        """Clients that presented a credential."""
        if cred not in self._clients:
            self._split_preds(cred)
        return self._clients[cred]

    def callers(self, endpoint: str) -> set[str]:
        """Credentials that called an endpoint."""
        found = self._callers.get(endpoint)
        if found is None:
            found = self._callers[endpoint] = {
                c for c in self.g.predecessors(endpoint) if self.type(c) == CREDENTIAL
            }
        return found

    def held(self, source: str) -> set[str]:
        """Credentials an identity holds or a client presented."""
        found = self._held.get(source)
        if found is None:
            found = self._held[source] = {
                c for c in self.g.successors(source) if self.type(c) == CREDENTIAL
            }
        return found

    def reach(self, source: str, gone: AbstractSet[str] = frozenset()) -> set[str]:
        """Endpoints a source (identity or client) reaches through credentials not in ``gone``."""
        if source in gone:
            return set()
        out: set[str] = set()
        for cred in self.held(source):
            if cred not in gone:
                out |= self.endpoints(cred)
        return out

    def exposure(self, endpoint: str, gone: AbstractSet[str] = frozenset()) -> dict[str, int]:
        """How many credentials, identities and clients still reach an endpoint."""
        creds = {c for c in self.callers(endpoint) if c not in gone}
        idents = {i for c in creds for i in self.identities(c)}
        clients = {k for c in creds for k in self.clients(c) if k not in gone}
        return {CREDENTIAL: len(creds), IDENTITY: len(idents), CLIENT: len(clients)}


def choke_points(g: nx.MultiDiGraph, top: int = 10) -> list[dict[str, Any]]:
    """Credentials and clients whose removal cuts the most (identity or client, endpoint) reach.

    A pair (source, endpoint) is cut by removing a credential when no other credential of that
    source reaches the endpoint; removing a client cuts all of its own pairs. ``exclusive`` lists
    endpoints nobody else reaches at all once it is gone.
    """
    layers = _Layers(g)
    types: dict[str, str] = dict(g.nodes(data="type"))
    creds = [n for n, t in types.items() if t == CREDENTIAL]
    sources = [n for n, t in types.items() if t in (IDENTITY, CLIENT)]
    endpoints = [n for n, t in types.items() if t == ENDPOINT]
    risky = {e for e in endpoints if _risky(g.nodes[e])}
    counts: dict[str, dict[str, int]] = {}
    for source in sources:
        table: dict[str, int] = defaultdict(int)
        for cred in layers.held(source):
            for endpoint in layers.endpoints(cred):
                table[endpoint] += 1
        counts[source] = table
    # per endpoint: the clients behind all its callers, and whether some caller has none
    behind: dict[str, set[str]] = {}
    open_: set[str] = set()
    for endpoint in endpoints:
        callers = layers.callers(endpoint)
        behind[endpoint] = set().union(*(layers.clients(c) for c in callers))
        if any(not layers.clients(c) for c in callers):
            open_.add(endpoint)
    rows: list[tuple[str, list[str], list[str]]] = []
    for cred in creds:
        reach = layers.endpoints(cred)
        cut = [
            e
            for s in layers.identities(cred) | layers.clients(cred)
            for e in reach
            if counts[s][e] == 1
        ]
        exclusive = [e for e in reach if len(layers.callers(e)) == 1]
        rows.append((cred, cut, exclusive))
    for node, kind in types.items():
        if kind != CLIENT:
            continue
        reach_set = set(counts.get(node, {}))
        exclusive = [e for e in reach_set if e not in open_ and behind[e] == {node}]
        rows.append((node, list(reach_set), exclusive))
    out = []
    for node, cut, exclusive in rows:
        if not cut:
            continue
        out.append(
            dict(
                _ref(g, node),
                cut_pairs=len(cut),
                cut_sensitive=sum(1 for e in cut if e in risky),
                exclusive=sorted(g.nodes[e]["id"] for e in exclusive),
            )
        )
    out.sort(
        key=lambda r: (
            -r["cut_sensitive"],
            -r["cut_pairs"],
            -len(r["exclusive"]),
            r["type"],
            r["id"],
        )
    )
    return out[:top]


def what_if(g: nx.MultiDiGraph, remove: Iterable[str]) -> dict[str, Any]:
    """Remove credentials (an identity stands for all it holds; a client for itself), recompute
    what the affected identities and clients still reach (``calls``: the requests made there with
    the credentials they keep, from any client) and who still reaches each endpoint."""
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
                f"what-if removes credentials, identities or clients, not a {attrs['type']}"
            )
    layers = _Layers(g)
    creds = {n for n in gone if layers.type(n) == CREDENTIAL}
    affected = {e for c in creds for e in layers.endpoints(c)}
    for node in gone - creds:  # removed clients
        affected |= layers.reach(node)
    identity_nodes = sorted({i for c in creds for i in layers.identities(c)})
    client_nodes = sorted({k for c in creds for k in layers.clients(c)} - gone)

    def sources_change(node: str) -> dict[str, Any]:
        before, now = layers.reach(node), layers.reach(node, gone)
        kept = [c for c in layers.held(node) if c not in gone]
        return dict(
            _ref(g, node),
            before=len(before),
            after=len(now),
            lost=sorted(g.nodes[e]["id"] for e in before - now),
            still_reaches=[
                dict(_endpoint(g, e), calls=sum(_requests(g, c, e) for c in kept))
                for e in sorted(now)
            ],
        )

    endpoints = []
    for endpoint in sorted(affected):
        before, now = layers.exposure(endpoint), layers.exposure(endpoint, gone)
        endpoints.append(
            dict(
                _endpoint(g, endpoint),
                exposure_before=before,
                exposure_after=now,
                unreached=now[CREDENTIAL] == 0,
            )
        )
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
