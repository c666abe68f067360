"""Live capture: packets from the kernel's ring (``ring``) into the same pipeline as files, the
capture registered as an input of the case with what it lost.

Packets are read a block at a time and pushed into ``ConnectionTracker`` (the frame path capture
files use); exchanges are converted and written as they complete, flushed every second, so the
console sees traffic as it happens. Every second the capture's counters (packets, the kernel's
drops, packets cut by the snap length) are also written to the capture's row in ``inputs``, so
the console's Live screen shows the loss while it happens, and the case keeps it afterwards.

Nothing is dropped in this process: when the pipeline or the case falls behind, the ring fills
and the kernel drops and counts (``queue`` drops are those of the child processes' queues, when
the capture is shared between them: ``live_shared``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discovery.case.store import Store
from discovery.case.writer import ExchangeWriter
from discovery.errors import CaptureError
from discovery.ingest.bpf import compile_filter
from discovery.ingest.capture_file import RotatingPcapng
from discovery.ingest.keylog_follow import WAIT, KeyLogFollower, SecretsFeed
from discovery.ingest.ring import (
    DEFAULT_RING,
    PacketRing,
    PacketSink,
    RingGeometry,
    available_memory,
    check_interface,
    check_ring_memory,
    interface_linktype,
)
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker
from discovery.wire.keylog import KeyLog

log = logging.getLogger(__name__)

SNAPLEN = 262_144
FLUSH_EVERY = 1.0
READ_BUDGET = 8192  # packets read between two looks at the clock
DRAIN_PATIENCE = 0.3  # s without a block handed over before a drained ring counts as empty
ENGINE = "af_packet tpacket_v3"


@dataclass(frozen=True)
class CaptureOptions:
    """What to capture and how (tcpdump's options, by the same names where it has them)."""

    iface: str | None  # None: every interface
    bpf: str | None = None
    snaplen: int = SNAPLEN
    ring_bytes: int = DEFAULT_RING
    duration: float | None = None
    count: int | None = None
    write: Path | None = None
    rotate: int | None = None
    force: bool = False
    workers: int = 1  # processes reading rings in a fanout group (kernel-split flows)
    keylogs: tuple[Path, ...] = ()  # TLS key logs followed as they grow (SSLKEYLOGFILE)
    keylog_wait: float = WAIT  # s a TLS connection waits for its secrets to be logged

    @property
    def name(self) -> str:
        return self.iface or "any"


@dataclass
class CaptureCounters:
    """What the capture saw and lost; ``lossy`` when any packet was lost."""

    received: int = 0  # packets the kernel accepted for the capture (dropped ones included)
    kernel_dropped: int = 0  # dropped by the kernel: the ring was full
    queue_dropped: int = 0  # dropped by our own queues (none in one process)
    unread: int = 0  # accepted into the ring but never read (the capture was told to hurry)
    truncated: int = 0  # cut by the snap length (their connections may have gaps)
    files: list[dict[str, object]] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return self.kernel_dropped + self.queue_dropped + self.unread

    @property
    def lossy(self) -> bool:
        return self.dropped > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "dropped": {
                "kernel": self.kernel_dropped,
                "queue": self.queue_dropped,
                "unread": self.unread,
            },
            "lost": self.dropped,
            "lossy": self.lossy,
            "truncated": self.truncated,
            "files": list(self.files),
        }


def loss_warning(counters: CaptureCounters) -> str | None:
    """The warning a lossy capture prints (None when nothing was lost)."""
    if not counters.lossy:
        return None
    share = counters.dropped / max(counters.received, 1)
    parts = [f"{counters.kernel_dropped} by the kernel (capture ring full)"]
    if counters.queue_dropped:
        parts.append(f"{counters.queue_dropped} by our own queues")
    if counters.unread:
        parts.append(f"{counters.unread} left unread in the ring at a hurried stop")
    return (
        f"{counters.dropped} of {counters.received} packets were LOST ({share:.1%}): "
        + ", ".join(parts)
        + "; exchanges on the affected connections are missing or partial "
        "(a larger --buffer, a tighter --filter or --workers may keep up)"
    )


Progress = Callable[[IngestStats, CaptureCounters, int], None]


