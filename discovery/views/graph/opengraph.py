"""BloodHound OpenGraph JSON and the extension schema that declares our kinds.

Rules followed (BloodHound OpenGraph schema): each node has a string ``id``, 1-3 ``kinds`` (ours
carry the ``IRC_`` namespace prefix) and primitive ``properties`` only (string, number, boolean;
no ``objectid``, no nulls, lists and dicts flattened to JSON strings); each edge has a ``kind``
matching ``^[A-Za-z0-9_]+$`` and ``start``/``end`` that match a node by ``id``.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from discovery.timeutil import iso

NAMESPACE = "IRC"
SOURCE_KIND = "IRCBase"
NODE_KINDS = {
    "identity": "IRC_Identity",
    "credential": "IRC_Credential",
    "client": "IRC_Client",
    "endpoint": "IRC_Endpoint",
    "service": "IRC_Service",
}
EDGE_KINDS = {
    "HOLDS": "IRC_Holds",
    "CALLS": "IRC_Calls",
    "PART_OF": "IRC_PartOf",
    "PRESENTS": "IRC_Presents",
    "ISSUED": "IRC_Issued",
}
# Traversable: control flows along the edge (holding or presenting a credential lets you use it;
# a credential that called an endpoint can call it again). PART_OF is membership, not control.
# ISSUED: the credential that obtained a token can obtain another one.
TRAVERSABLE = {
    "IRC_Holds": True,
    "IRC_Presents": True,
    "IRC_Calls": True,
    "IRC_PartOf": False,
    "IRC_Issued": True,
}
_EXTRA_ENDPOINT_KINDS = {"shadow": "IRC_ShadowEndpoint", "zombie": "IRC_ZombieEndpoint"}
_TIMES = ("first_seen", "last_seen", "issued_at", "expires_at")
_RESERVED = frozenset({"objectid"})


def _properties(attrs: dict[str, Any]) -> dict[str, str | int | float | bool]:
    props: dict[str, str | int | float | bool] = {}
    for key, value in attrs.items():
        if value is None or key in _RESERVED:
            continue
        if key in _TIMES and isinstance(value, int | float) and not isinstance(value, bool):
            props[key] = iso(float(value)) or ""
        elif isinstance(value, bool | int | float | str):
            props[key] = value
        else:
            props[key] = json.dumps(value, sort_keys=True, default=str)
    return props


def node_kinds(attrs: dict[str, Any]) -> list[str]:
    """Our kinds for a node: its type's kind, plus one for shadow/zombie endpoints."""
    kinds = [NODE_KINDS[attrs["type"]]]
    extra = _EXTRA_ENDPOINT_KINDS.get(attrs.get("status") or "")
    if attrs["type"] == "endpoint" and extra:
        kinds.append(extra)
    return kinds


def to_opengraph(g: nx.MultiDiGraph) -> dict[str, Any]:
    """The graph as an OpenGraph document (``metadata.source_kind`` marks it as ours)."""
    nodes = []
    for node, attrs in g.nodes(data=True):
        props = _properties(attrs)
        props["name"] = str(attrs.get("label") or node)
        props["displayname"] = props["name"]
        props["node_type"] = str(attrs["type"])
        props.pop("type", None)
        props.pop("id", None)
        nodes.append({"id": str(node), "kinds": node_kinds(attrs), "properties": props})
    edges = []
    for u, v, key, attrs in g.edges(keys=True, data=True):
        props = _properties({k: val for k, val in attrs.items() if k != "kind"})
        edge: dict[str, Any] = {
            "kind": EDGE_KINDS[str(key)],
            "start": {"value": str(u), "match_by": "id"},
            "end": {"value": str(v), "match_by": "id"},
        }
        if props:
            edge["properties"] = props
        edges.append(edge)
    return {"metadata": {"source_kind": SOURCE_KIND}, "graph": {"nodes": nodes, "edges": edges}}


def extension_schema() -> dict[str, Any]:
    """The OpenGraph extension that declares our node and edge kinds (traversable ones marked)."""
    icons = {
        "IRC_Identity": "user",
        "IRC_Credential": "key",
        "IRC_Client": "desktop",
        "IRC_Endpoint": "plug",
        "IRC_Service": "server",
        "IRC_ShadowEndpoint": "ghost",
        "IRC_ZombieEndpoint": "skull",
    }
    descriptions = {
        "IRC_Identity": "A non-human identity (service account, partner, bot) seen or registered",
        "IRC_Credential": "An API credential seen in traffic (redacted; never the raw secret)",
        "IRC_Client": "A client address or workload that presented credentials",
        "IRC_Endpoint": "An API endpoint: host, method and path template",
        "IRC_Service": "A host serving API endpoints",
        "IRC_ShadowEndpoint": "An endpoint no loaded spec documents",
        "IRC_ZombieEndpoint": "A deprecated endpoint that is still called",
    }
    edge_descriptions = {
        "IRC_Holds": "The identity holds the credential",
        "IRC_Presents": "The client presented the credential",
        "IRC_Calls": "The credential was used to call the endpoint",
        "IRC_PartOf": "The endpoint is served by the service",
        "IRC_Issued": "The credential obtained the token at an OAuth token endpoint",
    }
    return {
        "schema": {"name": "ir_console", "version": "1.0.0", "namespace": NAMESPACE},
        "node_kinds": [
            {
                "name": kind,
                "display_name": kind.removeprefix("IRC_"),
                "description": descriptions[kind],
                "is_display_kind": True,
                "icon": icons[kind],
            }
            for kind in icons
        ],
        "relationship_kinds": [
            {
                "name": kind,
                "description": edge_descriptions[kind],
                "is_traversable": TRAVERSABLE[kind],
            }
            for kind in EDGE_KINDS.values()
        ],
        "environments": [
            {
                "environment_kind": "IRC_Service",
                "source_kind": SOURCE_KIND,
                "principal_kinds": ["IRC_Identity", "IRC_Credential", "IRC_Client"],
            },
        ],
    }
