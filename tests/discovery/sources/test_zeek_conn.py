"""Zeek conn.log, TSV and JSON: each TCP connection's context (bytes, duration, conn_state,
history, service) as an opaque connection to its server address; connections never established
carry that as their error; other transports are counted and left out."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.ingest.files import ingest_file, ingest_files
from discovery.sources import detect_format
from discovery.sources.zeek import read
from discovery.stats import IngestStats
from discovery.views import queries
from discovery.views.exchange import exchange_detail, to_json
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "zeek"


@pytest.mark.parametrize("name", ["conn.log", "conn.json.log"])
def test_tcp_connections_with_their_context(name: str) -> None:
    assert detect_format(FIXTURES / name) == "zeek"
    stats = IngestStats()
    observed = list(read(FIXTURES / name, stats))
    assert stats.skipped == {"zeek_conn_udp_record": 1}  # the DNS lookup
    assert [o.evidence.split()[1] for o in observed] == [
        "Cssl1",
        "Cconn2",
        "Cconn3",
        "Cconn4",
        "Chttp6",
    ]
    tls, unlogged, unanswered, rejected, http = observed
    assert tls.method is None and tls.tls and tls.host == tls.server_ip == "203.0.113.50"
    assert (tls.request_bytes, tls.response_bytes) == (2214, 48810)
    assert json.loads(tls.facts or "") == {
        "conn_state": "SF",
        "duration": 12.504311,
        "history": "ShADadFf",
        "missed_bytes": 0,
        "orig_pkts": 31,
        "resp_pkts": 44,
        "service": "ssl",
    }
    # established, no service recognised (no ssl.log or http.log names it): still a connection
    assert not unlogged.tls and unlogged.error is None and unlogged.server_port == 443
    assert json.loads(unlogged.facts or "")["conn_state"] == "S1"
    assert unanswered.error == (
        "connection not established (conn_state S0: no reply to the connection attempt)"
    )
    assert "duration" not in json.loads(unanswered.facts or "")
    assert rejected.error and "REJ" in rejected.error and rejected.server_port == 9200
    assert http.partial and json.loads(http.facts or "")["missed_bytes"] == 1460


def test_ingested_connections_are_hosts_and_keep_their_facts(store: Store, tmp_path: Path) -> None:
    packed = tmp_path / "conn.10:00:00-11:00:00.log.gz"  # a rotated log, read compressed
    with (FIXTURES / "conn.log").open("rb") as src, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(src, out)
    (result,) = ingest_files(store, [packed])
    assert result.format == "zeek" and result.stats.exchanges == 5
    hosts = {h["host"]: h for h in queries.hosts(store)}
    assert hosts["203.0.113.50"]["tls"] is True and hosts["203.0.113.50"]["requests"] == 0
    assert "198.51.100.79" in hosts and "10.0.0.53" not in hosts
    (row_id,) = store.conn.execute(
        "SELECT id FROM exchanges WHERE evidence LIKE 'uid Cssl1 %'"
    ).fetchone()
    detail = exchange_detail(store, row_id)
    assert detail is not None
    shown = to_json(detail)
    assert shown["connection"]["duration"] == 12.504311
    assert shown["connection"]["history"] == "ShADadFf"
    assert ingest_file(store, packed).already_ingested  # each record once
