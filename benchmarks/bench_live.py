"""Benchmark: `ir-console capture live` against tcpdump, both capturing a replay onto loopback.

    .venv/bin/python benchmarks/bench_live.py                   # 20k, 60k packets/s, top speed
    .venv/bin/python benchmarks/bench_live.py --rates 60000     # one rate
    .venv/bin/python benchmarks/bench_live.py --buffer 2M       # a smaller ring for both
    .venv/bin/python benchmarks/bench_live.py --workers 2       # two capture workers
    .venv/bin/python benchmarks/bench_live.py --pipe            # also libpcap's engine, piped

The capture is bench_ingest's loopback HTTP/1.1 API traffic (about 117k packets, 25k
exchanges), its destination MAC rewritten so the kernel's IP layer ignores the replayed packets
(no resets from closed ports; both captures see them before IP does). For each rate, tcpdump
(the reference, writing a pcap) and `ir-console capture live` run side by side on `lo` with the
same filter and ring size while tcpreplay sends the capture; then tcpdump's file is ingested
with `ir-console ingest` to count the exchanges tcpdump's packets hold. Printed per rate: the
packets and exchanges each recorded and the drops each reported. With ``--pipe``, a third
capture reads tcpdump's own engine through a pipe (`tcpdump -w -` into the file reader), the
other way to build this; it runs in a separate replay, as three captures on two cores would
measure the box, not the engines.

Needs root (or CAP_NET_RAW), tcpdump and tcpreplay (``make bench`` installs tcpreplay where it
is missing). The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import make_capture

IR_CONSOLE = Path(sys.executable).with_name("ir-console")
PORT_FILTER = "tcp port 8080"
TOP = 0  # "rate" of a top-speed replay


@dataclass
class Recorded:
    """What one capture recorded."""

    packets: int
    exchanges: int
    dropped: int | None
    received: int | None = None
    cpu: float = 0.0  # CPU seconds of the capture process
    catching_up: float = 0.0  # seconds from the stop signal to the end (reading the ring)


def parse_size(text: str) -> int:
    found = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not found:
        raise SystemExit(f"not a size: {text}")
    return int(found.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[found.group(2)]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def wait_for(stream: object, needle: str, timeout: float = 30.0) -> str:
    """Read lines of a child's stderr until one holds ``needle``."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise SystemExit(f"capture did not start: {''.join(seen)[-500:]}")


def replay(pcap: Path, rate: int) -> str:
    argv = ["tcpreplay", "-i", "lo"]
    argv += ["--topspeed"] if rate == TOP else [f"--pps={rate}"]
    out = subprocess.run([*argv, str(pcap)], capture_output=True, text=True, check=True)
    found = re.search(r"Rated: ([\d.]+) Bps, ([\d.]+) Mbps, ([\d.]+) pps", out.stdout)
    return f"{float(found.group(3)):,.0f} packets/s, {found.group(2)} Mbit/s" if found else "?"


