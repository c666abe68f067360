"""GraphQL requests recognised by content and parsed within bounds (discovery.wire.graphql)."""

from __future__ import annotations

import json
import time

import pytest

from discovery.wire import graphql as g
from discovery.wire.graphql import calls_of, response_outcomes


def post(
    payload: object, content_type: str = "application/json"
) -> tuple[g.GraphQLCall, ...] | None:
    return calls_of("POST", [], content_type, json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("calls", "labels"),
    [
        (
            post({"query": "mutation createUser { createUser(n: 1) { id } }"}),
            ["mutation createUser"],
        ),
        (post({"query": "{ viewer { login } user { id } }"}), ["query user,viewer"]),
        (calls_of("GET", [("query", "{ me { id } }")], None, b""), ["query me"]),
        (
            calls_of("POST", [], "application/graphql", b"subscription S { ticks }"),
            ["subscription S"],
        ),
        (post([{"query": "query A { a }"}, {"query": "query B { b }"}]), ["query A", "query B"]),
        (
            post({"query": "query A { a } query B { b }", "operationName": "B"}),
            ["query B"],  # the operation the server executes
        ),
        (
            post(
                {
                    "operationName": "Feed",
                    "extensions": {"persistedQuery": {"sha256Hash": "ab" * 32}},
                }
            ),
            ["persisted Feed"],
        ),
        (
            calls_of(
                "GET",
                [("extensions", json.dumps({"persistedQuery": {"sha256Hash": "c" * 64}}))],
                None,
                b"",
            ),
            ["persisted sha256:cccccccccccccccc"],
        ),
        (post({"query": "{ ...F } fragment F on Query { a { b } }"}), ["query a"]),
    ],
)
def test_recognised(calls: tuple[g.GraphQLCall, ...] | None, labels: list[str]) -> None:
    assert calls is not None
    assert [c.operation.label if c.operation else c.rejected for c in calls] == labels


@pytest.mark.parametrize(
    "calls",
    [
        calls_of("GET", [("query", "red shoes")], None, b""),  # a search box, not GraphQL
        calls_of("GET", [("query", "query for red shoes")], None, b""),
        calls_of("GET", [("query", '{"status": "open"}')], None, b""),  # a JSON filter
        post({"query": "query for red shoes"}),
        post({"query": '{"match": {"title": "x"}}'}),
        post({"query": {"match": {"title": "x"}}}),  # a search DSL's query object
        post({"name": "x"}),
        calls_of("POST", [], "text/plain", b"query me"),
        calls_of(None, [("query", "{ a }")], None, b""),
    ],
)
def test_not_graphql(calls: tuple[g.GraphQLCall, ...] | None) -> None:
    assert calls is None


def test_facts_through_fragments_and_aliases() -> None:
    (call,) = (
        post(
            {
                "query": 'query Q($t: String) { a: user(token: $t, pw: "inline-secret") '
                "{ ...U } } fragment U on User { id friends { x: id } ...U }",
                "variables": {"t": "value-1", "nested": {"k": "value-2"}},
            }
        )
        or ()
    )
    op = call.operation
    assert op is not None
    assert op.root_fields == ("user",)
    assert op.aliases == 2 and op.depth == 3
    assert "user.friends.id" in op.fields
    # the values the request carried go to the detectors, names only are kept
    assert ("pw", "inline-secret") in call.values
    assert ("t", "value-1") in call.values and ("k", "value-2") in call.values
    assert call.variable_names == ("t", "nested")


def _timed(document: str) -> tuple[str | None, float]:
    g._parsed_cached.cache_clear()
    start = time.process_time()
    (call,) = post({"query": document}) or ()
    return call.rejected, time.process_time() - start


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{ " + "a { " * 5000 + "b" + " }" * 5000 + " }", "nesting"),
        ("{ " + "a { " * 40 + "b" + " }" * 40 + " }", "depth"),
        ("{ " + " ".join(f"a{i}: f" for i in range(10_000)) + " }", "size"),
        ("{" + " ".join(f"a{i}:f" for i in range(6_000)) + "}", "tokens"),
        ("{ " + " ".join(f"a{i}: f" for i in range(600)) + " }", "aliases"),
        ('{ f(s: "' + "x" * 60_000 + '") }', "string"),
        ('{ f(s: """' + "x" * 60_000 + '""") }', "string"),
        ("{ a } { b }", "ambiguous_operation"),
        ("{ a ", "syntax"),
        ("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A a }", None),  # a cycle ends
    ],
    ids=[
        "deep-nesting",
        "depth",
        "10000-aliases-too-large",
        "6000-aliases-tokens",
        "600-aliases",
        "huge-string",
        "huge-block-string",
        "two-anonymous",
        "syntax",
        "fragment-cycle",
    ],
)
def test_hostile_documents_rejected_with_reason(document: str, reason: str | None) -> None:
    rejected, _cpu = _timed(document)
    assert rejected == reason


def test_wide_fragments_bounded_by_walk() -> None:
    # each fragment spreads the next one 4 times: 4^8 field visits if expanded naively
    parts = ["{ ...F0 }"]
    for i in range(8):
        parts.append(
            f"fragment F{i} on Q {{ a {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} ...F{i + 1} }} }}"
        )
    parts.append("fragment F8 on Q { leaf }")
    rejected, _cpu = _timed(" ".join(parts))
    assert rejected == "complexity"


def test_outcomes_per_call() -> None:
    body = json.dumps(
        [{"data": {"a": 1}}, {"errors": [{"message": "no"}]}, {"data": {"b": None}, "errors": [{}]}]
    ).encode()
    assert response_outcomes(body, 4) == ["data", "errors", "errors", None]
    assert response_outcomes(b'{"data": {"a": 1}, "errors": [{"m": 1}]}', 1) == ["data+errors"]
    assert response_outcomes(b"<html>", 1) == [None]
