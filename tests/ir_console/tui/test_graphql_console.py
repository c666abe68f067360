"""The console's endpoint screen shows a GraphQL operation as what it is: its protocol, its
name and its outcomes beside the HTTP statuses (a real case built from parsed requests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchanges
from ir_console.tui.app import ConsoleApp
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio

SECRET = "gqk_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a"


def _request(body: object, answer: object, ts: float) -> ObservedExchange:
    return ObservedExchange(
        ts=ts,
        source="pcap",
        evidence=f"frames {int(ts)}",
        client_ip="10.0.0.7",
        method="POST",
        target="/graphql",
        host="api.example.test",
        status=200,
        request_headers=(("Content-Type", "application/json"),),
        request_body=json.dumps(body).encode(),
        response_body=json.dumps(answer).encode(),
    )


@pytest.fixture
def graphql_case(tmp_path: Path) -> Path:
    path = tmp_path / "case.db"
    mutation = "mutation CreateUser($k: String!) { createUser(apiKey: $k) { id } }"
    items = [
        _request({"query": mutation, "variables": {"k": SECRET}}, {"data": {"createUser": {}}}, 1),
        _request({"query": mutation, "variables": {"k": SECRET}}, {"errors": [{"m": "x"}]}, 2),
        _request({"query": "{ health }"}, {"data": {"health": "ok"}}, 3),
    ]
    with Store.open(path) as store:
        store.add_exchanges([e for o in items for e in to_exchanges(o, store.fingerprint)])
        recompute(store)
    return path


async def test_endpoint_screen_shows_the_operation(graphql_case: Path) -> None:
    app = ConsoleApp(graphql_case)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        text = screen_text(app)
        assert "/graphql mutation CreateUser" in text and "/graphql query health" in text
        await press(pilot, "slash")
        await type_text(pilot, "CreateUser")
        await press(pilot, "escape", "z")
        text = screen_text(app)
        assert "protocol: graphql" in text
        assert "operation: mutation CreateUser" in text
        assert "data: 1" in text and "errors: 1" in text
        assert SECRET not in text
