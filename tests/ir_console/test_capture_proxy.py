"""`ir-console capture proxy`: mitmproxy in-process in front of a real upstream, CA instructions,
clean stop on SIGINT with everything flushed, startup errors as one line and exit 2."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import click
import httpx
import pytest

from discovery.case.store import Store
from ir_console.commands.capture_proxy import parse_listen
from tests.discovery.proxyfixtures import upstream

pytestmark = pytest.mark.integration  # starts processes or servers


def start(case: Path, confdir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ir_console",
            "--db",
            str(case),
            "capture",
            "proxy",
            "--confdir",
            str(confdir),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_port(proc: subprocess.Popen[str], lines: list[str]) -> int:
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        match = re.search(r"listening at 127\.0\.0\.1:(\d+)", line)
        if match:
            return int(match.group(1))
    raise AssertionError("proxy did not start:\n" + "".join(lines))


def test_reverse_proxy_records_and_stops_cleanly(tmp_path: Path) -> None:
    case, confdir = tmp_path / "case.db", tmp_path / "conf"
    with upstream() as server:
        proc = start(
            case,
            confdir,
            "--listen",
            "127.0.0.1:0",
            "--mode",
            f"reverse:http://127.0.0.1:{server.port}",
            "--enforce",
        )
        lines: list[str] = []
        try:
            port = wait_for_port(proc, lines)
            rest: list[str] = []
            reader = threading.Thread(target=lambda: rest.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
            reader.start()
            resp = httpx.get(
                f"http://127.0.0.1:{port}/v1/widgets/9",
                headers={"X-API-Key": "key-capture-proxy-123456"},
                trust_env=False,
                timeout=30,
            )
            assert resp.status_code == 200 and resp.json()["path"] == "/v1/widgets/9"
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
        reader.join(timeout=10)
    stderr = "".join(lines + rest)
    assert str(confdir / "mitmproxy-ca-cert.pem") in stderr
    assert (confdir / "mitmproxy-ca-cert.pem").exists()
    with Store.open(case) as store:
        rows = store.conn.execute(
            "SELECT host, method, path, status, source FROM exchanges"
        ).fetchall()
        kinds = [r[0] for r in store.conn.execute("SELECT kind FROM credentials")]
    assert rows == [(f"127.0.0.1:{server.port}", "GET", "/v1/widgets/9", 200, "proxy")]
    assert kinds == ["api_key"]


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(tmp_path / "case.db", tmp_path / "conf", "--listen", f"127.0.0.1:{port}")
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"ir-console: error: proxy could not start on 127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr


def test_bad_mode_is_a_usage_error(tmp_path: Path) -> None:
    proc = start(tmp_path / "case.db", tmp_path / "conf", "--mode", "transparent-ish")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--mode" in stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:8443", ("::1", 8443)),
        (":9000", ("", 9000)),
        ("9000", ("", 9000)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["localhost:http", "1.2.3.4:70000", "host:", ""])
def test_parse_listen_rejects(value: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_listen(value)