def start_tcpdump(out: Path, buffer: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-nn", "-B", str(buffer >> 10), "-w", str(out), PORT_FILTER],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(proc.stderr, "listening on")
    return proc


def stop_tcpdump(proc: subprocess.Popen[str]) -> tuple[int, int, int]:
    """(captured, received by filter, dropped by kernel) from tcpdump's closing lines."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)

    def number(label: str) -> int:
        found = re.search(rf"(\d+) packets? {label}", err)
        return int(found.group(1)) if found else -1

    return number("captured"), number("received by filter"), number("dropped by kernel")


def start_ours(case: Path, buffer: int, workers: int) -> subprocess.Popen[str]:
    argv = [str(IR_CONSOLE), "--db", str(case), "capture", "live", "-i", "lo"]
    argv += ["--filter", PORT_FILTER, "--buffer", str(buffer), "--json"]
    argv += ["--workers", str(workers)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(proc.stderr, "capturing on")
    return proc


def stop_ours(proc: subprocess.Popen[str]) -> Recorded:
    """Stop the capture (it reads what its ring still holds first) and read its summary."""
    stopped = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"capture live failed ({proc.returncode}): {err[-800:]}")
    data = json.loads(out)
    return Recorded(
        data["packets"],
        data["exchanges"],
        data["lost"],
        data["received"],
        cpu=usage.ru_utime + usage.ru_stime,
        catching_up=time.monotonic() - stopped,
    )


def exchanges_in(pcap: Path, work: Path) -> int:
    """Exchanges `ir-console ingest` reads from a capture file."""
    case = work / f"ingest-{pcap.stem}.db"
    subprocess.run(
        [str(IR_CONSOLE), "--db", str(case), "ingest", str(pcap)],
        capture_output=True,
        check=True,
    )
    with sqlite3.connect(case) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0])


def pipe_reader(case: Path) -> None:
    """The libpcap engine's other half: pcap on stdin through the file reader into a case."""
    from discovery.case.store import Store
    from discovery.case.writer import ExchangeWriter
    from discovery.sources.pcap import read
    from discovery.stats import IngestStats

    stats = IngestStats()
    with Store.open(case) as store:
        input_id = store.register_capture("pipe:lo", "pcap")
        writer = ExchangeWriter(store, input_id)
        writer.add_all(read(Path("/dev/stdin"), stats))
        writer.flush()
        print(json.dumps({"packets": stats.packets, "exchanges": writer.written}))


def run_pipe(pcap: Path, rate: int, buffer: int, work: Path) -> tuple[Recorded, str]:
    case = work / f"pipe-{rate}.db"
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-nn", "-B", str(buffer >> 10), "-w", "-", PORT_FILTER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=False,
    )
    reader = subprocess.Popen(
        [sys.executable, __file__, "--pipe-reader", str(case)],
        stdin=dump.stdout,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert dump.stdout is not None and dump.stderr is not None
    dump.stdout.close()
    line = dump.stderr.readline().decode()
    if "listening on" not in line:
        raise SystemExit(f"tcpdump did not start: {line}")
    sent = replay(pcap, rate)
    time.sleep(2)
    dump.send_signal(signal.SIGINT)
    err = dump.stderr.read().decode()
    dump.wait(timeout=120)
    out, _ = reader.communicate(timeout=600)
    data = json.loads(out)

    def number(label: str) -> int | None:
        found = re.search(rf"(\d+) packets? {label}", err)
        return int(found.group(1)) if found else None

    dropped = number("dropped by kernel")
    return Recorded(data["packets"], data["exchanges"], dropped, number("received by filter")), sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="20000,60000,top", help="packets/s, or top")
    parser.add_argument("--buffer", default="64M", help="ring size for both captures")
    parser.add_argument("--packets", type=int, default=100_000, help="size of the capture")
    parser.add_argument("--workers", type=int, default=1, help="capture live --workers N")
    parser.add_argument("--pipe", action="store_true", help="also measure tcpdump -w - | reader")
    parser.add_argument("--pipe-reader", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipe_reader:
        pipe_reader(args.pipe_reader)
        return
    for tool in ("tcpdump", "tcpreplay", "tcprewrite"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (make bench installs tcpreplay)")
    if os.geteuid() != 0:
        raise SystemExit("capturing needs root")
    buffer = parse_size(args.buffer)
    rates = [TOP if r.strip() == "top" else int(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        work = Path(tmp)
        made = work / "made.pcap"
        count = make_capture(made, args.packets)
        pcap = work / "api.pcap"
        subprocess.run(
            [
                "tcprewrite",
                "--enet-dmac=02:00:00:00:00:01",
                f"--infile={made}",
                f"--outfile={pcap}",
            ],
            check=True,
        )
        offline = exchanges_in(pcap, work)
        print(f"capture: {count} packets, {offline} exchanges when ingested as a file")
        print(
            f"ring/buffer: {buffer >> 20} MiB for both (each worker's); filter: {PORT_FILTER}; "
            f"capture live --workers {args.workers}"
        )
        header = f"{'rate':>26} | {'tool':<22} | {'packets':>8} | {'exchanges':>9} | dropped"
        print(header)
        print("-" * len(header))
        for rate in rates:
            print(f"  ({load()})")
            dump_file = work / f"tcpdump-{rate}.pcap"
            case = work / f"ours-{rate}.db"
            dump = start_tcpdump(dump_file, buffer)
            ours = start_ours(case, buffer, args.workers)
            sent = replay(pcap, rate)
            time.sleep(2)
            theirs = stop_tcpdump(dump)
            mine = stop_ours(ours)
            their_exchanges = exchanges_in(dump_file, work)
            label = "top speed" if rate == TOP else f"{rate:,} packets/s"
            print(
                f"{label:>26} | {'tcpdump':<22} | {theirs[0]:>8} | {their_exchanges:>9} | "
                f"{theirs[2]} (received by filter {theirs[1]})"
            )
            print(
                f"{sent:>26} | {'ir-console capture live':<22} | {mine.packets:>8} | "
                f"{mine.exchanges:>9} | {mine.dropped} (kernel received {mine.received})"
            )
            verdict = (
                "same packets and exchanges as tcpdump"
                if (mine.packets, mine.exchanges) == (theirs[0], their_exchanges)
                else f"{theirs[0] - mine.packets} packets, {their_exchanges - mine.exchanges} "
                f"exchanges fewer than tcpdump; loss reported: {mine.dropped}"
            )
            exact = (
                mine.received is not None and mine.packets + (mine.dropped or 0) == mine.received
            )
            print(f"{'':>26} | {verdict}")
            print(
                f"{'':>26} | read + lost = kernel received: {'yes' if exact else 'NO'}; "
                f"CPU {mine.cpu:.1f} s ({mine.packets / max(mine.cpu, 1e-9):,.0f} packets per "
                f"CPU second); {mine.catching_up:.1f} s reading the ring after the stop"
            )
            if args.pipe:
                print(f"  ({load()})")
                piped, sent = run_pipe(pcap, rate, buffer, work)
                print(
                    f"{sent:>26} | {'tcpdump -w - | reader':<22} | {piped.packets:>8} | "
                    f"{piped.exchanges:>9} | {piped.dropped} (received by filter "
                    f"{piped.received}: {(piped.received or 0) - piped.packets} left in "
                    "tcpdump's ring at the stop)"
                )
        print(f"  ({load()})")


if __name__ == "__main__":
    main()
