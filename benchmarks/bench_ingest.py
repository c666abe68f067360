"""Benchmark: `ir-console ingest` of a pcap end to end vs tshark's HTTP field extraction.

    .venv/bin/python benchmarks/bench_ingest.py            # 100k packets, then 10x for memory
    .venv/bin/python benchmarks/bench_ingest.py --quick    # 10k packets, then 10x
    .venv/bin/python benchmarks/bench_ingest.py --pcap FILE  # take a capture instead
    .venv/bin/python benchmarks/bench_ingest.py --repeat 5   # medians of 5 alternating rounds

The capture is loopback HTTP/1.1 API traffic synthesised frame by frame (Ethernet/IPv4/TCP with
consistent sequence numbers: handshake, keep-alive requests with Bearer/API-key credentials,
JSON and gzip responses, FIN), 50 connections interleaved. Both tools run as child processes;
wall time and peak RSS (``wait4``) are measured per process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IR_CONSOLE = Path(sys.executable).with_name("ir-console")

_ETH = b"\x00" * 12 + b"\x08\x00"
_CLIENT = bytes([127, 0, 0, 1])
_SERVER = bytes([127, 0, 0, 1])


def _frame(
    ts: float, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, _CLIENT, _SERVER
    )
    tcp = struct.pack(
        "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0
    )
    data = _ETH + ip + tcp + payload
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(data), len(data)) + data


def _exchange(rng: random.Random, host: str, tokens: list[str]) -> tuple[bytes, bytes]:
    uid = rng.randrange(1, 50_000)
    kind = rng.random()
    auth = (
        f"Authorization: Bearer {rng.choice(tokens)}\r\n"
        if kind < 0.7
        else f"X-API-Key: key_{rng.randrange(40):04d}_{'k' * 24}\r\n"
    )
    if kind < 0.5:
        req = (
            f"GET /v1/users/{uid}/orders?limit=20&cursor={uid * 7} HTTP/1.1\r\nHost: {host}\r\n"
            f"User-Agent: svc-billing/2.3\r\nAccept: application/json\r\n{auth}\r\n"
        ).encode()
        body = json.dumps(
            {"user": uid, "orders": [{"id": uid * 10 + i, "total": i * 3.5} for i in range(4)]}
        ).encode()
        extra = ""
    elif kind < 0.8:
        payload = json.dumps({"sku": f"A-{uid}", "qty": 2, "note": "x" * 40}).encode()
        req = (
            f"POST /v1/orders HTTP/1.1\r\nHost: {host}\r\nUser-Agent: svc-shop/1.0\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{auth}\r\n"
        ).encode() + payload
        body = json.dumps({"id": uid, "status": "created"}).encode()
        extra = ""
    else:
        req = (
            f"GET /v2/reports/{uid:08x}.json HTTP/1.1\r\nHost: {host}\r\n"
            f"Accept-Encoding: gzip\r\n{auth}\r\n"
        ).encode()
        body = gzip.compress(
            json.dumps({"rows": list(range(60)), "owner": "ops@example.com"}).encode(), 1
        )
        extra = "Content-Encoding: gzip\r\n"
    resp = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return req, resp


def make_capture(path: Path, packets: int, seed: int = 7) -> int:
    """Write a pcap of about ``packets`` frames; returns the exact count."""
    rng = random.Random(seed)
    tokens = [f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMte{i}In0.{'s' * 43}" for i in range(60)]
    hosts = [f"api{i}.internal.test" for i in range(8)]
    written = 0
    ts = 1_790_000_000.0
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        next_port = 10_000
        active: list[list[object]] = []
        buf: list[bytes] = []
        while written < packets:
            while len(active) < 50:
                sport = next_port
                next_port = 10_000 + (next_port - 9_999) % 50_000
                host = rng.choice(hosts)
                active.append([sport, 1000, 9000, rng.randrange(3, 9), host, 0])
            conn = active[rng.randrange(len(active))]
            sport, cseq, sseq, left, host, state = conn  # type: ignore[misc]
            ts += 0.0002
            frames: list[bytes] = []
            if state == 0:  # handshake
                frames += [
                    _frame(ts, sport, 8080, cseq, 0, 0x02, b""),
                    _frame(ts, 8080, sport, sseq, cseq + 1, 0x12, b""),
                    _frame(ts, sport, 8080, cseq + 1, sseq + 1, 0x10, b""),
                ]
                cseq += 1
                sseq += 1
                state = 1
            elif left > 0:
                req, resp = _exchange(rng, str(host), tokens)
                frames += [
                    _frame(ts, sport, 8080, cseq, sseq, 0x18, req),
                    _frame(ts, 8080, sport, sseq, cseq + len(req), 0x10, b""),
                ]
                cseq += len(req)
                frames += [
                    _frame(ts + 0.0001, 8080, sport, sseq, cseq, 0x18, resp),
                    _frame(ts + 0.0001, sport, 8080, cseq, sseq + len(resp), 0x10, b""),
                ]
                sseq += len(resp)
                left -= 1
            else:  # close
                frames += [
                    _frame(ts, sport, 8080, cseq, sseq, 0x11, b""),
                    _frame(ts, 8080, sport, sseq, cseq + 1, 0x11, b""),
                    _frame(ts, sport, 8080, cseq + 1, sseq + 1, 0x10, b""),
                ]
                active.remove(conn)
                written += len(frames)
                buf += frames
                continue
            conn[:] = [sport, cseq, sseq, left, host, state]
            written += len(frames)
            buf += frames
            if len(buf) > 10_000:
                out.write(b"".join(buf))
                buf = []
        out.write(b"".join(buf))
    return written


def precompile() -> None:
    """Write our pure-Python modules' bytecode once, as ``pip install`` does (and a first run does
    wherever ``PYTHONDONTWRITEBYTECODE`` is unset). Without it, on a machine whose environment sets
    that variable (this one), every measured run compiles them again: about 60 ms of CPU that no
    installed copy pays."""
    import compileall

    for package in ("discovery", "ir_console", "runbooks"):
        compileall.compile_dir(ROOT / package, quiet=1)


def run_measured(argv: list[str]) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MiB, stdout, CPU seconds) of one child process.

    CPU time (user + system, the reader child included) is printed beside wall time because
    these machines are shared: wall time moves with the load, CPU time much less.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def ingest(pcap: Path, workdir: Path) -> tuple[float, float, str, float]:
    case = workdir / f"case-{pcap.stem}.db"
    for leftover in workdir.glob(case.name + "*"):
        leftover.unlink()
    return run_measured([str(IR_CONSOLE), "--db", str(case), "ingest", str(pcap)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k packets (then 10x)")
    parser.add_argument("--pcap", type=Path, help="take this capture instead of making one")
    parser.add_argument("--no-10x", action="store_true", help="skip the 10x memory run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="rounds of ours and tshark, alternating; medians are printed",
    )
    args = parser.parse_args()
    precompile()  # bytecode written once, as an installed copy has it
    size = 10_000 if args.quick else 100_000
    tshark = shutil.which("tshark")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        if args.pcap:
            pcap = args.pcap
            from scapy.utils import RawPcapReader  # only to count frames of a given file

            count = sum(1 for _ in RawPcapReader(str(pcap)))
        else:
            pcap = work / f"api-{size}.pcap"
            count = make_capture(pcap, size)
        mib = pcap.stat().st_size / 2**20
        print(f"capture: {pcap.name}: {count} packets, {mib:.1f} MiB")
        runs: list[tuple[float, float, float]] = []  # ours: wall, RSS, CPU
        peers: list[tuple[float, float, float, int]] = []  # tshark: wall, RSS, CPU, requests
        summary = ""
        for _ in range(args.repeat):  # alternating, so both see the same load
            ours, ours_rss, summary, ours_cpu = ingest(pcap, work)
            runs.append((ours, ours_rss, ours_cpu))
            if tshark:
                theirs, their_rss, fields, their_cpu = run_measured(
                    [
                        tshark,
                        "-r",
                        str(pcap),
                        "-Y",
                        "http.request",
                        "-T",
                        "fields",
                        "-e",
                        "http.host",
                        "-e",
                        "http.request.method",
                        "-e",
                        "http.request.uri",
                    ]
                )
                peers.append((theirs, their_rss, their_cpu, len(fields.splitlines())))
        med = statistics.median
        ours, ours_rss, ours_cpu = (med(r[i] for r in runs) for i in range(3))
        note = f" (median of {args.repeat})" if args.repeat > 1 else ""
        print(
            f"ir-console ingest: {ours:.2f} s  ({count / ours:,.0f} packets/s), "
            f"CPU {ours_cpu:.2f} s, peak RSS {ours_rss:.0f} MiB{note}"
        )
        print("  " + summary.strip().splitlines()[0] if summary.strip() else "")
        if peers:
            theirs, their_rss, their_cpu = (med(r[i] for r in peers) for i in range(3))
            print(
                f"tshark fields:     {theirs:.2f} s  ({count / theirs:,.0f} packets/s), "
                f"CPU {their_cpu:.2f} s, peak RSS {their_rss:.0f} MiB, "
                f"{peers[-1][3]} requests{note}"
            )
            wall_ratio = med(o[0] / t[0] for o, t in zip(runs, peers, strict=True))
            cpu_ratio = med(o[2] / t[2] for o, t in zip(runs, peers, strict=True))
            print(
                f"ratio ours/tshark: wall {wall_ratio:.2f}, CPU {cpu_ratio:.2f}"
                f"  (target <= 0.45, issue 25{'; median of per-round ratios' if note else ''})"
            )
        else:
            print("tshark not installed: no comparison")
        if not args.no_10x and not args.pcap:
            big = work / f"api-{size * 10}.pcap"
            big_count = make_capture(big, size * 10)
            pcap.unlink()
            big_time, big_rss, _, _ = ingest(big, work)
            print(
                f"10x capture: {big_count} packets, {big.stat().st_size / 2**20:.0f} MiB: "
                f"ingest {big_time:.2f} s ({big_count / big_time:,.0f} packets/s), "
                f"peak RSS {big_rss:.0f} MiB (vs {ours_rss:.0f} MiB at 1x: "
                f"{big_rss / ours_rss:.2f}x)"
            )


if __name__ == "__main__":
    main()