def read_ring(
    ring: PacketRing,
    sink: PacketSink,
    stopping: Callable[[], bool],
    hurry: Callable[[], bool],
    counted_out: Callable[[], bool],
    after_read: Callable[[], None],
    every_second: Callable[[], None],
) -> bool:
    """Read a ring into ``sink`` until ``stopping()``: then no more packets are let in and
    what the ring holds is read to the end (a reader behind the traffic catches up), unless
    ``hurry()``. ``after_read`` runs after each batch, ``every_second`` about every second.
    True when it ended at the packet count (``counted_out``)."""
    next_tick = time.monotonic() + FLUSH_EVERY
    draining = False
    last_read = 0.0
    while True:
        now = time.monotonic()
        if counted_out():
            return True
        if not draining and stopping():
            ring.stop_accepting()
            draining = True
            last_read = now
        if draining and hurry():
            return False
        before = ring.handled
        if not draining:
            ring.wait(min(0.2, max(0.0, next_tick - now)))
        ring.read(sink, READ_BUDGET)
        if draining:
            if ring.handled != before or ring.ready():
                last_read = now
            elif now - last_read > DRAIN_PATIENCE:
                return False  # the block the kernel was filling has been handed over too
            else:
                time.sleep(0.02)
        after_read()
        if time.monotonic() >= next_tick:
            every_second()
            next_tick = time.monotonic() + FLUSH_EVERY


