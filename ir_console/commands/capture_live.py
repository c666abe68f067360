"""``ir-console capture live``: capture an interface into the case from the kernel's packet ring,
flushing every second, with every lost packet counted and reported."""

from __future__ import annotations

import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, message
from ir_console.progress import Steps
from ir_console.sanitize import clean

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


class Size(click.ParamType[int, Any]):
    """A size in bytes: a number with an optional unit K, M or G (powers of 1024)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        found = _SIZE.match(str(value))
        if not found:
            self.fail(f"{value!r} is not a size (e.g. 65536, 512K, 64M, 1G)", param, ctx)
        return int(found.group(1)) * _UNITS[found.group(2).lower()]


@click.command()
@click.option("-i", "--iface", required=True, help="The interface to capture (e.g. eth0, lo, any).")
@click.option(
    "--filter", "bpf", help="A BPF capture filter (tcpdump syntax), e.g. 'tcp port 8080'."
)
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after S seconds.")
@click.option("-c", "--count", type=click.IntRange(min=1), help="Stop after N packets.")
@click.option(
    "-s",
    "--snaplen",
    type=click.IntRange(min=64, max=262_144),
    default=262_144,
    show_default=True,
    help="Bytes kept of each packet (longer ones are cut and counted as truncated).",
)
@click.option(
    "-B",
    "--buffer",
    "ring",
    type=Size(),
    default="64M",
    show_default=True,
    help="Size of the kernel's capture ring (SIZE: bytes, or with K, M, G). Packets arriving "
    "while it is full are dropped by the kernel, and counted. Refused when the rings would "
    "take more than half of the memory available.",
)
@click.option(
    "-w",
    "--write",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the raw packets to this pcapng file (private, never over the case).",
)
@click.option(
    "--rotate",
    type=Size(),
    help="With --write: start a new file before one passes SIZE (FILE_00001.pcapng, ...).",
)
@click.option("--force", is_flag=True, help="With --write: replace files that exist already.")
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=16),
    default=1,
    show_default=True,
    help="Worker processes, each reading its own ring, the kernel splitting the flows between "
    "them: for traffic one core cannot keep up with.",
)
@click.option(
    "--keylog",
    "keylogs",
    multiple=True,
    type=click.Path(path_type=Path),  # checked (one line, exit 2) before the capture starts
    help="A TLS key log (NSS format, SSLKEYLOGFILE) followed as clients append to it: the "
    "connections whose secrets it holds, or comes to hold, are decrypted (repeatable; it may "
    "not exist yet; secrets stay in memory, never in the case).",
)
@click.option(
    "--keylog-wait",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds a TLS connection's packets are held, after its ClientHello, for its secrets "
    "to be logged (also at most 1 MiB a connection, 64 MiB in all); then it stays opaque.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON summary on stdout at the end.")
@click.pass_obj
def live(
    case: CaseContext,
    iface: str,
    bpf: str | None,
    duration: float | None,
    count: int | None,
    snaplen: int,
    ring: int,
    write: Path | None,
    rotate: int | None,
    force: bool,
    workers: int,
    keylogs: tuple[Path, ...],
    keylog_wait: float,
    as_json: bool,
) -> None:
    """Capture HTTP/1.x and TLS ClientHellos from an interface into the case.

    Packets come from the kernel's packet ring (AF_PACKET, TPACKET_V3), read a block at a
    time. Packets the kernel dropped because the ring was full are counted, printed, stored
    with the capture in the case and listed by `report`: a capture never loses traffic in
    silence. Ctrl-C or SIGTERM stops the capture: no more packets are let in, what the ring
    holds is read to the end (a second Ctrl-C stops at once; what is left counts as lost),
    everything is flushed, exit 0. Needs root or CAP_NET_RAW.

    With --keylog, TLS connections are decrypted (HTTP/1.x and HTTP/2 inside) as their clients
    log their secrets: a connection whose secrets are not logged yet is held until they are
    (--keylog-wait), then read from its start.
    """
    from discovery.analyse.recompute import recompute
    from discovery.ingest.live import CaptureOptions, open_capture

    if rotate is not None and write is None:
        raise click.UsageError("--rotate needs --write FILE")
    if workers > 1 and count is not None:
        raise click.UsageError("--count needs one worker (--workers 1)")
    if keylog_wait != 10.0 and not keylogs:
        raise click.UsageError("--keylog-wait needs --keylog FILE")
    options = CaptureOptions(
        iface=None if iface == "any" else iface,
        bpf=bpf,
        snaplen=snaplen,
        ring_bytes=ring,
        duration=duration,
        count=count,
        write=write,
        rotate=rotate,
        force=force,
        workers=workers,
        keylogs=keylogs,
        keylog_wait=keylog_wait,
    )
    # privilege, interface, filter and output errors before the case is touched
    capture = open_capture(options, case.db)
    stop = threading.Event()
    hurry = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            hurry.set()  # a second Ctrl-C: stop now, what is left unread counts as lost
            return
        stop.set()
        message("stopping: reading what the capture ring still holds (Ctrl-C again: stop now)")

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with case.open() as store:
            geometry = capture.geometry
            message(
                f"capturing on {clean(iface)}"
                + (f" ({clean(bpf)})" if bpf else "")
                + f"; ring {_size(geometry.size)}"
                + (f" x {workers} workers" if workers > 1 else "")
                + "; Ctrl-C to stop"
            )
            progress = _progress if sys.stderr.isatty() else None
            stats = capture.run(store, stop, progress, hurry)
            if progress:
                sys.stderr.write("\n")
            with Steps(as_json) as steps:  # the analysis of a long capture: seconds
                recompute(store, steps)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        capture.close()
    counters = capture.counters
    if as_json:
        summary = capture.summary()
        summary.pop("updated_at", None)
        emit_json({"iface": iface, **summary})
    else:
        sys.stdout.write(
            f"{clean(iface)}: {stats.packets} packets, {stats.flows} flows, "
            f"{stats.exchanges} exchanges; kernel: {counters.received} received, "
            f"{counters.kernel_dropped} dropped\n"
        )
        if counters.truncated:
            sys.stdout.write(f"  truncated {counters.truncated}: longer than the snap length\n")
        for reason, n in sorted(stats.skipped.items(), key=lambda kv: -kv[1]):
            sys.stdout.write(f"  skipped {n}: {clean(reason)}\n")
        for what, n in sorted(stats.counts.items(), key=lambda kv: -kv[1]):
            sys.stdout.write(f"  {clean(what)}: {n}\n")
        for written in counters.files:
            sys.stdout.write(f"  wrote {clean(str(written['path']))}\n")
    for warning in stats.warnings:
        message(f"warning: {clean(warning)}")


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _progress(stats: Any, counters: Any, written: int) -> None:
    lost = f", {counters.dropped} LOST" if counters.dropped else ""
    sys.stderr.write(f"\r{stats.packets} packets, {written} exchanges written{lost}")
    sys.stderr.flush()
