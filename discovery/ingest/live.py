"""Live capture: raw frames from scapy's layer-2 listening socket into the same pipeline as files.

No per-packet scapy dissection: frames are read from the socket scapy opens (and attaches the
BPF filter to) and decoded by ``discovery.wire.packets``. Exchanges are written as they complete and
flushed to the case every second, so the console sees traffic as it happens.
"""

from __future__ import annotations

import errno
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from discovery.case.writer import ExchangeWriter
from discovery.errors import CaptureError
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker
from discovery.wire.packets import LINKTYPE_ETHERNET, LINKTYPE_RAW

log = logging.getLogger(__name__)

SNAPLEN = 262_144
FLUSH_EVERY = 1.0
_ARPHRD_LINKTYPES = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 65534: LINKTYPE_RAW}
_ARPHRD_LOOPBACK = 772
_PACKET_OUTGOING = 4
_UNSUPPORTED = -1


class LiveCapture:
    """A sniffer on one interface (``None``: every interface), optionally BPF-filtered."""

    def __init__(
        self, iface: str | None, bpf: str | None = None, stats: IngestStats | None = None
    ) -> None:
        self.iface = iface
        self.bpf = bpf
        self.stats = stats or IngestStats()
        self.sock: Any = None

    def open(self) -> None:
        """Open the capture socket; CaptureError when privilege or the interface is missing."""
        where = self.iface or "all interfaces"
        if self.iface is not None:
            try:
                socket.if_nametoindex(self.iface)
            except OSError as exc:
                raise CaptureError(f"no such network interface: {self.iface}") from exc
        # scapy warns on stderr that it cannot name the loopback's link layer: we do not need it
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        try:
            import scapy.arch  # noqa: F401 - sets conf.L2listen for this platform
            from scapy.config import conf
            from scapy.error import Scapy_Exception

            try:
                self.sock = conf.L2listen(iface=self.iface, filter=self.bpf)
            except Scapy_Exception as exc:
                raise CaptureError(f"cannot capture on {where}: {exc}") from exc
        except PermissionError as exc:
            raise CaptureError(
                f"live capture on {where} needs root or CAP_NET_RAW (run with sudo, or "
                "setcap cap_net_raw+eip on the Python interpreter)"
            ) from exc
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise CaptureError(f"no such network interface: {self.iface}") from exc
            raise CaptureError(f"cannot capture on {where}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def run(
        self,
        writer: ExchangeWriter,
        stop: threading.Event,
        duration: float | None = None,
        count: int | None = None,
        on_flush: Callable[[IngestStats, int], None] | None = None,
    ) -> IngestStats:
        """Capture until ``stop`` is set, ``duration`` seconds pass or ``count`` frames arrive.

        Everything still open is flushed at the end (responses read until close complete).
        """
        if self.sock is None:
            self.open()
        stats = self.stats
        pipeline = ConnectionTracker(stats, "live", where=f"live capture on {self.iface or 'all'}")
        ins: socket.socket = self.sock.ins
        frame = 0
        started = time.monotonic()
        next_flush = started + FLUSH_EVERY
        try:
            while not stop.is_set():
                now = time.monotonic()
                if duration is not None and now - started >= duration:
                    break
                if count is not None and frame >= count:
                    break
                wait = min(0.2, max(0.0, next_flush - now))
                readable, _, _ = select.select([ins], [], [], wait)
                if readable:
                    frame = self._drain(ins, pipeline, writer, frame, count)
                if time.monotonic() >= next_flush:
                    writer.flush()
                    pipeline.reassembler.sweep_idle(time.time())
                    next_flush = time.monotonic() + FLUSH_EVERY
                    if on_flush is not None:
                        on_flush(stats, writer.written)
        finally:
            pipeline.finish()
            for obs in pipeline.take():
                writer.add(obs)
            writer.flush()
            stats.exchanges = writer.written
            self.close()
        return stats

    def _drain(
        self,
        ins: socket.socket,
        pipeline: ConnectionTracker,
        writer: ExchangeWriter,
        frame: int,
        count: int | None,
    ) -> int:
        """Read what the socket holds now (bounded), without blocking."""
        stats = self.stats
        for _ in range(2000):
            try:
                data, address = ins.recvfrom(SNAPLEN, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            pkttype, hatype = address[2], address[3]
            if pkttype == _PACKET_OUTGOING and hatype == _ARPHRD_LOOPBACK:
                continue  # loopback shows every frame twice: keep the incoming copy
            frame += 1
            stats.packets += 1
            pipeline.frame(frame, time.time(), _ARPHRD_LINKTYPES.get(hatype, _UNSUPPORTED), data)
            if pipeline.out:
                for obs in pipeline.take():
                    writer.add(obs)
            if count is not None and frame >= count:
                break
        return frame
