"""The same grpcio calls through mitmdump with our addon: mitmproxy does not take HTTP/2 with prior
knowledge in cleartext ("not supported"), so the client speaks TLS trusting mitmproxy's CA, to a
reverse proxy in front of the lab's server (TLS too). The case gets the same calls as from the
capture: methods, grpc-status outcomes (trailers), scanned messages, metadata credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.case.store import Store
from tests.discovery.grpc.conftest import Captured
from tests.discovery.grpc.grpc_lab import call_everything, serve
from tests.discovery.proxyfixtures import mitmdump, self_signed_cert

pytestmark = pytest.mark.integration

ROWS = (
    "SELECT method, path, status, error, sensitive, protocol, outcome, facts FROM exchanges "
    "ORDER BY ts, id"
)


def test_grpc_through_the_proxy_is_recorded_as_from_the_capture(
    captured: Captured, tmp_path: Path
) -> None:
    case = tmp_path / "proxy.db"
    with (
        serve(captured.compiled, self_signed_cert(tmp_path)) as lab,
        mitmdump(
            tmp_path / "conf",
            "--mode",
            f"reverse:https://127.0.0.1:{lab.port}",
            "--set",
            f"irc_db={case}",
        ) as proxy,
    ):
        outcomes = call_everything(
            lab, target=f"127.0.0.1:{proxy.port}", root_ca=proxy.ca_cert.read_bytes()
        )
    assert outcomes == captured.outcomes
    with Store.open(captured.case) as store:
        expected = store.conn.execute(ROWS).fetchall()
    with Store.open(case) as store:
        assert store.conn.execute(ROWS).fetchall() == expected
        kinds = {k for (k,) in store.conn.execute("SELECT kind FROM credentials")}
    assert {"bearer", "api_key"} <= kinds
    for path in tmp_path.glob("proxy.db*"):
        raw = path.read_bytes()
        assert lab.token.encode() not in raw and lab.api_key.encode() not in raw
