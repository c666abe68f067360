"""h2c by ``Upgrade`` on a real capture: hypercorn (which answers ``Upgrade: h2c`` with 101 and
then HTTP/2) on loopback, curl ``--http2`` on http:// URLs (which asks for the upgrade), tcpdump
around them; checked against tshark's reading of the same file and against the same calls made
in HTTP/1.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from discovery.models import ObservedExchange
from discovery.sources.pcap import read, read_share
from discovery.stats import IngestStats
from ir_console.cli import cli as cli_group
from tests.conftest import require_tool
from tests.discovery.wire import tls_lab as lab

pytestmark = pytest.mark.integration  # starts hypercorn, tcpdump, curl, tshark

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "Bearer " + "0f9e8d7c6b5a49382716f5e4d3c2b1a0"  # made up
APP = "tests.discovery.wire.h2c_app:app"
UPGRADED = "h2c connections (HTTP/2 by Upgrade from HTTP/1.1)"
# one curl run per entry; several URLs in one run share a connection
CALLS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("/v1/customers/1001",), ()),  # the upgrade request: stream 1
    (("/v1/customers/1002", "/v1/customers/1003"), ()),  # 1003 on stream 3 of the same one
    (("/v1/charges",), ("--data", '{"amount": 100}')),  # a body: hypercorn refuses the upgrade
    (("/missing",), ()),
]


@dataclass
class Captures:
    upgrade: Path  # curl --http2: Upgrade: h2c
    http1: Path  # the same calls with curl --http1.1
    port: int


@contextmanager
def hypercorn(folder: Path) -> Iterator[int]:
    port = lab.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", APP],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "hypercorn.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "hypercorn.log").read_text()[-500:]
                    raise RuntimeError(f"hypercorn did not start: {log}") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _curl(port: int, paths: tuple[str, ...], version: str, options: tuple[str, ...]) -> None:
    exe = require_tool("curl")
    urls = [f"http://{lab.HOST}:{port}{path}" for path in paths]
    argv = [exe, "-sS", "-o", "/dev/null", "--resolve", f"{lab.HOST}:{port}:127.0.0.1"]
    subprocess.run(
        [*argv, version, "-H", f"Authorization: {TOKEN}", *options, *urls], check=True, timeout=30
    )


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Captures:
    folder = tmp_path_factory.mktemp("h2c")
    with hypercorn(folder) as port:
        paths = {}
        for version in ("--http2", "--http1.1"):
            path = folder / f"{version.strip('-')}.pcap"
            with lab.capture(path, (port,)):
                for urls, options in CALLS:
                    _curl(port, urls, version, options)
            paths[version] = path
    return Captures(paths["--http2"], paths["--http1.1"], port)


def _read(path: Path) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    return sorted(read(path, stats), key=lambda ex: ex.ts), stats


def test_each_call_is_recorded_once_with_its_real_response(captures: Captures) -> None:
    found, stats = _read(captures.upgrade)
    got = [(ex.method, ex.target, ex.http_version, ex.status) for ex in found]
    assert got == [
        ("GET", "/v1/customers/1001", "1.1", 200),  # the upgrade request, stream 1's answer
        ("GET", "/v1/customers/1002", "1.1", 200),
        ("GET", "/v1/customers/1003", "2", 200),  # stream 3 of the upgraded connection
        ("POST", "/v1/charges", "1.1", 200),  # upgrade refused: HTTP/1.1 throughout
        ("GET", "/missing", "1.1", 404),
    ]
    assert stats.counts[UPGRADED] == 3
    answered = {ex.target: json.loads(ex.response_body) for ex in found}
    # what the server says it answered in: the upgraded requests in HTTP/2, the refused in 1.1
    assert answered["/v1/customers/1001"]["http"] == "2"
    assert answered["/v1/customers/1003"]["http"] == "2"
    assert answered["/v1/charges"]["http"] == "1.1"
    assert all(dict(ex.response_headers)["content-type"] == "application/json" for ex in found)


def test_every_request_tshark_reads_is_recorded(captures: Captures) -> None:
    # every request tshark reads, in HTTP/1.1 and, after the 101, in HTTP/2
    theirs = lab.tshark_requests(captures.upgrade, "-d", f"tcp.port=={captures.port},http")
    found, _ = _read(captures.upgrade)
    ours = Counter((ex.method or "", ex.target or "") for ex in found if ex.method)
    assert sum(theirs.values()) == 5, f"tshark did not read the upgraded capture: {theirs}"
    assert theirs == ours


def test_readers_sharing_the_capture_give_what_one_reader_gives(captures: Captures) -> None:
    """The parallel ingest's children each follow a share of the connections: the upgraded ones
    come out of their shares whole, in one reader's order."""
    whole = list(read(captures.upgrade, IngestStats()))
    keyed = [
        item
        for index in range(3)
        for item in read_share(captures.upgrade, IngestStats(), (index, 3))
    ]
    assert [ex for _key, ex in sorted(keyed, key=lambda item: item[0])] == whole


def _json(case: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli_group, ["--db", str(case), *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_case_is_the_same_as_the_same_calls_in_http1(
    captures: Captures, tmp_path: Path
) -> None:
    """Endpoints and credential counts of the upgraded calls equal those of the same calls in
    HTTP/1.1: no request counted twice, none lost after the switch."""
    cases = {}
    for name, capture in (("upgrade", captures.upgrade), ("http1", captures.http1)):
        case = tmp_path / f"{name}.db"
        result = CliRunner().invoke(cli_group, ["--db", str(case), "ingest", str(capture)])
        assert result.exit_code == 0, result.stderr
        cases[name] = case

    def endpoints(case: Path) -> list[tuple[str, str, dict[str, int]]]:
        return sorted((r["method"], r["template"], r["statuses"]) for r in _json(case, "endpoints"))

    def credentials(case: Path) -> list[tuple[str, str, int]]:
        return sorted((c["kind"], c["redacted"], c["requests"]) for c in _json(case, "credentials"))

    assert endpoints(cases["upgrade"]) == endpoints(cases["http1"])
    assert credentials(cases["upgrade"]) == credentials(cases["http1"])
    assert [c["requests"] for c in _json(cases["upgrade"], "credentials")] == [5]
