"""The proxy under attack and accident: a real mitmdump with our addon, real HTTP clients on
loopback.

* Killed with SIGKILL while clients send credentialed requests: every request a client got an
  answer for is in the case (the response of a flow that carried a credential is released only
  once the writer process committed it), and the writer process outlives the proxy: it writes
  what it received, runs the final analysis and exits cleanly (no traceback).
* A client that trickles a request head is cut off after the header timeout; a client address
  holding more connections than allowed has the next ones refused; other clients are served.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.discovery.proxyfixtures import Mitmdump, Upstream, mitmdump, upstream

pytestmark = pytest.mark.integration  # a real mitmdump, loopback servers


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (read from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Clients:
    """Threads sending requests through the proxy until it dies; what was answered."""

    def __init__(self, proxy: Mitmdump, server: Upstream, count: int, credential: bool) -> None:
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(proxy, server, k, credential), daemon=True)
            for k in range(count)
        ]

    def _run(self, proxy: Mitmdump, server: Upstream, k: int, credential: bool) -> None:
        headers = (
            {"Authorization": f"Bearer tok-durable-{k}-8c1d0e7f6a5b4c3d"} if credential else {}
        )
        i = 0
        with httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=10) as http:
            while not self.stop.is_set():
                path = f"/v1/items/{k}-{i}"
                i += 1
                try:
                    resp = http.get(server.url(path), headers=headers)
                except httpx.HTTPError:
                    return  # the proxy is gone
                if resp.status_code == 200:
                    with self.lock:
                        self.answered.append(path)

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def stored(case: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(f"file:{case}?mode=ro", uri=True, timeout=30)
    try:
        return [row[0] for row in conn.execute(sql)]
    finally:
        conn.close()


def kill_while_answering(
    tmp_path: Path, case: Path, *, credential: bool, after: int, extra: tuple[str, ...] = ()
) -> tuple[list[str], list[str], str]:
    """Clients send requests; once ``after`` were answered the proxy gets SIGKILL; then its
    writer process is waited for. (answered paths, stored paths, everything printed)."""
    with (
        upstream() as server,
        mitmdump(tmp_path / "conf", "--set", f"irc_db={case}", *extra) as proxy,
    ):
        writers = children(proxy.proc.pid)
        assert writers, "the writer process has started"
        with Clients(proxy, server, 4, credential) as clients:
            wait_until(lambda: len(clients.answered) >= after)
            proxy.proc.send_signal(signal.SIGKILL)  # the proxy alone: not its process group
            proxy.proc.wait()
        with clients.lock:
            answered = list(clients.answered)
        wait_until(lambda: not any(alive(pid) for pid in writers))  # it finished on its own
    paths = stored(case, "SELECT path FROM exchanges")
    return answered, paths, proxy.output


@pytest.mark.parametrize("after", [20, 120])
def test_a_proxy_killed_loses_no_answered_credential_flow(tmp_path: Path, after: int) -> None:
    case = tmp_path / "case.db"
    answered, paths, output = kill_while_answering(tmp_path, case, credential=True, after=after)
    lost = sorted(set(answered) - set(paths))
    assert not lost, f"{len(lost)} answered requests missing from the case: {lost[:5]}"
    assert len(answered) >= after
    # the writer process finished on its own: no traceback, the final analysis ran
    assert "Traceback" not in output and "BrokenPipeError" not in output, output[-3000:]
    assert "the proxy is gone" in output
    assert stored(case, "SELECT COUNT(*) FROM meta WHERE key = 'analysis_pending'") == [0]
    assert stored(case, "SELECT SUM(requests) FROM endpoints")[0] == len(paths)
    assert stored(case, "SELECT COUNT(*) FROM credentials")[0] >= 1


def raw_connection(proxy: Mitmdump) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.settimeout(10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer closes the connection within ``seconds`` (reading what it sends)."""
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except TimeoutError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_a_trickled_request_head_is_cut_off(tmp_path: Path) -> None:
    with (
        upstream() as server,
        mitmdump(tmp_path / "conf", "--set", "irc_header_timeout=2") as proxy,
    ):
        slow = raw_connection(proxy)
        slow.sendall(f"GET {server.url('/slow')} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        cut = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                slow.sendall(b"X-Trickle: 1\r\n")  # a header line now and then, never the end
            except OSError:
                cut = True
                break
            if closed_within(slow, 0.5):
                cut = True
                break
        assert cut, "the proxy kept a connection whose head never ended"
        with httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=10) as http:
            assert http.get(server.url("/fast")).status_code == 200  # others are served
        assert not [r for r in server.seen if r["path"] == "/slow"]
    assert "no request head within 2 s" in proxy.output


def test_one_client_cannot_hold_more_connections_than_allowed(tmp_path: Path) -> None:
    with (
        upstream() as server,
        mitmdump(tmp_path / "conf", "--set", "irc_max_client_conns=5") as proxy,
    ):
        held = [raw_connection(proxy) for _ in range(5)]
        time.sleep(0.5)  # the proxy has seen them
        refused = [raw_connection(proxy) for _ in range(3)]
        assert all(closed_within(sock, 5) for sock in refused)
        # the five held ones still work
        request = f"GET {server.url('/held')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        held[0].sendall(request)
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")
        for sock in held:
            sock.close()
        time.sleep(0.5)
        again = raw_connection(proxy)  # closed ones no longer count
        again.sendall(request)
        assert again.recv(65536).startswith(b"HTTP/1.1 200")
        again.close()
    assert "connection refused" in proxy.output and "the limit is 5" in proxy.output


@pytest.mark.soak
def test_proxy_kill_soak(tmp_path: Path) -> None:
    """Repeated SIGKILLs at different moments: no answered credential flow is ever lost. With
    durability off, the flows lost show the window a kill can hit (printed, not asserted)."""
    lost_without = []
    for round_ in range(8):
        after = 10 + 37 * round_
        case = tmp_path / f"case-{round_}.db"
        answered, paths, _ = kill_while_answering(tmp_path, case, credential=True, after=after)
        assert set(answered) <= set(paths), round_
        plain = tmp_path / f"plain-{round_}.db"
        answered, paths, _ = kill_while_answering(
            tmp_path, plain, credential=True, after=after, extra=("--set", "irc_durable=none")
        )
        lost_without.append(len(set(answered) - set(paths)))
    print(f"proxy kill soak: answered flows lost with irc_durable=none per kill: {lost_without}")
