"""``oauth.revoke`` against a real RFC 7009 endpoint built with Authlib on loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from tests.conftest import make_exchange, make_sighting
from tests.runbooks.actions.oauth_server import CLIENT_ID, CLIENT_SECRET, oauth_server

LEAKED = "at-leaked-0123456789abcdefghijkl"


def ctx(store: Store, **kw: Any) -> ActionContext:
    return ActionContext(
        store=store, run_id="r-test", step_id="s", target={}, actor="test", timeout=10, **kw
    )


def revoke(store: Store, **args: Any) -> dict[str, Any]:
    action = get("oauth.revoke")
    return action.run(action.parse(args), ctx(store))


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_revoked_token_stops_working(store: Store, method: str) -> None:
    with oauth_server() as server:
        server.issue(LEAKED)
        assert (
            httpx.get(
                server.url + "/api/me", headers={"Authorization": f"Bearer {LEAKED}"}
            ).status_code
            == 200
        )
        out = revoke(
            store,
            endpoint=server.revocation_url,
            token=LEAKED,
            token_type_hint="access_token",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            auth_method=method,
        )
        assert {k: v for k, v in out.items() if k != "containment"} == {
            "endpoint": server.revocation_url,
            "status": 200,
            "revoked": True,
        }
        assert out["containment"]["kind"] == "revoked" and out["containment"]["done"] is True
        assert server.tokens[LEAKED].revoked
        assert (
            httpx.get(
                server.url + "/api/me", headers={"Authorization": f"Bearer {LEAKED}"}
            ).status_code
            == 401
        )
        sent = server.revocations[0]
        assert sent["content_type"] == "application/x-www-form-urlencoded"
        assert sent["token"] == LEAKED and sent["token_type_hint"] == "access_token"
        if method == "client_secret_basic":
            assert sent["authorization"].startswith("Basic ") and "client_secret" not in sent
        else:
            assert sent["client_secret"] == CLIENT_SECRET and not sent["authorization"]


def test_wrong_client_secret_is_an_action_error(store: Store) -> None:
    with oauth_server() as server:
        server.issue(LEAKED)
        with pytest.raises(ActionError, match=r"HTTP 401.*invalid_client"):
            revoke(
                store,
                endpoint=server.revocation_url,
                token=LEAKED,
                client_id=CLIENT_ID,
                client_secret="wrong",
            )
        assert not server.tokens[LEAKED].revoked


def test_token_of_another_client_is_refused(store: Store) -> None:
    with oauth_server() as server:
        server.issue(LEAKED, client_id="other")
        with pytest.raises(ActionError, match=r"HTTP 400.*invalid_grant"):
            revoke(
                store,
                endpoint=server.revocation_url,
                token=LEAKED,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
            )
        assert not server.tokens[LEAKED].revoked


def test_secret_not_matching_the_case_credential_is_never_sent(store: Store) -> None:
    sighting = make_sighting(store, LEAKED, kind="bearer")
    store.add_exchanges([make_exchange(credentials=(sighting,))])
    cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
    with oauth_server() as server:
        server.issue("another-token-entirely-xyz")
        with pytest.raises(ActionError, match="does not match credential"):
            revoke(
                store,
                endpoint=server.revocation_url,
                token="another-token-entirely-xyz",
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                credential=cid,
            )
        assert server.revocations == []
        revoke(
            store,
            endpoint=server.revocation_url,
            token=LEAKED,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            credential=cid,
        )
        assert len(server.revocations) == 1


def test_unreachable_endpoint_is_an_action_error(store: Store) -> None:
    with oauth_server() as server:
        url = server.revocation_url
    with pytest.raises(ActionError, match=r"oauth\.revoke: ConnectError"):
        revoke(store, endpoint=url, token=LEAKED, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def test_injected_transport_is_used(store: Store) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    action = get("oauth.revoke")
    args = action.parse(
        {
            "endpoint": "https://as.example/revoke",
            "token": LEAKED,
            "auth_method": "none",
            "client_id": "public",
        }
    )
    action.run(args, ctx(store, transport=httpx.MockTransport(handler)))
    assert seen[0].content == f"token={LEAKED}&client_id=public".encode()
