"""``http.request`` against a loopback server: body forms, expected statuses, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from tests.runbooks.servers import http_server


def call(store: Store, **args: Any) -> dict[str, Any]:
    action = get("http.request")
    ctx = ActionContext(store=store, run_id="r", step_id="s", target={}, actor="t", timeout=10)
    return action.run(action.parse(args), ctx)


@pytest.mark.parametrize("key", ["json", "json_body"])  # the YAML name and the field name
def test_json_body(store: Store, key: str) -> None:
    with http_server(
        lambda seen: (201, {"Content-Type": "application/json"}, b'{"id": "new-key"}')
    ) as server:
        out = call(
            store, url=server.url + "/keys", **{key: {"owner": "ci"}}, headers={"X-Team": "ir"}
        )
        seen = server.requests[0]
    assert out == {"status": 201, "body": {"id": "new-key"}}
    assert seen.method == "POST" and seen.json() == {"owner": "ci"}
    assert seen.headers["x-team"] == "ir"


def test_form_and_method(store: Store) -> None:
    with http_server() as server:
        call(store, url=server.url + "/k/1", method="DELETE", form={"why": "leak"})
        assert (server.requests[0].method, server.requests[0].form()) == (
            "DELETE",
            {"why": ["leak"]},
        )


def test_unexpected_status_fails(store: Store) -> None:
    with http_server(lambda seen: (409, {}, b"conflict")) as server:
        with pytest.raises(ActionError, match="HTTP 409: conflict"):
            call(store, url=server.url + "/x")
        assert call(store, url=server.url + "/x", expect_status=[409])["status"] == 409


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y", "/relative"])
def test_only_http_urls(store: Store, url: str) -> None:
    with pytest.raises(ActionError, match="url must be http"):
        call(store, url=url)
