"""mitmproxy flow files: written by a real `mitmdump -w` in the test, ingested with format
detection; another version's file is one clear error; a damaged tail keeps what came before."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mitmproxy.io import tnetstring

from discovery.case.store import Store
from discovery.errors import InputError
from discovery.ingest.files import ingest_file
from discovery.sources import detect_format
from discovery.sources.mitm import read
from discovery.stats import IngestStats
from tests.discovery.proxyfixtures import mitmdump, upstream

TOKEN = "tok-flowfile-77c1d2e3f4a5b6c7"


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("flows")
    path = tmp / "capture.mitm"
    with (
        upstream() as server,
        mitmdump(tmp / "conf", "-w", str(path), with_addon=False) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):
        assert (
            client.get(
                server.url("/api/v3/accounts/981/statements?year=2026"),
                headers={"Authorization": f"Bearer {TOKEN}"},
            ).status_code
            == 200
        )
        assert (
            client.put(
                server.url("/api/v3/accounts/981"),
                json={"name": "x"},
                headers={"X-API-Key": "key-flowfile-abcdef123456"},
            ).status_code
            == 200
        )
        assert client.get("http://127.0.0.1:9/unreachable").status_code == 502
    return path


def test_flow_file_is_detected_and_ingested(flow_file: Path, store: Store) -> None:
    assert detect_format(flow_file) == "mitm"
    result = ingest_file(store, flow_file)
    assert result.format == "mitm" and result.stats.flows == 3 and result.stats.exchanges == 3
    rows = store.conn.execute(
        "SELECT source, method, path, query_names, status, error, evidence FROM exchanges "
        "ORDER BY ts"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("mitm", "GET", "/api/v3/accounts/981/statements"),
        ("mitm", "PUT", "/api/v3/accounts/981"),
        ("mitm", "GET", "/unreachable"),
    ]
    assert rows[0][3] == '["year"]' and rows[0][4] == 200 and rows[0][5] is None
    assert rows[2][5] and all(r[6].startswith("flow ") for r in rows)
    kinds = sorted(r[0] for r in store.conn.execute("SELECT kind FROM credentials"))
    assert kinds == ["api_key", "bearer"]
    again = ingest_file(store, flow_file)
    assert again.already_ingested
    assert store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 3


def test_other_flow_format_version_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "future.mitm"
    path.write_bytes(tnetstring.dumps({"version": 99, "type": "http"}))
    with pytest.raises(InputError) as info:
        list(read(path, IngestStats()))
    assert str(path) in str(info.value) and "flow format version 99" in str(info.value)
    assert "(flow 1)" in str(info.value)


def test_damaged_tail_keeps_earlier_flows(flow_file: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mitm"
    damaged.write_bytes(flow_file.read_bytes() + b"12:not a flow")
    stats = IngestStats()
    observed = list(read(damaged, stats))
    assert len(observed) == 3
    # a flow the file ends inside: damaged, or still being written (read when the file grows)
    assert stats.counts["incomplete last flow (read when the file grows)"] == 1
    assert "flow 4" in stats.warnings[0] and "kept the 3 flows" in stats.warnings[0]
    assert stats.consumed == flow_file.stat().st_size


def test_a_flow_mitmproxy_cannot_read_is_skipped_and_reading_goes_on(
    flow_file: Path, tmp_path: Path
) -> None:
    data = flow_file.read_bytes()
    bad = tnetstring.dumps({"version": 99, "type": "http"})
    mixed = tmp_path / "mixed.mitm"
    mixed.write_bytes(data + bad + data + b"garbage")
    stats = IngestStats()
    observed = list(read(mixed, stats))
    assert len(observed) == 6
    assert stats.skipped["unreadable_flow"] == 2  # the foreign flow, then the garbage
    assert "flow 4" in stats.warnings[0] and "version 99" in stats.warnings[0]
    assert "flow 8" in stats.warnings[1] and "kept the 7 flows" in stats.warnings[1]
