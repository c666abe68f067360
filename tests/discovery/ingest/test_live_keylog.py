"""`capture live --keylog`: TLS decrypted live while clients write their key log.

nginx (TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2; h2c beside) on loopback, curl and Python's ``ssl`` writing
``SSLKEYLOGFILE`` as they connect (the file does not exist when the capture starts), one
client whose key log is appended only after its connection ended, and one that logs nothing;
`ir-console capture live --iface lo --keylog FILE` as a process, with one and with two workers.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from discovery.wire.tlssession import DECRYPTED, LATE, NO_SECRETS, WAITED
from tests.discovery.ingest.test_live import can_sniff
from tests.discovery.wire import tls_lab as lab
from tests.discovery.wire.test_tls_captures import API_KEY, CURL_CALLS, TOKEN, _python_call

pytestmark = pytest.mark.integration  # starts nginx, curl and the capture

ENTRY = [sys.executable, "-c", "from ir_console.cli import main; main()"]
BEARER = (f"Authorization: Bearer {TOKEN}",)


def _rows(case: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(case) as conn:
        return list(conn.execute(sql))


@pytest.mark.needs_tool
@pytest.mark.parametrize("workers", [1, 2])
def test_live_capture_decrypts_as_the_key_log_is_written(tmp_path: Path, workers: int) -> None:
    if not can_sniff():
        pytest.skip("live capture needs root or CAP_NET_RAW")
    keylog = tmp_path / "sslkeys.log"  # created by the first client
    case = tmp_path / "case.db"
    with lab.nginx(tmp_path) as ng:
        proc = subprocess.Popen(
            [
                *ENTRY,
                "--db",
                str(case),
                "capture",
                "live",
                "--iface",
                "lo",
                "--filter",
                f"tcp port {ng.tls_port} or tcp port {ng.h2c_port}",
                "--keylog",
                str(keylog),
                "--keylog-wait",
                "4",
                "--workers",
                str(workers),
                "--duration",
                "120",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            if "cannot" in line or "--workers needs" in line:
                pytest.skip(line.strip())
            assert line.startswith("capturing on lo"), line
            url = f"https://{lab.HOST}:{ng.tls_port}"
            for path, options in CURL_CALLS:
                lab.curl(url + path, ng.tls_port, keylog, *options, headers=BEARER)
            _python_call(ng.tls_port, keylog, "/v1/python/ssl")
            # secrets logged well after the connection ended (a writer that flushes late)
            late = tmp_path / "late.log"
            lab.curl(url + "/v1/late/3001", ng.tls_port, late, "--http2", headers=BEARER)
            time.sleep(1.5)
            with keylog.open("ab") as handle:
                handle.write(late.read_bytes())
            # HTTP/2 in cleartext (prior knowledge) beside them
            h2c = f"http://{lab.HOST}:{ng.h2c_port}/v1/h2c/5001"
            lab.curl(h2c, ng.h2c_port, None, "--http2-prior-knowledge", headers=BEARER)
            # a client that logs nothing: waited for, then opaque and counted
            lab.curl(url + "/v1/never/4001", ng.tls_port, None, "--http1.1", headers=BEARER)
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    counts = summary["counts"]
    assert counts[DECRYPTED.format(origin=keylog)] == len(CURL_CALLS) + 2
    assert counts[LATE] >= 1  # at least the late one; the others when their log came late too
    assert counts[NO_SECRETS] == 1
    assert sum(n for what, n in counts.items() if what.startswith(WAITED.split("(")[0])) == 1
    assert summary["capture"]["keylogs"] == [str(keylog)]

    requests = _rows(case, "SELECT method, path, status, http_version FROM exchanges")
    decrypted = sorted((m, p, s) for m, p, s, _v in requests if m is not None)
    expected = sorted(
        [("GET", path, 200) for path, _ in CURL_CALLS]
        + [("GET", "/v1/python/ssl", 200), ("GET", "/v1/late/3001", 200)]
        + [("GET", "/v1/h2c/5001", 200)]
    )
    assert decrypted == expected
    assert {v for _m, _p, _s, v in requests if v} == {"1.1", "2"}
    opaque = _rows(case, "SELECT sni, method FROM exchanges WHERE method IS NULL")
    assert opaque == [(lab.HOST, None)]  # the connection whose secrets never came
    # the credentials are in the case by fingerprint, never raw
    kinds = _rows(case, "SELECT kind, requests FROM credentials ORDER BY kind")
    assert len(kinds) == 2 and sorted(n for _k, n in kinds) == [1, len(CURL_CALLS) + 2]
    with sqlite3.connect(case) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blobs = [out.encode(), err.encode()]
    blobs += [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("case.db")]
    secrets = [TOKEN.encode(), API_KEY.encode()]
    for logged in keylog.read_text().splitlines():
        parts = logged.split()
        if len(parts) == 3:
            secrets += [parts[2].encode(), parts[2].upper().encode(), bytes.fromhex(parts[2])]
    assert len(secrets) > 10
    assert not [s for s in secrets for blob in blobs if s in blob]


def test_a_key_log_that_is_no_key_log_is_refused_before_the_capture(tmp_path: Path) -> None:
    if not can_sniff():
        pytest.skip("live capture needs root or CAP_NET_RAW")
    notes = tmp_path / "notes.txt"
    notes.write_text("these are not\nthe secrets you are looking for\n")
    case = tmp_path / "case.db"
    base = [*ENTRY, "--db", str(case), "capture", "live", "--iface", "lo", "--duration", "1"]
    for keylog, said in (
        (notes, "not an NSS key log"),
        (tmp_path / "nowhere" / "keys.log", "no such file or folder"),
        (tmp_path, "not a regular file"),
    ):
        done = subprocess.run(
            [*base, "--keylog", str(keylog)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(keylog) in lines[0] and said in lines[0], lines
        assert "Traceback" not in done.stderr
    assert not case.exists() or not _rows(case, "SELECT id FROM inputs")
