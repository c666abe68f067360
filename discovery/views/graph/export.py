"""Graph exports: GraphML and GEXF (scalar attributes), node-link JSON, and Graphviz DOT.

Captured strings are hostile: XML formats drop characters XML 1.0 cannot carry; DOT quotes every
id and value and escapes backslashes, quotes and line breaks, so no label can end a string,
inject attributes, or switch to an HTML-like label.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import networkx as nx

FORMATS = ("graphml", "gexf", "json", "dot", "opengraph")

_XML_INVALID = re.compile(
    "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x7f-\x9f]"
    "|[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi controls: no display tricks
)
_DOT_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def xml_safe(text: str) -> str:
    """Text with every character XML 1.0 cannot carry (and C1 and bidi controls) removed."""
    return _XML_INVALID.sub("", text)


_ID_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]"
)


def node_key(node: object) -> str:
    """A node id every format carries unchanged: unsafe characters become ``\\uXXXX`` escapes
    (escaped, not dropped, so two ids never collapse into one)."""
    return _ID_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(node))


def scalar(value: Any, *, xml: bool = False) -> str | int | float | bool | None:
    """One attribute value as a scalar: lists and dicts become JSON strings; None stays None."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return xml_safe(text) if xml else text


def scalar_graph(g: nx.MultiDiGraph, *, xml: bool = False) -> nx.MultiDiGraph:
    """A copy of ``g`` whose attributes are all scalars (None-valued attributes dropped, a node's
    ``id`` attribute renamed ``subject_id``) and whose node ids are ``node_key``-escaped."""
    out: nx.MultiDiGraph = nx.MultiDiGraph()
    out.graph.update({k: scalar(v, xml=xml) for k, v in g.graph.items() if v is not None})

    def flat(attrs: dict[str, Any]) -> dict[str, Any]:
        # "id" would become the GEXF node id: the subject id travels as "subject_id"
        return {
            ("subject_id" if k == "id" else k): scalar(v, xml=xml)
            for k, v in attrs.items()
            if v is not None
        }

    out.add_nodes_from((node_key(n), flat(a)) for n, a in g.nodes(data=True))
    out.add_edges_from(
        (node_key(u), node_key(v), k, flat(a)) for u, v, k, a in g.edges(keys=True, data=True)
    )
    return out


def to_graphml(g: nx.MultiDiGraph) -> bytes:
    """GraphML (UTF-8), every attribute a scalar."""
    buffer = io.BytesIO()
    nx.write_graphml(scalar_graph(g, xml=True), buffer, encoding="utf-8")
    return buffer.getvalue()


def to_gexf(g: nx.MultiDiGraph) -> bytes:
    """GEXF 1.2 (UTF-8), every attribute a scalar."""
    buffer = io.BytesIO()
    nx.write_gexf(scalar_graph(g, xml=True), buffer, encoding="utf-8")
    return buffer.getvalue()


def renamed_graph(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of ``g`` with attributes as they are, except a node's ``id`` is ``subject_id``
    (node-link JSON names the node itself ``id``)."""
    out: nx.MultiDiGraph = nx.MultiDiGraph()
    out.graph.update(g.graph)
    out.add_nodes_from(
        (n, {("subject_id" if k == "id" else k): v for k, v in a.items()})
        for n, a in g.nodes(data=True)
    )
    out.add_edges_from(g.edges(keys=True, data=True))
    return out


def to_node_link(g: nx.MultiDiGraph) -> bytes:
    """Node-link JSON (``edges`` key); ASCII, so no raw control bytes reach a terminal."""
    data = nx.node_link_data(renamed_graph(g), edges="edges")
    return (json.dumps(data, ensure_ascii=True, sort_keys=True, default=str) + "\n").encode()


def dot_quote(value: object) -> str:
    """A DOT double-quoted string that shows ``value`` literally (controls and bidi removed)."""
    text = _DOT_CONTROL.sub("", str(value))
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{text}"'


def _dot_attrs(attrs: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(attrs.items()):
        key = f"ir_{key}" if key in _DOT_RENAMED else key
        parts.append(f"{key if _DOT_NAME.match(key) else dot_quote(key)}={dot_quote(value)}")
    return f" [{', '.join(parts)}]" if parts else ""


_DOT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOT_RENAMED = frozenset({"name"})  # clashes with tools' own node fields (pydot's Node.name)
_SHAPES = {
    "identity": "ellipse",
    "credential": "note",
    "client": "box3d",
    "endpoint": "box",
    "service": "cylinder",
}


def to_dot(g: nx.MultiDiGraph) -> bytes:
    """Graphviz DOT: a digraph with one statement per node and edge, all ids quoted."""
    flat = scalar_graph(g)
    lines = ['digraph "ir-console" {', "  rankdir=LR;"]
    for node, attrs in flat.nodes(data=True):
        shown = dict(attrs)
        shown.setdefault("shape", _SHAPES.get(str(attrs.get("type")), "ellipse"))
        lines.append(f"  {dot_quote(node)}{_dot_attrs(shown)};")
    for u, v, key, attrs in flat.edges(keys=True, data=True):
        shown = dict(attrs, label=key)
        lines.append(f"  {dot_quote(u)} -> {dot_quote(v)}{_dot_attrs(shown)};")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def export(g: nx.MultiDiGraph, fmt: str) -> bytes:
    """The graph in one of ``FORMATS``."""
    if fmt == "graphml":
        return to_graphml(g)
    if fmt == "gexf":
        return to_gexf(g)
    if fmt == "json":
        return to_node_link(g)
    if fmt == "dot":
        return to_dot(g)
    if fmt == "opengraph":
        from discovery.views.graph.opengraph import to_opengraph

        return (json.dumps(to_opengraph(g), ensure_ascii=True, indent=1) + "\n").encode()
    raise ValueError(f"unknown graph format {fmt!r}; use one of {', '.join(FORMATS)}")
