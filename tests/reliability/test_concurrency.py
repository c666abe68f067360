"""Concurrency: a real mitmdump with our addon records a sustained stream of requests (loopback
only, bounded in count and time) while the CLI read commands (subprocesses) and the console's
query layer (``CaseData``, threads) poll the same case. No reader or writer ever sees "database is
locked", and the case ends with exactly one exchange per request sent."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.discovery.proxyfixtures import mitmdump, upstream

READ_COMMANDS = (
    ["endpoints", "--json"],
    ["findings", "--json"],
    ["identities", "--json"],
    ["credentials", "--json"],
    ["hosts", "--json"],
    ["report", "--format", "json"],
)
TOKENS = [f"tok-concurrency-{i:02d}-4f1c2a9b8e7d6c5b" for i in range(5)]


@dataclass
class Readers:
    """Reader threads polling the case until ``stop``; what they saw and what went wrong."""

    case: Path
    stop: threading.Event = field(default_factory=threading.Event)
    polls: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    max_seen: int = 0
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name, target in (
            ("cli", self._cli),
            ("console-1", self._console),
            ("console-2", self._console),
        ):
            self.polls[name] = 0
            thread = threading.Thread(target=self._guard, args=(name, target), daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)
            assert not thread.is_alive()

    def _guard(self, name: str, target: Callable[[str], None]) -> None:
        try:
            target(name)
        except Exception as exc:  # noqa: BLE001 - recorded: the test fails on any
            self.errors.append(f"{name}: {type(exc).__name__}: {exc}")

    def _cli(self, name: str) -> None:
        i = 0
        while not self.stop.is_set():
            args = READ_COMMANDS[i % len(READ_COMMANDS)]
            i += 1
            proc = subprocess.run(
                [sys.executable, "-m", "ir_console", "--db", str(self.case), *args],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0 or "locked" in proc.stderr or "Traceback" in proc.stderr:
                self.errors.append(f"{name} {args}: exit {proc.returncode}: {proc.stderr[-500:]}")
                continue
            json.loads(proc.stdout)
            self.polls[name] += 1

    def _console(self, name: str) -> None:
        from ir_console.tui.data import CaseData

        data = CaseData(self.case)
        try:
            after = 0
            while not self.stop.is_set():
                data.data_version()
                data.overview()
                endpoints, findings = data.endpoints(), data.findings()
                data.credentials()
                data.identities()
                if endpoints.rows:  # a detail read races the recompute replacing the table
                    data.endpoint_detail(endpoints.rows[0].id)
                if findings.rows:
                    data.finding_detail(findings.rows[0].id)
                newest = data.newest_exchange_id()
                data.exchanges_after(after)
                after = newest
                self.max_seen = max(self.max_seen, newest)
                self.polls[name] += 1
        finally:
            data.close()


def _send(
    url: Callable[[str], str], proxy_url: str, total: int, clients: int, deadline: float
) -> int:
    """``total`` requests from ``clients`` threads (keep-alive), stopped at ``deadline``."""
    sent = [0] * clients
    failures: list[str] = []

    def client(k: int) -> None:
        with httpx.Client(proxy=proxy_url, trust_env=False, timeout=30) as http:
            for i in range(k, total, clients):
                if time.monotonic() > deadline:
                    return
                token = TOKENS[i % len(TOKENS)]
                path = (
                    f"/v1/users/{i}",
                    f"/v1/orders/{i}/items",
                    "/v1/health",
                    f"/internal/debug/{i % 7}",
                )[i % 4]
                if i % 9 == 0:
                    resp = http.post(
                        url(path),
                        json={"n": i},
                        headers={"X-API-Key": f"key-concurrency-{i % 3}-0a1b2c3d4e"},
                    )
                else:
                    resp = http.get(url(path), headers={"Authorization": f"Bearer {token}"})
                if resp.status_code != 200:
                    failures.append(f"{path}: {resp.status_code}")
                sent[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
    return sum(sent)


def _exchanges(case: Path) -> int:
    conn = sqlite3.connect(f"file:{case}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0])
    finally:
        conn.close()


def run_load(tmp_path: Path, total: int, max_seconds: float, clients: int = 4) -> dict[str, Any]:
    """Proxy + upstream + readers; returns what was sent, stored and polled."""
    case = tmp_path / "case.db"
    with (
        upstream() as server,
        mitmdump(
            tmp_path / "conf",
            "--set",
            f"irc_db={case}",
            "--set",
            "irc_recompute=1",
            "--set",
            "irc_enforce=true",
            "--set",
            "irc_poll_ms=100",
        ) as proxy,
    ):
        readers = Readers(case)
        readers.start()
        started = time.monotonic()
        try:
            sent = _send(server.url, proxy.proxy_url, total, clients, started + max_seconds)
            load_seconds = time.monotonic() - started
            during_load = dict(readers.polls)
            wait_until = time.monotonic() + 30
            while _exchanges(case) < sent and time.monotonic() < wait_until:
                time.sleep(0.1)  # the writer commits every 0.25 s: readers keep polling
            live = _exchanges(case)
        finally:
            readers.join()
        polls = dict(readers.polls)
    assert "locked" not in proxy.output and "Traceback" not in proxy.output, proxy.output[-2000:]
    return {
        "sent": sent,
        "upstream": len(server.seen),
        "live": live,
        "final": _exchanges(case),
        "polls": polls,
        "during_load": during_load,
        "errors": readers.errors,
        "seconds": load_seconds,
        "max_seen": readers.max_seen,
    }


def _check(result: dict[str, Any], total: int) -> None:
    assert not result["errors"], result["errors"][:5]
    assert result["sent"] == total, result  # the bound on time was not what stopped it
    assert result["upstream"] == total
    assert result["live"] == total  # visible while the proxy still runs ...
    assert result["final"] == total  # ... and nothing more, nothing less after it stops
    assert all(n > 0 for n in result["during_load"].values()), result["during_load"]
    assert result["max_seen"] > 0


@pytest.mark.integration
def test_proxy_stream_with_cli_and_console_readers(tmp_path: Path) -> None:
    result = run_load(tmp_path, total=500, max_seconds=60)
    _check(result, 500)
    print(
        f"concurrency: {result['sent']} requests in {result['seconds']:.1f} s, "
        f"polls {result['polls']} ({result['during_load']} during the load)"
    )


@pytest.mark.soak
@pytest.mark.integration
def test_proxy_stream_soak(tmp_path: Path) -> None:
    result = run_load(tmp_path, total=5000, max_seconds=240)
    _check(result, 5000)
    print(
        f"soak: {result['sent']} requests in {result['seconds']:.1f} s "
        f"({result['sent'] / result['seconds']:.0f}/s), polls {result['polls']}"
    )
