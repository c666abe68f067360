"""``ir-console capture live``: sniff an interface into the case, flushing every second."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, message
from ir_console.sanitize import clean


@click.command()
@click.option("--iface", required=True, help="The interface to sniff (e.g. eth0, lo, any).")
@click.option("--filter", "bpf", help="A BPF capture filter, e.g. 'tcp port 8080'.")
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after S seconds.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after N packets.")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary on stdout at the end.")
@click.pass_obj
def live(
    case: CaseContext,
    iface: str,
    bpf: str | None,
    duration: float | None,
    count: int | None,
    as_json: bool,
) -> None:
    """Capture HTTP/1.x and TLS ClientHellos from an interface into the case.

    Ctrl-C or SIGTERM stops the capture, flushes everything and exits 0.
    Needs root or CAP_NET_RAW.
    """
    from discovery.analyse.recompute import recompute
    from discovery.case.writer import ExchangeWriter
    from discovery.ingest.live import LiveCapture

    capture = LiveCapture(None if iface == "any" else iface, bpf)
    capture.open()  # privilege and interface errors before the case is touched
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with case.open() as store:
            writer = ExchangeWriter(store, None)
            message(f"capturing on {iface}" + (f" ({bpf})" if bpf else "") + "; Ctrl-C to stop")
            progress = _progress if sys.stderr.isatty() else None
            stats = capture.run(writer, stop, duration, count, progress)
            if progress:
                sys.stderr.write("\n")
            recompute(store)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        capture.close()
    summary = stats.as_dict()
    if as_json:
        emit_json({"iface": iface, **summary})
        return
    sys.stdout.write(
        f"{clean(iface)}: {stats.packets} packets, {stats.flows} flows, "
        f"{stats.exchanges} exchanges\n"
    )
    for reason, n in sorted(stats.skipped.items(), key=lambda kv: -kv[1]):
        sys.stdout.write(f"  skipped {n}: {clean(reason)}\n")
    for warning in stats.warnings:
        message(f"warning: {warning}")


def _progress(stats: object, written: int) -> None:
    packets = getattr(stats, "packets", 0)
    sys.stderr.write(f"\r{packets} packets, {written} exchanges written")
    sys.stderr.flush()