class LiveCapture:
    """A capture on one interface (``None``: every interface) into a case: one ring read in
    this process, or with ``workers`` > 1 one ring per worker process in a fanout group
    (``live_shared``)."""

    def __init__(self, options: CaptureOptions, stats: IngestStats | None = None) -> None:
        self.options = options
        self.stats = stats or IngestStats()
        self.counters = CaptureCounters()
        self.geometry = RingGeometry(options.ring_bytes, options.snaplen)
        self.rings: list[PacketRing] = []
        self.outputs: list[RotatingPcapng] = []
        self.follower: KeyLogFollower | None = None
        self._frame = 0

    def configuration(self) -> dict[str, Any]:
        """How the capture runs (stored with the input, printed with --json)."""
        o = self.options
        return {
            "engine": ENGINE,
            "iface": o.name,
            "filter": o.bpf,
            "snaplen": o.snaplen,
            "ring_bytes": self.geometry.size,
            "block_bytes": self.geometry.block_size,
            "count": o.count,
            "duration": o.duration,
            "workers": o.workers,
            "keylogs": [str(path) for path in o.keylogs],  # names only: never their lines
        }

    def open(self, case: Path | None = None) -> None:
        """Check everything before the case is touched: the interface, the filter, privilege,
        the rings, the output files. CaptureError / OutputError otherwise."""
        o = self.options
        check_interface(o.iface)
        program = compile_filter(o.bpf, interface_linktype(o.iface), o.snaplen)
        if o.workers > 1 and o.count is not None:
            raise CaptureError("a packet count (--count) needs one worker (--workers 1)")
        check_ring_memory(self.geometry.size * o.workers, o.workers, available_memory())
        if o.keylogs:
            for path in o.keylogs:
                KeyLogFollower.check(path)
            self.follower = KeyLogFollower(o.keylogs, KeyLog(), self.stats)
            self.follower.poll()  # what is logged already
        if o.write is not None:
            self.outputs = [
                RotatingPcapng(target, o.snaplen, case, o.rotate, o.force)
                for target in worker_files(o.write, o.workers)
            ]
        fanout = (os.getpid() & 0xFFFF) if o.workers > 1 else None
        for _ in range(o.workers):
            self.rings.append(PacketRing(o.iface, program, self.geometry, fanout))

    def close(self, counted_out: bool = False) -> None:
        """Close the rings (their last counters taken) and the output files. Packets the
        kernel accepted but the capture never read count as lost (``unread``), unless the
        capture stopped at its packet count."""
        if self.rings:
            for ring in self.rings:
                ring.close()  # its last counters read
            self._take(self.rings)
            if not counted_out:
                self.counters.unread = sum(r.unread for r in self.rings)
            self.rings = []
        if self.outputs:
            c = self.counters
            for output in self.outputs:
                output.close(c.received, c.kernel_dropped)
            c.files = [f.as_dict() for output in self.outputs for f in output.files]
            self.outputs = []
        if self.follower is not None:
            self.follower.close()

    def _take(self, rings: list[PacketRing]) -> None:
        c = self.counters
        c.received = sum(r.accepted for r in rings)
        c.kernel_dropped = sum(r.dropped for r in rings)
        c.truncated = sum(r.truncated for r in rings)

    def run(
        self,
        store: Store,
        stop: threading.Event,
        progress: Progress | None = None,
        hurry: threading.Event | None = None,
    ) -> IngestStats:
        """Capture until ``stop`` is set, the duration passes or the count is reached; the
        capture is an input of the case (``inputs``, format ``live``) with its counters.

        At a stop or the end of the duration, no more packets are let in and what the ring
        holds is read to the end (a capture behind the traffic catches up), unless ``hurry``
        is set: what is left unread then counts as lost. Everything still open is flushed at
        the end (responses read until close complete).
        """
        if not self.rings:
            self.open(store.path)
        input_id = store.register_capture(f"live:{self.options.name}", "live")
        writer = ExchangeWriter(store, input_id)
        counted_out = False
        try:
            if self.options.workers > 1:
                from discovery.ingest.live_shared import run_shared

                run_shared(self, store, input_id, writer, stop, hurry, progress)
            else:
                counted_out = self._run_here(store, input_id, writer, stop, hurry, progress)
        finally:
            writer.flush()
            self.stats.exchanges = writer.written
            self.close(counted_out)
            warning = loss_warning(self.counters)
            if warning:
                self.stats.warn(warning)
            store.finish_input(input_id, self.summary(), self.counters.dropped)
        return self.stats

    def _run_here(
        self,
        store: Store,
        input_id: int,
        writer: ExchangeWriter,
        stop: threading.Event,
        hurry: threading.Event | None,
        progress: Progress | None,
    ) -> bool:
        """One ring read, and its exchanges converted and written, in this process."""
        o = self.options
        stats = self.stats
        ring = self.rings[0]
        output = self.outputs[0] if self.outputs else None
        pipeline = ConnectionTracker(stats, "live", where=f"live capture on {o.name}")
        feed = (
            SecretsFeed(self.follower, pipeline, o.keylog_wait)
            if self.follower is not None
            else None
        )
        frame_in = pipeline.frame
        count = o.count
        started = time.monotonic()

        def packet(
            sec: int, nsec: int, linktype: int, data: bytes, wirelen: int, ifindex: int
        ) -> None:
            if count is not None and self._frame >= count:
                return
            self._frame += 1
            stats.packets += 1
            if output is not None:
                output.packet(self._frame, sec, nsec, linktype, data, wirelen, ifindex)
            frame_in(self._frame, sec + nsec * 1e-9, linktype, data)

        def stopping() -> bool:
            return stop.is_set() or (
                o.duration is not None and time.monotonic() - started >= o.duration
            )

        def after_read() -> None:
            if feed is not None:
                feed.look()
            if pipeline.out:
                for obs in pipeline.take():
                    writer.add(obs)

        def every_second() -> None:
            if feed is not None:
                feed.tick()
            writer.flush()
            pipeline.reassembler.sweep_idle(time.time())
            ring.update_counters()
            self._take([ring])
            if output is not None:
                output.flush()
                self.counters.files = [f.as_dict() for f in output.files]
            stats.exchanges = writer.written
            store.update_input_stats(input_id, self.summary(), self.counters.dropped)
            if progress is not None:
                progress(stats, self.counters, writer.written)

        try:
            return read_ring(
                ring,
                packet,
                stopping,
                hurry.is_set if hurry is not None else _never,
                (lambda: self._frame >= count) if count is not None else _never,
                after_read,
                every_second,
            )
        finally:
            if feed is not None:
                feed.last()
            pipeline.finish()
            for obs in pipeline.take():
                writer.add(obs)

    def summary(self) -> dict[str, Any]:
        """The counters as stored with the input and printed with --json."""
        return {
            **self.stats.as_dict(),
            **self.counters.as_dict(),
            "capture": self.configuration(),
            "updated_at": time.time(),
        }


def _never() -> bool:
    return False


def worker_files(target: Path, workers: int) -> list[Path]:
    """The file (or rotation) each worker writes: ``NAME-w1.EXT``... with several."""
    if workers == 1:
        return [target]
    suffix = target.suffix or ".pcapng"
    return [target.with_name(f"{target.stem}-w{k}{suffix}") for k in range(1, workers + 1)]


def open_capture(options: CaptureOptions, case: Path | None) -> LiveCapture:
    """A capture checked and ready (ring open), before the case is touched."""
    capture = LiveCapture(options)
    try:
        capture.open(case)
    except BaseException:
        capture.close()
        raise
    return capture
