"""Conversion finds a GraphQL call by every form its body can take (the compiled test that
skips the GraphQL parser for other bodies lets each through), and leaves other bodies as one
exchange."""

from __future__ import annotations

import json

import pytest

from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchanges
from discovery.redact.secrets import Fingerprinter

FP = Fingerprinter(b"k" * 32)
HASH = "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"


def _post(body: bytes, content_type: str, target: str = "/graphql") -> ObservedExchange:
    return ObservedExchange(
        ts=1.0,
        source="pcap",
        evidence="frames 1-2",
        method="POST",
        target=target,
        host="api.example",
        status=200,
        http_version="1.1",
        request_headers=(("Host", "api.example"), ("Content-Type", content_type)),
        request_body=body,
    )


@pytest.mark.parametrize(
    ("body", "content_type", "operations"),
    [
        # an application/graphql body is the document itself: no "query" key anywhere
        (b"{ health }", "application/graphql", ["query health"]),
        (b"query Me { me { id } }", "Application/GraphQL; charset=utf-8", ["query Me"]),
        # a persisted query names a hash instead of a document
        (
            json.dumps(
                {"operationName": "Feed", "extensions": {"persistedQuery": {"sha256Hash": HASH}}}
            ).encode(),
            "application/json",
            ["persisted Feed"],
        ),
        (
            json.dumps([{"query": "{ a }"}, {"query": "mutation M { b }"}]).encode(),
            "application/json",
            ["query a", "mutation M"],
        ),
    ],
)
def test_each_form_of_a_graphql_body_gives_its_operations(
    body: bytes, content_type: str, operations: list[str]
) -> None:
    stored = to_exchanges(_post(body, content_type), FP)
    assert [ex.operation for ex in stored] == operations
    assert {ex.protocol for ex in stored} == {"graphql"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"sku": "A-1", "qty": 2}).encode(), "application/json"),
        (b"query=shoes&page=2", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
def test_other_bodies_stay_one_exchange(body: bytes, content_type: str) -> None:
    (ex,) = to_exchanges(_post(body, content_type), FP)
    assert ex.protocol is None and ex.operation is None


def test_a_get_query_is_read_without_a_body() -> None:
    obs = _post(b"", "application/json", target="/graphql?query=%7B%20health%20%7D")
    (ex,) = to_exchanges(obs._replace(method="GET"), FP)
    assert ex.operation == "query health"
