"""Exports: GraphML, GEXF and node-link JSON read back by networkx with the same nodes, edges and
attributes; DOT parsed back by pydot; OpenGraph validated against a JSON Schema written from its
documented rules; hostile captured strings keep every format valid; no secret in any export."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pytest

from discovery.case.store import Store
from discovery.views.graph.build import build_graph
from discovery.views.graph.export import (
    FORMATS,
    dot_quote,
    export,
    renamed_graph,
    scalar_graph,
    xml_safe,
)
from discovery.views.graph.opengraph import EDGE_KINDS, extension_schema, to_opengraph
from tests.discovery.casebuilder import API, SmallCase, build_small_case

SCHEMA = json.loads((Path(__file__).parent / "opengraph.schema.json").read_text())
HOSTILE = [
    '/a"b/{id}',
    "/line\nbreak\r\nx",
    "/<b>markup</b>&amp;[red]x[/red]",
    "/esc\x1b[31m\x00\x07bell\x9b",
    "/ends\\",
    '/x"]; evil=1; "y',
    "/bidi\u202eevil\u2066",
    "/\\N\\G\\l",
    "/dup",
    "/dup\x00",  # differs from the one above only by a character XML cannot carry
    "/dup\u202e",
]
RAW_SECRETS = (
    "token-A-aaaaaaaaaaaaaaaa",
    "token-B-bbbbbbbbbbbbbbbb",
    "aws-secret-cccccccccccc",
    "api-key-dddddddddddddd",
)


@pytest.fixture
def small(store: Store) -> SmallCase:
    return build_small_case(store)


def add_hostile(store: Store) -> None:
    """Endpoints with hostile templates, called by a credential with a hostile claim."""
    with store.transaction() as conn:
        for template in HOSTILE:
            conn.execute(
                "INSERT INTO endpoints(host, method, template, status, sensitive) "
                "VALUES (?, 'GET', ?, 'shadow', '{\"card\\n<x>\": 1}')",
                (API, template),
            )
        cred = conn.execute("SELECT id FROM credentials ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute(
            "UPDATE credentials SET claims = ? WHERE id = ?",
            (json.dumps({"sub": 'evil"\n</data><x>\x1b]0;t\x07'}), cred),
        )
        conn.execute(
            "INSERT INTO sightings(credential_id, endpoint_id, client_ip, requests, successes) "
            "SELECT ?, id, '10.0.0.5', 1, 1 FROM endpoints WHERE template IN "
            f"({','.join('?' for _ in HOSTILE)})",
            (cred, *HOSTILE),
        )


def edge_multiset(g: nx.Graph, drop: tuple[str, ...] = ()) -> Counter[tuple[Any, ...]]:
    return Counter(
        (u, v, tuple(sorted((k, val) for k, val in a.items() if k not in drop)))
        for u, v, a in g.edges(data=True)
    )


def test_graphml_round_trip(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    back = nx.read_graphml(io.BytesIO(export(g, "graphml")))
    flat = scalar_graph(g, xml=True)
    assert (back.number_of_nodes(), back.number_of_edges()) == (
        g.number_of_nodes(),
        g.number_of_edges(),
    )
    assert dict(back.nodes(data=True)) == dict(flat.nodes(data=True))
    # the edge key (its kind) comes back as the GraphML edge id
    assert all(a["id"] == a["kind"] for _, _, a in back.edges(data=True))
    assert edge_multiset(back, drop=("id",)) == edge_multiset(flat)
    # lists and dicts travel as JSON strings
    node = back.nodes[f"credential:{small.a}"]
    assert json.loads(node["claims"])["sub"] == "billing"
    assert back.nodes[f"service:{API}"]["shadow"] == 1


def test_gexf_round_trip(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    back = nx.read_gexf(io.BytesIO(export(g, "gexf")))
    flat = scalar_graph(g, xml=True)
    assert (back.number_of_nodes(), back.number_of_edges()) == (
        g.number_of_nodes(),
        g.number_of_edges(),
    )
    assert set(back.nodes) == set(flat.nodes)
    for name, attrs in flat.nodes(data=True):
        assert back.nodes[name] == attrs, name
    assert edge_multiset(back, drop=("networkx_key", "id")) == edge_multiset(flat)


def test_node_link_json_round_trip(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    data = json.loads(export(g, "json"))
    assert "edges" in data and "links" not in data
    back = nx.node_link_graph(data, edges="edges")
    assert back.is_multigraph() and back.is_directed()
    original = renamed_graph(g)
    assert dict(back.nodes(data=True)) == dict(original.nodes(data=True))
    assert back.nodes[f"credential:{small.a}"]["subject_id"] == small.a
    assert sorted(back.edges(keys=True, data=True), key=repr) == sorted(
        g.edges(keys=True, data=True), key=repr
    )


def test_dot_parses_with_the_same_shape(store: Store, small: SmallCase) -> None:
    pydot = pytest.importorskip("pydot")
    g = build_graph(store)
    (parsed,) = pydot.graph_from_dot_data(export(g, "dot").decode())
    assert len(parsed.get_nodes()) == g.number_of_nodes()
    assert len(parsed.get_edges()) == g.number_of_edges()
    kinds = Counter(e.get("label").strip('"') for e in parsed.get_edges())
    assert kinds == {"HOLDS": 4, "CALLS": 6, "PART_OF": 5, "PRESENTS": 4}


def _dot_unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"')
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}[nxt])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("text", [*HOSTILE, "", "plain", "\\", '"', 'a\\"b'])
def test_dot_quote_is_reversible_and_closed(text: str) -> None:
    quoted = dot_quote(text)
    assert "\n" not in quoted and "\r" not in quoted and "\x1b" not in quoted
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    for ch in "\x1b\x00\x07\x9b\u202e\u2066":
        expected = expected.replace(ch, "")
    assert _dot_unquote(quoted) == expected


def test_hostile_labels_keep_dot_graphml_and_gexf_valid(store: Store, small: SmallCase) -> None:
    pydot = pytest.importorskip("pydot")
    add_hostile(store)
    g = build_graph(store)
    nodes, edges = g.number_of_nodes(), g.number_of_edges()
    dot = export(g, "dot").decode()
    (parsed,) = pydot.graph_from_dot_data(dot)
    assert (len(parsed.get_nodes()), len(parsed.get_edges())) == (nodes, edges)
    labels = {_dot_unquote(n.get("label")) for n in parsed.get_nodes()}
    assert f'{API} GET /a"b/{{id}}' in labels
    assert f"{API} GET /line\nbreak\nx" in labels
    assert f"{API} GET /esc[31mbell" in labels  # controls gone, text kept
    assert "evil" not in {k for n in parsed.get_nodes() for k in n.get_attributes()}
    dot_binary = shutil.which("dot")
    if dot_binary:  # Graphviz itself, when installed, must accept it too
        subprocess.run(
            [dot_binary, "-Tsvg", "-o", "/dev/null"], input=dot.encode(), check=True, timeout=60
        )
    graphml = nx.read_graphml(io.BytesIO(export(g, "graphml")))
    gexf = nx.read_gexf(io.BytesIO(export(g, "gexf")))
    for back in (graphml, gexf):
        assert (back.number_of_nodes(), back.number_of_edges()) == (nodes, edges)
        labels = {a["label"] for _, a in back.nodes(data=True)}
        assert f"{API} GET /<b>markup</b>&amp;[red]x[/red]" in labels
        assert f"{API} GET /esc[31mbell" in labels  # XML cannot carry ESC, NUL, BEL, C1
    claims = [a["claims"] for _, a in graphml.nodes(data=True) if "claims" in a]
    # inside a JSON-string attribute, controls survive as JSON escapes (valid XML, exact value)
    assert any(json.loads(c).get("sub") == 'evil"\n</data><x>\x1b]0;t\x07' for c in claims)
    assert xml_safe("a\x00b\x1bc\ud800d\ufffee") == "abcde"


def test_opengraph_follows_the_documented_rules(store: Store, small: SmallCase) -> None:
    add_hostile(store)
    g = build_graph(store)
    doc = json.loads(export(g, "opengraph"))
    assert doc == json.loads(json.dumps(to_opengraph(g)))
    jsonschema.validate(doc, SCHEMA)
    nodes, edges = doc["graph"]["nodes"], doc["graph"]["edges"]
    assert (len(nodes), len(edges)) == (g.number_of_nodes(), g.number_of_edges())
    node_ids = [n["id"] for n in nodes]
    assert len(set(node_ids)) == len(node_ids)
    for node in nodes:
        assert all(kind.startswith("IRC_") for kind in node["kinds"])
        assert all(isinstance(v, str | int | float | bool) for v in node["properties"].values())
        assert "objectid" not in node["properties"]
    for edge in edges:
        assert edge["start"]["value"] in set(node_ids) and edge["end"]["value"] in set(node_ids)
        assert edge["start"]["match_by"] == edge["end"]["match_by"] == "id"
    used = {e["kind"] for e in edges}
    # every kind but ISSUED (no token endpoint in this case: test_token_lineage shows it)
    assert used == set(EDGE_KINDS.values()) - {"IRC_Issued"}
    shadow = [n for n in nodes if "IRC_ShadowEndpoint" in n["kinds"]]
    assert shadow and all(n["kinds"][0] == "IRC_Endpoint" for n in shadow)
    first = next(n for n in nodes if n["id"] == f"credential:{small.a}")
    assert first["properties"]["first_seen"].endswith("Z")


def test_opengraph_extension_schema_marks_traversable_edges() -> None:
    ext = extension_schema()
    assert ext["schema"]["namespace"] == "IRC"
    relations = {r["name"]: r["is_traversable"] for r in ext["relationship_kinds"]}
    assert relations == {
        "IRC_Holds": True,
        "IRC_Presents": True,
        "IRC_Calls": True,
        "IRC_PartOf": False,
        "IRC_Issued": True,
    }
    for kind in ext["node_kinds"]:
        assert kind["name"].startswith("IRC_") and isinstance(kind["is_display_kind"], bool)
    declared = {k["name"] for k in ext["node_kinds"]}
    for env in ext["environments"]:
        assert env["environment_kind"] in declared
        assert set(env["principal_kinds"]) <= declared


def test_no_secret_or_fingerprint_in_any_export(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    fingerprints = [r[0] for r in store.conn.execute("SELECT fingerprint FROM credentials")]
    for fmt in FORMATS:
        data = export(g, fmt)
        for secret in (*RAW_SECRETS, *fingerprints):
            assert secret.encode() not in data, (fmt, secret[:8])


def test_unknown_format_is_refused(store: Store, small: SmallCase) -> None:
    with pytest.raises(ValueError, match="graphml"):
        export(build_graph(store), "svg")
