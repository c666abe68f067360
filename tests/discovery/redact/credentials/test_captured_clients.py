"""Every credential kind from a real client, captured with tcpdump on loopback and ingested from
the pcap: the same assertions as the recorded-request test, end to end through the pcap reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from discovery.case.store import Store
from discovery.views import queries
from tests.discovery.redact.credentials.recording import recording_server
from tests.discovery.redact.credentials.test_real_clients import CASES


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int]]:
    from discovery.ingest.files import ingest_files
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    base = tmp_path_factory.mktemp("captured")
    pcap = base / "clients.pcap"
    with recording_server() as recorder, tcpdump(pcap, recorder.port):
        for send, _expected, _secrets in CASES.values():
            send(recorder.url)
    with Store.open(base / "case.db") as store:
        (result,) = ingest_files(store, [pcap])
        assert result.stats.exchanges >= len(CASES)
        yield store, recorder.port


def _matches(cred: dict[str, Any], expected: dict[str, Any], port: int) -> bool:
    if cred["kind"] != expected["kind"]:
        return False
    for key in ("identity", "redacted", "expires_at"):
        if key in expected and cred[key] != expected[key].replace("{port}", str(port)):
            return False
    return all(cred["claims"].get(k) == v for k, v in expected.get("claims", {}).items())


@pytest.mark.parametrize("name", list(CASES))
def test_captured_client(name: str, captured: tuple[Store, int]) -> None:
    store, port = captured
    _send, expected, secrets = CASES[name]
    matching = [c for c in queries.credentials(store) if _matches(c, expected, port)]
    assert matching, f"{name}: no credential like {expected}"
    if "location" in expected or "name" in expected:
        places = {
            tuple(r)
            for r in store.conn.execute(
                "SELECT location, name FROM exchange_credentials WHERE credential_id IN "
                f"({','.join('?' for _ in matching)})",
                [c["id"] for c in matching],
            )
        }
        assert any(
            loc == expected.get("location", loc) and nm == expected.get("name", nm)
            for loc, nm in places
        ), places
    for cred in matching:
        for secret in secrets:
            assert secret not in repr(cred)
    assert matching[0]["sources"] == ["127.0.0.1"]
