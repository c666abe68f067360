"""Benchmark: `ir-console ingest --keylog` of a TLS 1.3 + HTTP/2 capture vs tshark decrypting the
same file (`-o tls.keylog_file:...`) and extracting the HTTP/2 request fields, in the same run.

    .venv/bin/python benchmarks/bench_tls.py             # 50k requests, then 4x for memory
    .venv/bin/python benchmarks/bench_tls.py --quick     # 5k requests, then 4x
    .venv/bin/python benchmarks/bench_tls.py --repeat 3  # medians of 3 alternating rounds
    .venv/bin/python benchmarks/bench_tls.py --memory 50000,200000,400000 --captures DIR
        # memory only: peak RSS of the ingest at each size (captures kept in DIR for next time)

The capture is real TLS made in this process: OpenSSL (Python's ``ssl``) on both ends over
memory BIOs, the client writing its key log; HTTP/2 made by python-hyper's ``h2`` client and
server state machines (HPACK with its dynamic table, flow control acknowledged), API calls with
Bearer and API-key credentials, JSON responses; 100 requests per connection, ten in flight at a
time; laid out as Ethernet/IPv4/TCP frames with consistent sequence numbers. Both tools run as
child processes; wall time, CPU time and peak RSS (``wait4``) are measured per process.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import ssl
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.events

# the repository (the tests' certificate maker) and this folder (a sibling script: benchmarks/ is
# not a package) on the path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import precompile, run_measured

from tests.discovery.proxyfixtures import self_signed_cert

IR_CONSOLE = Path(sys.executable).with_name("ir-console")
HOST = "api.bench.test"
PER_CONNECTION = 100
IN_FLIGHT = 10
_ETH = b"\x00" * 12 + b"\x08\x00"
_LOOP = bytes([127, 0, 0, 1])


class _Writer:
    """TCP frames of one connection into the pcap (sequence numbers kept per direction)."""

    def __init__(self, out: list[bytes], sport: int, ts: float) -> None:
        self.out = out
        self.sport = sport
        self.ts = ts
        self.seq = [1000, 90000]  # client, server
        self._segment(True, 0x02, b"")
        self._segment(False, 0x12, b"")
        self.seq = [1001, 90001]

    def _segment(self, from_client: bool, flags: int, payload: bytes) -> None:
        sport, dport = (self.sport, 443) if from_client else (443, self.sport)
        seq, ack = (self.seq[0], self.seq[1]) if from_client else (self.seq[1], self.seq[0])
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, _LOOP, _LOOP
        )
        tcp = struct.pack(
            "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0
        )
        data = _ETH + ip + tcp + payload
        self.ts += 0.00005
        sec = int(self.ts)
        head = struct.pack("<IIII", sec, int((self.ts - sec) * 1e6), len(data), len(data))
        self.out.append(head + data)

    def send(self, from_client: bool, data: bytes) -> None:
        for pos in range(0, len(data), 16000):  # loopback MTU-sized segments
            piece = data[pos : pos + 16000]
            self._segment(from_client, 0x18, piece)
            self.seq[0 if from_client else 1] += len(piece)

    def close(self) -> None:
        self._segment(True, 0x11, b"")
        self.seq[0] += 1
        self._segment(False, 0x11, b"")


def _request(rng: random.Random, tokens: list[str]) -> tuple[list[tuple[str, str]], bytes]:
    uid = rng.randrange(1, 50_000)
    kind = rng.random()
    auth = (
        ("authorization", f"Bearer {rng.choice(tokens)}")
        if kind < 0.7
        else ("x-api-key", f"key_{rng.randrange(40):04d}_{'k' * 24}")
    )
    if kind < 0.6:
        method, path, body = "GET", f"/v1/users/{uid}/orders?limit=20&cursor={uid * 7}", b""
    else:
        method, path = "POST", "/v1/orders"
        body = json.dumps({"sku": f"A-{uid}", "qty": 2, "note": "x" * 40}).encode()
    headers = [
        (":method", method),
        (":scheme", "https"),
        (":authority", HOST),
        (":path", path),
        ("user-agent", rng.choice(("svc-billing/2.3", "svc-shop/1.0", "curl/8.5.0"))),
        ("accept", "application/json"),
        auth,
    ]
    if body:
        headers.append(("content-type", "application/json"))
    return headers, body


def _connection(
    rng: random.Random,
    tokens: list[str],
    client_ctx: ssl.SSLContext,
    server_ctx: ssl.SSLContext,
    writer: _Writer,
    requests: int,
) -> None:
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=HOST)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)

    def pump() -> bool:
        moved = False
        data = c_out.read()
        if data:
            writer.send(True, data)
            s_in.write(data)
            moved = True
        data = s_out.read()
        if data:
            writer.send(False, data)
            c_in.write(data)
            moved = True
        return moved

    done = [False, False]
    while not all(done) or pump():
        for i, end in enumerate((client, server)):
            if not done[i]:
                try:
                    end.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
        pump()
    hc = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    hs = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    hc.initiate_connection()
    hs.initiate_connection()
    sent = 0
    while sent < requests:
        for _ in range(min(IN_FLIGHT, requests - sent)):
            headers, body = _request(rng, tokens)
            sid = hc.get_next_available_stream_id()
            hc.send_headers(sid, headers, end_stream=not body)
            if body:
                hc.send_data(sid, body, end_stream=True)
            sent += 1
        client.write(hc.data_to_send())
        pump()
        _serve(server, hs, rng)
        pump()
        _drain(client, hc)
        out = hc.data_to_send()
        if out:
            client.write(out)
            pump()
            _serve(server, hs, rng)
            pump()
    writer.close()


def _read_all(end: ssl.SSLObject) -> bytes:
    got = b""
    while True:
        try:
            chunk = end.read(1 << 20)
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            return got
        if not chunk:
            return got
        got += chunk


def _serve(server: ssl.SSLObject, hs: h2.connection.H2Connection, rng: random.Random) -> None:
    for event in hs.receive_data(_read_all(server)):
        if isinstance(event, h2.events.DataReceived):
            hs.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            body = json.dumps(
                {"id": event.stream_id, "orders": [{"n": i, "total": i * 3.5} for i in range(4)]}
            ).encode()
            hs.send_headers(
                event.stream_id,
                [
                    (":status", "200" if rng.random() < 0.95 else "404"),
                    ("content-type", "application/json"),
                    ("content-length", str(len(body))),
                ],
            )
            hs.send_data(event.stream_id, body, end_stream=True)
    out = hs.data_to_send()
    if out:
        server.write(out)


def _drain(client: ssl.SSLObject, hc: h2.connection.H2Connection) -> None:
    for event in hc.receive_data(_read_all(client)):
        if isinstance(event, h2.events.DataReceived):
            hc.acknowledge_received_data(event.flow_controlled_length, event.stream_id)


def make_capture(folder: Path, pcap: Path, keylog: Path, requests: int) -> None:
    """A capture of ``requests`` HTTP/2 requests over TLS 1.3 and its key log."""
    rng = random.Random(7)
    tokens = [f"tok_{i:03d}_" + "".join(rng.choices("abcdef0123456789", k=32)) for i in range(30)]
    cert, key = self_signed_cert(folder, HOST, stem="bench")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server_ctx.set_alpn_protocols(["h2"])
    server_ctx.num_tickets = 0
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.set_alpn_protocols(["h2"])
    if keylog.exists():
        keylog.unlink()
    client_ctx.keylog_filename = str(keylog)
    ts = 1_790_000_000.0
    with pcap.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        left, port = requests, 20000
        while left > 0:
            frames: list[bytes] = []
            count = min(PER_CONNECTION, left)
            writer = _Writer(frames, port, ts)
            _connection(rng, tokens, client_ctx, server_ctx, writer, count)
            ts = writer.ts
            out.write(b"".join(frames))
            left -= count
            port = 20000 + (port - 19999) % 40000


def capture_of(folder: Path, size: int) -> tuple[Path, Path]:
    """The capture of ``size`` requests and its key log in ``folder``, made when missing."""
    pcap, keylog = folder / f"h2-{size}.pcap", folder / f"h2-{size}.keys"
    if not (pcap.exists() and keylog.exists()):
        started = time.perf_counter()
        make_capture(folder, pcap, keylog, size)
        print(
            f"capture: {size} HTTP/2 requests over TLS 1.3, {pcap.stat().st_size / 2**20:.1f} "
            f"MiB (made in {time.perf_counter() - started:.1f} s)"
        )
    return pcap, keylog


def memory_only(folder: Path, sizes: list[int], work: Path) -> None:
    """Peak RSS of the ingest (its process and its children, ``wait4``) at each size."""
    first: float | None = None
    for size in sizes:
        pcap, keylog = capture_of(folder, size)
        wall, rss, out, cpu = ingest(pcap, keylog, work)
        first = first or rss
        print(
            f"{size:>9,} requests, {pcap.stat().st_size / 2**20:6.1f} MiB capture: peak RSS "
            f"{rss:.0f} MiB ({rss / first:.2f}x the first), {json.loads(out)[0]['exchanges']} "
            f"exchanges, wall {wall:.1f} s, CPU {cpu:.1f} s",
            flush=True,
        )


def ingest(pcap: Path, keylog: Path, work: Path) -> tuple[float, float, str, float]:
    case = work / f"case-{pcap.stem}.db"
    for leftover in work.glob(case.name + "*"):
        leftover.unlink()
    argv = [str(IR_CONSOLE), "--db", str(case), "ingest", str(pcap), "--keylog", str(keylog)]
    return run_measured([*argv, "--json"])


def tshark_fields(tshark: str, pcap: Path, keylog: Path) -> tuple[float, float, str, float]:
    return run_measured(
        [
            tshark,
            "-n",
            "-r",
            str(pcap),
            "-o",
            f"tls.keylog_file:{keylog}",
            "-Y",
            "http2.headers.method",
            "-T",
            "fields",
            "-e",
            "http2.headers.authority",
            "-e",
            "http2.headers.method",
            "-e",
            "http2.headers.path",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k requests (then 4x)")
    parser.add_argument("--requests", type=int, help="requests in the capture")
    parser.add_argument("--no-4x", action="store_true", help="skip the 4x memory run")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="alternating rounds")
    parser.add_argument(
        "--memory", metavar="N,N,...", help="memory only: peak RSS at these capture sizes"
    )
    parser.add_argument(
        "--captures", type=Path, metavar="DIR", help="keep the captures here (reused when there)"
    )
    args = parser.parse_args()
    precompile()  # bytecode written once, as an installed copy has it
    size = args.requests or (5_000 if args.quick else 50_000)
    tshark = shutil.which("tshark")
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        work = Path(tmp)
        folder = args.captures or work
        folder.mkdir(parents=True, exist_ok=True)
        if args.memory:
            memory_only(folder, [int(n.replace("_", "")) for n in args.memory.split(",")], work)
            return
        pcap, keylog = capture_of(folder, size)
        runs: list[tuple[float, float, float, int]] = []
        peers: list[tuple[float, float, float, int]] = []
        for _ in range(args.repeat):  # alternating, so both see the same load
            wall, rss, out, cpu = ingest(pcap, keylog, work)
            summary = json.loads(out)[0]
            runs.append((wall, rss, cpu, summary["exchanges"]))
            if tshark:
                wall, rss, fields, cpu = tshark_fields(tshark, pcap, keylog)
                requests = sum(len(line.split("\t")[1].split(",")) for line in fields.splitlines())
                peers.append((wall, rss, cpu, requests))
        med = statistics.median
        ours, ours_rss, ours_cpu = (med(r[i] for r in runs) for i in range(3))
        note = f" (median of {args.repeat})" if args.repeat > 1 else ""
        print(
            f"ir-console ingest --keylog: {ours:.2f} s ({size / ours:,.0f} requests/s), CPU "
            f"{ours_cpu:.2f} s, peak RSS {ours_rss:.0f} MiB, {runs[-1][3]} exchanges{note}"
        )
        if peers:
            theirs, their_rss, their_cpu = (med(r[i] for r in peers) for i in range(3))
            print(
                f"tshark decrypting fields: {theirs:.2f} s ({size / theirs:,.0f} requests/s), CPU "
                f"{their_cpu:.2f} s, peak RSS {their_rss:.0f} MiB, {peers[-1][3]} requests{note}"
            )
            wall_ratio = med(o[0] / t[0] for o, t in zip(runs, peers, strict=True))
            cpu_ratio = med(o[2] / t[2] for o, t in zip(runs, peers, strict=True))
            print(f"ratio ours/tshark: wall {wall_ratio:.2f}, CPU {cpu_ratio:.2f} (target <= 0.50)")
        else:
            print("tshark not installed: no comparison")
        if not args.no_4x:
            if args.captures is None:
                pcap.unlink()
            big, keylog = capture_of(folder, size * 4)
            big_wall, big_rss, out, _ = ingest(big, keylog, work)
            print(
                f"4x capture: {size * 4} requests, {big.stat().st_size / 2**20:.0f} MiB: ingest "
                f"{big_wall:.2f} s, {json.loads(out)[0]['exchanges']} exchanges, peak RSS "
                f"{big_rss:.0f} MiB (vs {ours_rss:.0f} MiB at 1x: {big_rss / ours_rss:.2f}x)"
            )


if __name__ == "__main__":
    main()
