"""A capture that loses packets says so: a tiny ring, the capture paused while a burst of
datagrams arrives on loopback, and the loss shows in the output, the JSON, the case and the
report, exactly (packets read + packets dropped = packets sent). Also the raw packets written
to rotating pcapng files beside the case. Needs CAP_NET_RAW."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from discovery.sources.pcap import iter_frames
from discovery.stats import IngestStats
from tests.paths import FIXTURES

ENTRY = [sys.executable, "-c", "from ir_console.cli import main; main()"]
BURST = 3000


def can_sniff() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except (PermissionError, AttributeError):
        return False
    return True


pytestmark = [
    pytest.mark.integration,  # starts processes or servers
    pytest.mark.skipif(not can_sniff(), reason="live capture needs CAP_NET_RAW"),
]


def free_udp_port() -> socket.socket:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    return sink


def start(case: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            *ENTRY,
            "--db",
            str(case),
            "capture",
            "live",
            "-i",
            "lo",
            "--filter",
            f"udp port {port}",
            "--duration",
            "60",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("capturing on lo"), line
    return proc


def burst(port: int, count: int, size: int = 400) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        payload = b"x" * size
        for _ in range(count):
            out.sendto(payload, ("127.0.0.1", port))


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out, err


@pytest.mark.needs_tool
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_full_ring_loses_packets_and_every_place_says_how_many(
    case_path: Path, as_json: bool
) -> None:
    sink = free_udp_port()
    port = sink.getsockname()[1]
    # 8 blocks of 8 KiB: about 150 datagrams of 400 bytes fit; the burst is 3000
    proc = start(case_path, port, "--buffer", "64K", "--snaplen", "2048", *(["--json"] * as_json))
    try:
        os.kill(proc.pid, signal.SIGSTOP)  # the capture cannot read: the ring fills
        burst(port, BURST)
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(1.5)
        out, err = stop(proc)
    finally:
        sink.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "warning: " in err and "LOST" in err
    with sqlite3.connect(case_path) as db:
        fmt, state, dropped, stats_text = db.execute(
            "SELECT format, state, dropped, stats FROM inputs"
        ).fetchone()
    stored = json.loads(stats_text)
    assert (fmt, state) == ("live", "complete")
    assert 0 < dropped < BURST
    assert stored["packets"] + dropped == BURST  # every packet is read or counted lost
    assert stored["dropped"] == {"kernel": dropped, "queue": 0, "unread": 0}
    assert stored["received"] == BURST and stored["lossy"] is True
    assert f"{dropped} of {BURST} packets were LOST" in err
    if as_json:
        summary = json.loads(out)
        assert summary["lossy"] is True
        assert summary["dropped"] == {"kernel": dropped, "queue": 0, "unread": 0}
        assert summary["lost"] == dropped and summary["received"] == BURST
        assert summary["packets"] == stored["packets"]
        assert summary["capture"]["ring_bytes"] == 64 << 10
    else:
        assert f"kernel: {BURST} received, {dropped} dropped" in out
    report = subprocess.run(
        [*ENTRY, "--db", str(case_path), "report", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    captures = json.loads(report.stdout)["captures"]
    assert [(c["name"], c["lossy"], c["lost"]) for c in captures] == [("live:lo", True, dropped)]
    markdown = subprocess.run(
        [*ENTRY, "--db", str(case_path), "report"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "1 of 1 captures lost packets" in markdown
    assert f"LOSSY: {dropped} of {BURST}" in markdown


@pytest.mark.needs_tool
def test_a_ring_that_keeps_up_reports_no_loss(case_path: Path) -> None:
    sink = free_udp_port()
    port = sink.getsockname()[1]
    proc = start(case_path, port, "--json")
    try:
        burst(port, 200)
        time.sleep(1.5)
        out, err = stop(proc)
    finally:
        sink.close()
    summary = json.loads(out)
    assert (summary["packets"], summary["received"], summary["lost"]) == (200, 200, 0)
    assert summary["lossy"] is False and "LOST" not in err
    with sqlite3.connect(case_path) as db:
        owner, heartbeat, started, dropped = db.execute(
            "SELECT owner, heartbeat, started_at, dropped FROM inputs"
        ).fetchone()
    assert owner.split()[1] == str(proc.pid)  # the capture's process owns its input
    assert heartbeat >= started and dropped == 0  # known to have lost nothing, not unknown
    report = subprocess.run(
        [*ENTRY, "--db", str(case_path), "report"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "captures lost packets" not in report
    assert "| live:lo |" in report and "| none |" in report


@pytest.mark.needs_tool
def test_raw_packets_written_to_rotating_private_pcapng(case_path: Path, tmp_path: Path) -> None:
    sink = free_udp_port()
    port = sink.getsockname()[1]
    target = tmp_path / "evidence" / "raw.pcapng"
    target.parent.mkdir()
    proc = start(case_path, port, "--json", "--write", str(target), "--rotate", "64K")
    try:
        burst(port, 600, size=300)  # about 200 KiB of packets: several files
        time.sleep(1.5)
        out, _ = stop(proc)
    finally:
        sink.close()
    summary = json.loads(out)
    files = sorted(target.parent.iterdir())
    assert [f.name for f in files] == [f"raw_{i:05d}.pcapng" for i in range(1, len(files) + 1)]
    assert len(files) >= 3
    assert [Path(f["path"]).name for f in summary["files"]] == [f.name for f in files]
    frames = 0
    for written in files:
        assert written.stat().st_mode & 0o777 == 0o600
        assert written.stat().st_size <= 64 << 10
        stats = IngestStats()
        payloads = [data[-300:] for *_, data in iter_frames(written, stats)]
        assert payloads and all(p == b"x" * 300 for p in payloads)
        assert not stats.skipped
        frames += len(payloads)
    assert frames == summary["packets"] == 600
    assert summary["files"][0]["frames"][0] == 1 and summary["files"][-1]["frames"][1] == 600


@pytest.mark.parametrize(
    "target", ["case.db", "case.db-wal", "case.db.key"], ids=["case", "wal", "key"]
)
def test_write_never_over_the_case(case_path: Path, target: str) -> None:
    if not can_sniff():
        pytest.skip("needs CAP_NET_RAW")
    case_path.write_bytes(b"")  # something there, as a case would be
    before = case_path.read_bytes()
    proc = subprocess.run(
        [
            *ENTRY,
            "--db",
            str(case_path),
            "capture",
            "live",
            "-i",
            "lo",
            "--duration",
            "1",
            "--write",
            str(case_path.parent / target),
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "refusing to write" in proc.stderr and proc.stderr.count("\n") == 1
    assert case_path.read_bytes() == before


def test_a_stop_reads_what_the_ring_holds_and_a_hurried_stop_counts_it_lost(
    case_path: Path,
) -> None:
    """Stopped behind the traffic, a capture reads the ring to the end; told to hurry, it
    counts every packet it left there. Either way read + lost = what the kernel accepted."""
    from discovery.case.store import Store
    from discovery.ingest.live import CaptureOptions, open_capture

    sink = free_udp_port()
    port = sink.getsockname()[1]
    try:
        for hurried in (False, True):
            options = CaptureOptions(iface="lo", bpf=f"udp port {port}", ring_bytes=4 << 20)
            capture = open_capture(options, case_path)
            burst(port, 500)  # waiting in the ring: the capture has not read anything yet
            stop, hurry = threading.Event(), threading.Event()
            stop.set()
            if hurried:
                hurry.set()
            with Store.open(case_path) as store:
                stats = capture.run(store, stop, hurry=hurry)
            c = capture.counters
            assert c.received == 500 and c.kernel_dropped == 0
            if hurried:
                assert (stats.packets, c.unread, c.lossy) == (0, 500, True)
                assert "500 left unread in the ring" in stats.warnings[-1]
            else:
                assert (stats.packets, c.unread, c.lossy) == (500, 0, False)
    finally:
        sink.close()
    with sqlite3.connect(case_path) as db:
        rows = db.execute("SELECT dropped FROM inputs ORDER BY id").fetchall()
    assert rows == [(0,), (500,)]


@pytest.mark.needs_tool
def test_workers_share_the_flows_and_record_what_one_reader_does(
    case_path: Path, tmp_path: Path
) -> None:
    """Two workers in a fanout group: the kernel splits the connections between them, and
    together they record every exchange the file gives when ingested, each naming its worker
    in the evidence."""
    tcpreplay = shutil.which("tcpreplay")
    if tcpreplay is None:
        pytest.skip("tcpreplay not installed")
    fixture = FIXTURES / "pcap" / "http_api.pcap"
    offline = tmp_path / "offline.db"
    subprocess.run([*ENTRY, "--db", str(offline), "ingest", str(fixture)], check=True, timeout=120)
    proc = subprocess.Popen(
        [
            *ENTRY,
            "--db",
            str(case_path),
            "capture",
            "live",
            "-i",
            "lo",
            "--filter",
            "tcp port 40521",  # the fixture's server
            "--workers",
            "2",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("capturing on lo")
        subprocess.run(
            [tcpreplay, "-q", "-i", "lo", "--pps", "5000", str(fixture)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        time.sleep(1)
        out, _ = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    summary = json.loads(out)
    assert summary["capture"]["workers"] == 2 and summary["lost"] == 0
    query = "SELECT method, path, status, server_port FROM exchanges ORDER BY 1, 2, 3"
    with sqlite3.connect(offline) as db:
        expected = db.execute(query).fetchall()
    with sqlite3.connect(case_path) as db:
        got = db.execute(query).fetchall()
        workers = {ev.split(":")[0] for (ev,) in db.execute("SELECT evidence FROM exchanges")}
    assert got == expected and len(expected) == 39
    assert summary["exchanges"] == 39 and summary["packets"] == summary["received"] == 313
    assert workers == {"worker 1", "worker 2"}


def test_a_count_needs_one_worker(case_path: Path) -> None:
    proc = subprocess.run(
        [
            *ENTRY,
            "--db",
            str(case_path),
            "capture",
            "live",
            "-i",
            "lo",
            "-c",
            "5",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--count needs one worker" in proc.stderr
    assert not case_path.exists()
