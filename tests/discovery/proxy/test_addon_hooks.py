"""The addon's hooks driven by mitmproxy's own test harness (``taddons``/``tflow``), in process.

Each behaviour here also has one real ``mitmdump`` test (test_proxy_capture.py,
test_proxy_enforcement.py, tests/reliability/test_proxy_*); these check the hooks' decisions
quickly and exactly: options refused with mitmproxy's error, a blocked credential answered 403
before any upstream is chosen, a client over its connection cap refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from discovery.case import blocklist
from discovery.case.store import Store
from discovery.proxy.addon import IrConsole
from discovery.proxy.enforcement import Enforcer
from tests.conftest import make_exchange, make_sighting

TOKEN = "tok-hooks-blocked-0123456789abcdef"
OTHER = "tok-hooks-allowed-0123456789abcdef"


@pytest.fixture
def blocked_case(tmp_path: Path) -> Path:
    """A real case whose blocklist holds TOKEN's credential."""
    case = tmp_path / "case.db"
    with Store.open(case) as store:
        store.add_exchanges([make_exchange(credentials=(make_sighting(store, TOKEN),))])
        (cid,) = store.conn.execute("SELECT id FROM credentials").fetchone()
        blocklist.block_credential(store, cid)
    return case


@pytest.fixture
def enforcing(blocked_case: Path) -> Iterator[IrConsole]:
    """The addon with the case's enforcer and no writer (recording starts a process)."""
    addon = IrConsole()
    with taddons.context(addon):
        addon.enforcer = Enforcer(blocked_case, poll_seconds=60)
        try:
            yield addon
        finally:
            addon.done()


def _request(token: str) -> tflow.http.HTTPFlow:
    flow = tflow.tflow()
    flow.request.headers["Authorization"] = f"Bearer {token}"
    return flow


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("irc_queue", 0, "irc_queue must be at least 1"),
        ("irc_batch", 0, "irc_batch must be at least 1"),
        ("irc_poll_ms", 0, "irc_poll_ms must be at least 1"),
        ("irc_header_timeout", -1, "irc_header_timeout must be 0 (no limit) or more"),
        ("irc_max_client_conns", -5, "irc_max_client_conns must be 0 (no limit) or more"),
        ("irc_enforce", True, "irc_enforce needs irc_db"),
    ],
)
def test_a_bad_option_is_refused_with_its_name(option: str, value: object, says: str) -> None:
    addon = IrConsole()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match=r".*") as refused:
            tctx.configure(addon, **{option: value})
        assert says in str(refused.value)
        assert addon.writer is None and addon.enforcer is None  # nothing half started


def test_a_blocked_credential_is_answered_403_without_the_secret(enforcing: IrConsole) -> None:
    flow = _request(TOKEN)
    enforcing.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 403
    body = json.loads(flow.response.get_text() or "")
    assert body["error"] == "blocked" and body["reference"].startswith("irc-")
    assert TOKEN not in flow.response.get_text(), "the answer must never echo the secret"


def test_another_credential_passes_untouched(enforcing: IrConsole) -> None:
    flow = _request(OTHER)
    enforcing.requestheaders(flow)
    assert flow.response is None


def test_a_client_over_its_connection_cap_is_refused() -> None:
    addon = IrConsole()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, irc_max_client_conns=2)
        clients = [tflow.tclient_conn() for _ in range(3)]
        for client in clients:
            client.peername = ("192.0.2.7", 40000)
            addon.client_connected(client)
        assert clients[0].error is None and clients[1].error is None
        assert clients[2].error is not None and "refused" in clients[2].error
        addon.client_disconnected(clients[2])  # mitmproxy closes the refused one
        addon.client_disconnected(clients[0])
        again = tflow.tclient_conn()
        again.peername = ("192.0.2.7", 40001)
        addon.client_connected(again)
        assert again.error is None, "a closed connection frees its place"
