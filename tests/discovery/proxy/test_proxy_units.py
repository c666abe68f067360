"""Pure parts of the proxy integration: template matching, block decisions, flow conversion,
and the background writer's bounded queue (real case files, mitmproxy's own test flows)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from discovery.case import blocklist
from discovery.case.blocklist import template_matches
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.proxy.enforcement import Destination, Snapshot, decide, load_snapshot
from discovery.proxy.writer import BackgroundWriter
from discovery.sources.flows import flow_to_observed, http_version
from tests.conftest import make_exchange, make_sighting


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/v1/users/{id}", "/v1/users/42", True),
        ("/v1/users/{id}", "/v1/users", False),
        ("/v1/users/{id}", "/v1/users/42/keys", False),
        ("/v1/users/{id}/keys/{key}", "/v1/users/42/keys/k1", True),
        ("/v1/users/me", "/v1/users/42", False),
        ("/v1/users/me", "/v1/users/me", True),
        ("/", "/", True),
        ("/{id}", "/", False),
        ("/V1/users", "/v1/users", False),
    ],
)
def test_template_matches(template: str, path: str, expected: bool) -> None:
    assert template_matches(template, path) is expected


def _fp(value: str) -> str:
    return "fp:" + value


SNAPSHOT = Snapshot(
    credentials={_fp("tok-blocked"): "c-000000000001"},
    endpoints={
        ("api.example.com", "DELETE"): (
            ("/v1/users/{id}", "api.example.com DELETE /v1/users/{id}"),
        ),
        ("api.example.com:8443", "*"): (("/admin", "api.example.com:8443 * /admin"),),
    },
)


@pytest.mark.parametrize(
    ("method", "host", "target", "headers", "tls", "expected"),
    [
        (
            "GET",
            "api.example.com",
            "/v1/users/1",
            (("Authorization", "Bearer tok-blocked"),),
            True,
            ("credential", "c-000000000001"),
        ),
        (
            "GET",
            "api.example.com",
            "/v1/users/1",
            (("Authorization", "Bearer tok-other"),),
            True,
            None,
        ),
        (
            "GET",
            "api.example.com",
            "/v1/users/1",
            (("x-api-key", "tok-blocked"),),
            False,
            ("credential", "c-000000000001"),
        ),
        (
            "DELETE",
            "API.example.com:443",
            "/v1/users/7?force=1",
            (),
            True,
            ("endpoint", "api.example.com DELETE /v1/users/{id}"),
        ),
        (
            "delete",
            "api.example.com",
            "/v1//users/./7/",
            (),
            False,
            ("endpoint", "api.example.com DELETE /v1/users/{id}"),
        ),
        ("GET", "api.example.com", "/v1/users/7", (), True, None),
        ("DELETE", "other.example.com", "/v1/users/7", (), True, None),
        (
            "POST",
            "api.example.com:8443",
            "/admin",
            (),
            True,
            ("endpoint", "api.example.com:8443 * /admin"),
        ),
        (
            "POST",
            None,
            "http://api.example.com:8443/admin",
            (),
            False,
            ("endpoint", "api.example.com:8443 * /admin"),
        ),
    ],
)
def test_decide(
    method: str,
    host: str | None,
    target: str,
    headers: tuple[tuple[str, str], ...],
    tls: bool,
    expected: tuple[str, str] | None,
) -> None:
    decision = decide(
        SNAPSHOT, method=method, host=host, target=target, headers=headers, tls=tls, fingerprint=_fp
    )
    if expected is None:
        assert decision is None
    else:
        assert decision is not None and (decision.kind, decision.subject) == expected
        assert decision.reference.startswith("irc-") and "tok" not in decision.reference


def test_load_snapshot_reads_the_case_blocklist(store: Store) -> None:
    sighting = make_sighting(store, "tok-in-case-123456")
    store.add_exchanges([make_exchange(credentials=(sighting,))])
    cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
    assert load_snapshot(store).empty
    blocklist.block_credential(store, cid)
    blocklist.block_endpoint(store, "api.example.com GET /v1/users/{id}")
    snap = load_snapshot(store)
    assert snap.credentials == {store.fingerprint("tok-in-case-123456"): cid}
    assert snap.endpoints == {
        ("api.example.com", "GET"): (("/v1/users/{id}", "api.example.com GET /v1/users/{id}"),)
    }


@pytest.mark.parametrize(
    ("raw", "ours"),
    [
        ("HTTP/1.0", "1.0"),
        ("HTTP/1.1", "1.1"),
        ("HTTP/2.0", "2"),
        ("HTTP/3", "3"),
        ("", None),
    ],
)
def test_http_version(raw: str, ours: str | None) -> None:
    assert http_version(raw) == ours


def test_flow_to_observed_keeps_what_the_pipeline_needs() -> None:
    flow = tflow.tflow(resp=True)
    flow.request.headers["Authorization"] = "Bearer tok-flow"
    flow.request.path = "/v1/items/9?x=1"
    obs = flow_to_observed(flow, blocked=True, reference="irc-abc")
    assert obs.method == "GET" and obs.target == "/v1/items/9?x=1" and obs.status == 200
    assert ("Authorization", "Bearer tok-flow") in obs.request_headers
    assert obs.blocked and obs.evidence == f"flow {flow.id} ref irc-abc"
    assert obs.client_ip == "127.0.0.1" and obs.http_version == "1.1"
    assert obs.host == "address" and not obs.websocket
    ws = flow_to_observed(tflow.twebsocketflow())
    assert ws.websocket and ws.status == 101
    failed = flow_to_observed(tflow.tflow(err=True))
    assert failed.status is None and failed.error == "error"


def test_body_prefix_is_decoded_and_bounded() -> None:
    flow = tflow.tflow(resp=True)
    flow.response.headers["Content-Encoding"] = "gzip"
    flow.response.content = b"email: someone@example.com " * 100  # encodes with gzip
    assert flow.response.raw_content != flow.response.content
    obs = flow_to_observed(flow, body_limit=50)
    assert obs.response_body == (b"email: someone@example.com " * 100)[:50]
    assert obs.response_bytes == len(flow.response.raw_content or b"")


def _observed(i: int) -> ObservedExchange:
    return ObservedExchange(
        ts=1_790_000_000.0 + i,
        source="proxy",
        evidence=f"flow {i}",
        method="GET",
        target=f"/v1/things/{i}",
        host="api.example.com",
        status=200,
    )


def _slow_recompute(signals: Path, store: Store) -> None:
    """Holds the writer process like a slow disk would, until the test releases it."""
    (signals / "recomputing").touch()
    deadline = time.monotonic() + 30
    while not (signals / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _record_recompute(log_path: Path, mark: str, store: Store) -> None:
    with log_path.open("a") as out:
        out.write(mark)


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.integration
def test_writer_drops_and_counts_when_full_and_flushes_on_close(
    case_path: Path, tmp_path: Path
) -> None:
    # the writer runs in its own process: signals between it and the test are files
    writer = BackgroundWriter(
        case_path,
        queue_size=2,
        batch=10,
        max_delay=0.01,
        recompute_seconds=0.001,
        recompute=functools.partial(_slow_recompute, tmp_path),
    )
    assert writer.put(_observed(0))
    assert _wait_for(lambda: (tmp_path / "recomputing").exists() and writer.finished == 1)
    accepted = [writer.put(_observed(i)) for i in range(1, 6)]
    assert [seq is not None for seq in accepted] == [True, True, False, False, False]
    assert writer.dropped == 3
    (tmp_path / "release").touch()
    writer.close()
    assert writer.written == 3 and writer.recomputes == 2
    with Store.open(case_path) as store:
        paths = [r[0] for r in store.conn.execute("SELECT path FROM exchanges ORDER BY ts")]
    assert paths == ["/v1/things/0", "/v1/things/1", "/v1/things/2"]


@pytest.mark.integration
def test_writer_recomputes_only_when_new_data_arrived(case_path: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.touch()
    writer = BackgroundWriter(
        case_path,
        max_delay=0.01,
        recompute_seconds=3600,
        recompute=functools.partial(_record_recompute, calls, "1"),
    )
    for i in range(20):
        writer.put(_observed(i))
    writer.drain()
    assert writer.finished == 20
    assert calls.read_text() == ""  # interval not reached: no recompute per flow
    writer.close()
    assert calls.read_text() == "1" and writer.written == 20
    idle = BackgroundWriter(
        case_path, max_delay=0.01, recompute=functools.partial(_record_recompute, calls, "2")
    )
    idle.close()
    assert calls.read_text() == "1"


@pytest.mark.integration
def test_writer_keeps_up_with_a_backlog_larger_than_a_batch(case_path: Path) -> None:
    writer = BackgroundWriter(case_path, queue_size=5000, batch=50, max_delay=0.5, recompute=None)
    for i in range(2000):
        assert writer.put(_observed(i))
    pauses_before = writer.pauses
    writer.drain()
    assert writer.written == 2000 and writer.dropped == 0
    assert writer.pauses - pauses_before <= 2  # 40 full batches written back to back
    writer.close()


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        # a reverse proxy's upstream is the blocked host, whatever Host the client claims
        (Destination("api.example.com:443", "harmless.example", None, False), "endpoint"),
        # the client named the blocked host; a fake Host does not move it off the block
        (Destination("api.example.com:443", "harmless.example", None, True), "endpoint"),
        # the Host header names the blocked host while the request goes elsewhere
        (Destination("10.0.0.9:443", "api.example.com", None, False), "endpoint"),
        # the SNI names the blocked host (CONNECT to an address)
        (Destination("10.0.0.9:443", None, "api.example.com", True), "endpoint"),
        # a named destination contradicted by Host or SNI: a mismatch, blocked
        (Destination("other.example.com:443", "harmless.example", None, True), "host-mismatch"),
        (Destination("other.example.com:443", None, "front.example", True), "host-mismatch"),
        (
            Destination("other.example.com:443", "other.example.com:8443", None, True),
            "host-mismatch",
        ),
        # the same host in other spellings is no mismatch
        (
            Destination("other.example.com:443", "Other.Example.COM.", "other.example.com", True),
            None,
        ),
        (Destination("other.example.com:443", "other.example.com:443", None, True), None),
        (Destination("[::1]:443", "[::1]", None, True), None),
        # a reverse proxy's client names nothing: its Host is not compared
        (Destination("other.example.com:443", "harmless.example", None, False), None),
    ],
)
def test_decide_on_every_name_of_the_destination(
    destination: Destination, expected: str | None
) -> None:
    decision = decide(
        SNAPSHOT,
        method="DELETE",
        target="/v1/users/7",
        headers=(),
        tls=True,
        fingerprint=_fp,
        destination=destination,
    )
    assert (decision.kind if decision else None) == expected
    if decision is not None and expected == "host-mismatch":
        assert "sent to" in decision.subject


BODY_SNAPSHOT = Snapshot(credentials={_fp("tok-blocked-0123456789"): "c-000000000001"})


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"grant_type=x&client_secret=tok-blocked-0123456789"),
        ("application/json", b'{"data": {"api_key": "tok-blocked-0123456789"}}'),
    ],
)
def test_decide_reads_the_body(content_type: str, body: bytes) -> None:
    decision = decide(
        BODY_SNAPSHOT,
        method="POST",
        target="/v1/login",
        headers=(),
        tls=True,
        fingerprint=_fp,
        destination=Destination("login.example.com:443"),
        body=body,
        content_type=content_type,
    )
    assert decision is not None and decision.subject == "c-000000000001"
    assert (
        decide(
            BODY_SNAPSHOT,
            method="POST",
            target="/v1/login",
            headers=(),
            tls=True,
            fingerprint=_fp,
            destination=Destination("login.example.com:443"),
            body=body.replace(b"tok-blocked", b"tok-allowed"),
            content_type=content_type,
        )
        is None
    )
