"""Live capture on the loopback interface with a real server and client (needs CAP_NET_RAW)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # starts processes or servers

ENTRY = [sys.executable, "-c", "from ir_console.cli import main; main()"]


RELEASE = threading.Event()  # /slow answers only when the test is over


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow":
            RELEASE.wait(30)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    RELEASE.clear()
    try:
        yield httpd.server_address[1]
    finally:
        RELEASE.set()
        httpd.shutdown()
        httpd.server_close()


def can_sniff() -> bool:
    import socket

    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except (PermissionError, AttributeError):
        return False
    return True


def exchange_count(case: Path) -> int:
    if not case.exists():
        return 0
    with sqlite3.connect(case) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@pytest.mark.needs_tool
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_live_capture_on_loopback_flushes_while_running_and_stops_cleanly(
    server: int, case_path: Path, stop_signal: signal.Signals
) -> None:
    if not can_sniff():
        pytest.skip("live capture needs root or CAP_NET_RAW")
    proc = subprocess.Popen(
        [
            *ENTRY,
            "--db",
            str(case_path),
            "capture",
            "live",
            "--iface",
            "lo",
            "--filter",
            f"tcp port {server}",
            "--duration",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("capturing on lo"), line
        conn = http.client.HTTPConnection("127.0.0.1", server)
        for path in ("/v1/users/1", "/v1/users/2?x=1", "/v1/health"):
            conn.request("GET", path, headers={"X-API-Key": "live-test-key-0123456789"})
            conn.getresponse().read()
        conn.close()
        slow = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
        slow.request("GET", "/slow")  # unanswered when the capture stops
        deadline = time.monotonic() + 20
        while exchange_count(case_path) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exchange_count(case_path) == 3  # written while the capture still runs
        assert proc.poll() is None
        proc.send_signal(stop_signal)  # SIGINT is what Ctrl-C sends
        out, err = proc.communicate(timeout=30)
        slow.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "4 exchanges" in out
    with sqlite3.connect(case_path) as db:
        rows = db.execute(
            "SELECT source, method, path, status, server_port, input_id FROM exchanges ORDER BY ts"
        ).fetchall()
        capture = db.execute("SELECT id, path, format, state, dropped FROM inputs").fetchall()
    assert capture == [(1, "live:lo", "live", "complete", 0)]  # the capture is an input
    assert rows == [
        *[("live", "GET", p, 200, server, 1) for p in ("/v1/users/1", "/v1/users/2", "/v1/health")],
        ("live", "GET", "/slow", None, server, 1),  # flushed at the stop, no response yet
    ]


def test_without_privilege_one_line_and_exit_2(case_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop CAP_NET_RAW for the child")
    proc = subprocess.run(
        [
            setpriv,
            "--bounding-set=-net_raw",
            *ENTRY,
            "--db",
            str(case_path),
            "capture",
            "live",
            "--iface",
            "lo",
            "--duration",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "needs root or CAP_NET_RAW" in proc.stderr
    assert not case_path.exists()  # refused before the case was touched


def test_unknown_interface(case_path: Path) -> None:
    proc = subprocess.run(
        [*ENTRY, "--db", str(case_path), "capture", "live", "--iface", "nosuch9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "no such network interface: nosuch9" in proc.stderr


@pytest.mark.needs_tool
def test_the_analysis_after_a_capture_reports_its_steps(server: int, case_path: Path) -> None:
    """With --json, the analysis run when the capture stops gives its steps as JSON events on
    stderr (stdout: the one summary document)."""
    if not can_sniff():
        pytest.skip("live capture needs root or CAP_NET_RAW")
    argv = [*ENTRY, "--db", str(case_path), "capture", "live", "--iface", "lo"]
    argv += ["--filter", f"tcp port {server}", "--duration", "3", "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server)
        time.sleep(1)  # the capture is open
        conn.request("GET", "/v1/users/1", headers={"X-API-Key": "live-test-key-0123456789"})
        conn.getresponse().read()
        conn.close()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = [json.loads(x) for x in err.splitlines() if x.startswith('{"event"')]
    steps = [e["step"] for e in events]
    assert steps[0] == "analysis: lineage (1 of 5)" and steps[-1] == "analysis: findings (5 of 5)"
    assert json.loads(out)["iface"] == "lo"
