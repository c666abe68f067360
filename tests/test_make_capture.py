"""demo/make_capture.py regenerates the bundled capture: the same traffic, request for request."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.ingest.files import ingest_files
from tests.conftest import require_tool

pytestmark = pytest.mark.integration  # starts processes or servers

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "demo" / "make_capture.py"
BUNDLED = ROOT / "ir_console" / "demo" / "demo.pcap"


def traffic(capture: Path, case: Path) -> tuple[Counter[tuple[object, ...]], int, list[str]]:
    """What a capture holds, without times or ports: requests, distinct credentials, TLS names."""
    with Store.open(case) as store:
        ingest_files(store, [capture])
        requests = Counter(
            store.conn.execute(
                "SELECT client_ip, host, method, path, query_names, status FROM exchanges "
                "WHERE method IS NOT NULL"
            ).fetchall()
        )
        credentials = store.conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0]
        names = [
            r[0]
            for r in store.conn.execute(
                "SELECT sni FROM exchanges WHERE method IS NULL ORDER BY sni"
            )
        ]
    return requests, credentials, names


def test_regenerated_capture_matches_the_bundled_one(tmp_path: Path) -> None:
    require_tool("tcpdump")
    require_tool("curl")
    if os.geteuid() != 0:
        pytest.skip("make_capture.py needs root (tcpdump, ports 80 and 443 on loopback)")
    fresh = tmp_path / "demo.pcap"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "-o", str(fresh)], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert fresh.stat().st_size < 2 * 1024 * 1024
    assert traffic(fresh, tmp_path / "fresh.db") == traffic(BUNDLED, tmp_path / "bundled.db")
