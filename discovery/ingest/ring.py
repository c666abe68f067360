"""The kernel's packet ring: an AF_PACKET socket with a TPACKET_V3 receive ring, read a block
at a time (the capture engine of libpcap, tcpdump, Zeek and Suricata on Linux).

The kernel copies each accepted packet (cut at the snap length by the filter) into blocks of a
ring shared with this process; a block is handed over when it is full or after ``BLOCK_TIMEOUT_MS``,
and handed back once every packet in it was read. No system call per packet: one ``poll`` when
the ring is empty. When the ring is full the kernel drops the packet and counts it; the counters
(``PACKET_STATISTICS``, which reset on each read) are summed here, so a capture always knows
what it lost.

Sockets may join a fanout group (``PACKET_FANOUT_HASH``): the kernel then splits the packets
between them by a symmetric flow hash (IP fragments reassembled first), so each reader sees
whole connections, as Suricata's and Zeek's workers do.
"""

from __future__ import annotations

import errno
import mmap
import select
import socket
import struct
from collections.abc import Callable
from typing import Final

from discovery.errors import CaptureError
from discovery.ingest.bpf import Program, reject_all
from discovery.wire.packets import LINKTYPE_ETHERNET, LINKTYPE_RAW

SOL_PACKET: Final = 263
PACKET_RX_RING: Final = 5
PACKET_STATISTICS: Final = 6
PACKET_VERSION: Final = 10
PACKET_FANOUT: Final = 18
PACKET_IGNORE_OUTGOING: Final = 23
TPACKET_V3: Final = 2
ETH_P_ALL: Final = 0x0003
PACKET_FANOUT_HASH: Final = 0
PACKET_FANOUT_FLAG_DEFRAG: Final = 0x8000
PACKET_FANOUT_FLAG_IGNORE_OUTGOING: Final = 0x4000

TP_STATUS_USER: Final = 1
TP_STATUS_VLAN_VALID: Final = 1 << 4
TP_STATUS_VLAN_TPID_VALID: Final = 1 << 6
PACKET_OUTGOING: Final = 4
ARPHRD_LOOPBACK: Final = 772
UNSUPPORTED_LINKTYPE: Final = -1
ARPHRD_LINKTYPES: Final = {
    1: LINKTYPE_ETHERNET,
    ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,
    65534: LINKTYPE_RAW,
}

BLOCK_TIMEOUT_MS: Final = 100  # a block partly filled is handed over after this long
MAX_BLOCK: Final = 1 << 20
MIN_BLOCKS: Final = 2
DEFAULT_RING: Final = 64 << 20
RING_MEMORY_SHARE: Final = 0.5  # of the memory available, at most, for the capture's rings
_PAGE: Final = mmap.PAGESIZE
_HEADER_ROOM: Final = 128  # tpacket3_hdr + sockaddr_ll + alignment, rounded up

# struct tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1: block_status,
# num_pkts, offset_to_first_pkt
_BLOCK: Final = struct.Struct("=III")
_BLOCK_STATUS: Final = 8
# struct tpacket3_hdr (48 bytes: next offset, sec, nsec, snaplen, len, status, mac, net, then
# hv1: rxhash, vlan_tci, vlan_tpid) followed by struct sockaddr_ll (family, protocol, ifindex,
# hatype, pkttype)
_PACKET: Final = struct.Struct("=IIIIIIHH4xIH10xHHiHB")
_KERNEL: Final = b"\x00\x00\x00\x00"

# (seconds, nanoseconds, linktype, data, wire length, ifindex) of each packet read
PacketSink = Callable[[int, int, int, bytes, int, int], None]


class RingGeometry:
    """How a ring of about ``ring_bytes`` is cut into blocks for a snap length: blocks of a
    power of two pages, large enough for one packet at the snap length, at most ``MAX_BLOCK``
    unless the snap length needs more; at least ``MIN_BLOCKS`` of them."""

    def __init__(self, ring_bytes: int, snaplen: int) -> None:
        need = snaplen + _HEADER_ROOM
        block = _PAGE
        while block < need:
            block *= 2
        while block < MAX_BLOCK and block * 16 <= ring_bytes:
            block *= 2
        self.block_size = block
        self.block_nr = max(MIN_BLOCKS, ring_bytes // block)
        self.frame_size = 1 << 11 if block >= 1 << 11 else block

    @property
    def size(self) -> int:
        return self.block_size * self.block_nr


class PacketRing:
    """One AF_PACKET socket with a TPACKET_V3 ring on an interface (``None``: every one)."""

    def __init__(
        self,
        iface: str | None,
        program: Program,
        geometry: RingGeometry,
        fanout: int | None = None,
    ) -> None:
        self.iface = iface
        self.geometry = geometry
        self.received = 0  # packets the kernel accepted for this socket (dropped ones included)
        self.dropped = 0  # packets the kernel dropped because the ring was full
        self.truncated = 0  # packets longer than the snap length, cut
        self.handled = 0  # packets taken from the ring (those skipped and those read)
        self.skipped = 0  # outgoing copies on the loopback skipped here (counted by the kernel)
        self.skip_outgoing = False  # loopback copies of sent packets, when the kernel keeps them
        self._current = 0
        self.sock = self._open(program, fanout)
        try:
            self.ring = mmap.mmap(
                self.sock.fileno(),
                geometry.size,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError as exc:
            self.sock.close()
            raise CaptureError(f"cannot map the capture ring: {exc.strerror or exc}") from exc
        self._poll = select.poll()
        self._poll.register(self.sock.fileno(), select.POLLIN | select.POLLERR)

    def _open(self, program: Program, fanout: int | None) -> socket.socket:
        where = self.iface or "all interfaces"
        try:
            # protocol 0: nothing is queued before the filter is attached and the socket bound
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError as exc:
            raise CaptureError(
                f"live capture on {where} needs root or CAP_NET_RAW (run with sudo, or "
                "setcap cap_net_raw+eip on the Python interpreter)"
            ) from exc
        try:
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            program.attach(sock)
            loopback = self.iface is not None and _is_loopback(self.iface)
            if loopback:
                # each packet sent on the loopback is also seen leaving it: keep the arrival
                try:
                    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
                except OSError:  # before Linux 4.20: skipped while reading instead
                    self.skip_outgoing = True
            elif self.iface is None:
                self.skip_outgoing = True
            geo = self.geometry
            req = struct.pack(
                "=7I",
                geo.block_size,
                geo.block_nr,
                geo.frame_size,
                geo.block_size // geo.frame_size * geo.block_nr,
                BLOCK_TIMEOUT_MS,
                0,
                0,
            )
            try:
                sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            except OSError as exc:
                raise CaptureError(
                    f"the kernel refused a capture ring of {geo.size >> 10} KiB "
                    f"({geo.block_nr} blocks of {geo.block_size >> 10} KiB): "
                    f"{exc.strerror or exc}; try a smaller --buffer"
                ) from exc
            sock.bind((self.iface or "", ETH_P_ALL))
            if fanout is not None:
                self._join(sock, fanout, loopback)
        except CaptureError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise CaptureError(f"no such network interface: {self.iface}") from exc
            raise CaptureError(f"cannot capture on {where}: {exc.strerror or exc}") from exc
        return sock

    def _join(self, sock: socket.socket, fanout: int, loopback: bool) -> None:
        """Join the fanout group (the group, not the socket, decides whether outgoing copies
        are delivered: asked for on the loopback where the kernel knows the flag)."""
        mode = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG
        if loopback:
            try:
                flags = mode | PACKET_FANOUT_FLAG_IGNORE_OUTGOING
                sock.setsockopt(SOL_PACKET, PACKET_FANOUT, _group(fanout, flags))
                return
            except OSError:  # before Linux 6.9: skipped while reading instead
                pass
            self.skip_outgoing = True
        sock.setsockopt(SOL_PACKET, PACKET_FANOUT, _group(fanout, mode))

    def wait(self, timeout: float) -> None:
        """Sleep until the kernel hands a block over (or ``timeout`` seconds pass)."""
        if not self.ready():
            self._poll.poll(max(0, int(timeout * 1000)))

    def ready(self) -> bool:
        """Whether the kernel has handed over the next block."""
        base = self._current * self.geometry.block_size
        return bool(_BLOCK.unpack_from(self.ring, base + _BLOCK_STATUS)[0] & TP_STATUS_USER)

    def read(self, sink: PacketSink, budget: int) -> int:
        """Hand every packet of the blocks the kernel filled to ``sink``, a block at a time, up
        to about ``budget`` packets (whole blocks: a block is returned to the kernel only once
        read); returns how many were handed over."""
        ring = self.ring
        unpack_block = _BLOCK.unpack_from
        unpack = _PACKET.unpack_from
        block_size = self.geometry.block_size
        block_nr = self.geometry.block_nr
        skip_outgoing = self.skip_outgoing
        linktypes = ARPHRD_LINKTYPES
        done = 0
        truncated = 0
        handled = 0
        skipped = 0
        while done < budget:
            base = self._current * block_size
            status, count, first = unpack_block(ring, base + _BLOCK_STATUS)
            if not status & TP_STATUS_USER:
                break
            pos = base + first
            handled += count
            for _ in range(count):
                (
                    next_offset,
                    sec,
                    nsec,
                    snaplen,
                    wirelen,
                    pstatus,
                    mac,
                    _net,
                    vlan_tci,
                    vlan_tpid,
                    _family,
                    _protocol,
                    ifindex,
                    hatype,
                    pkttype,
                ) = unpack(ring, pos)
                if skip_outgoing and pkttype == PACKET_OUTGOING and hatype == ARPHRD_LOOPBACK:
                    skipped += 1
                else:
                    start = pos + mac
                    data = ring[start : start + snaplen]
                    linktype = linktypes.get(hatype, UNSUPPORTED_LINKTYPE)
                    if snaplen < wirelen:
                        truncated += 1
                    if pstatus & TP_STATUS_VLAN_VALID and linktype == LINKTYPE_ETHERNET:
                        # the kernel took the 802.1Q tag out: put it back, as libpcap does
                        tpid = vlan_tpid if pstatus & TP_STATUS_VLAN_TPID_VALID else 0x8100
                        data = data[:12] + struct.pack("!HH", tpid, vlan_tci) + data[12:]
                        wirelen += 4
                    sink(sec, nsec, linktype, data, wirelen, ifindex)
                    done += 1
                pos += next_offset
            ring[base + _BLOCK_STATUS : base + _BLOCK_STATUS + 4] = _KERNEL
            self._current = (self._current + 1) % block_nr
        self.truncated += truncated
        self.handled += handled
        self.skipped += skipped
        return done

    def stop_accepting(self) -> None:
        """Let no more packets in: what the ring holds can then be read to the end."""
        reject_all().attach(self.sock)

    @property
    def accepted(self) -> int:
        """Packets the kernel accepted for this capture (dropped ones included), without the
        loopback's outgoing copies skipped here."""
        return self.received - self.skipped

    @property
    def unread(self) -> int:
        """Packets accepted into the ring but never taken from it."""
        return max(0, self.received - self.dropped - self.handled)

    def update_counters(self) -> None:
        """Add the kernel's counters since the last call (reading them resets them)."""
        try:
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        except OSError:
            return
        packets, drops, _freezes = struct.unpack("=III", raw)
        self.received += packets  # the kernel counts the dropped ones in tp_packets too
        self.dropped += drops

    def close(self) -> None:
        """Read the last counters, then release the ring and the socket."""
        if self.sock.fileno() >= 0:
            self.update_counters()
            self.detach()

    def detach(self) -> None:
        """Release this process's hold on the ring and the socket, counters unread (another
        process, which shares them since a fork, reads them)."""
        if self.sock.fileno() >= 0:
            self._poll.unregister(self.sock.fileno())
            self.ring.close()
            self.sock.close()


def available_memory() -> int | None:
    """Bytes of memory the kernel says it can give without swapping (``MemAvailable``), None
    where it does not say."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_ring_memory(total: int, rings: int, available: int | None) -> None:
    """CaptureError when ``rings`` rings of ``total`` bytes in all would take more than
    ``RING_MEMORY_SHARE`` of the available memory: the kernel pins a ring's memory when it
    is created, and a ring larger than the machine's memory brings the out-of-memory killer
    (to this process or another) instead of an error."""
    if available is None or total <= available * RING_MEMORY_SHARE:
        return
    each = f" ({rings} rings of {_size(total // rings)})" if rings > 1 else ""
    raise CaptureError(
        f"a capture ring of {_size(total)}{each} is more than half of the memory available "
        f"({_size(available)}): use a smaller --buffer"
    )


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}".replace(".0 ", " ")
    return f"{n >> 10} KiB"


def _group(fanout: int, mode: int) -> bytes:
    return struct.pack("=I", (fanout & 0xFFFF) | mode << 16)


def _is_loopback(iface: str) -> bool:
    try:
        with open(f"/sys/class/net/{iface}/type") as handle:
            return int(handle.read().strip()) == ARPHRD_LOOPBACK
    except (OSError, ValueError):
        return iface == "lo"


def check_interface(iface: str | None) -> None:
    """CaptureError when the interface does not exist."""
    if iface is None:
        return
    try:
        socket.if_nametoindex(iface)
    except OSError as exc:
        raise CaptureError(f"no such network interface: {iface}") from exc


def interface_linktype(iface: str | None) -> int:
    """The link type frames of this interface are read as (for compiling filters)."""
    if iface is None:
        return LINKTYPE_ETHERNET
    try:
        with open(f"/sys/class/net/{iface}/type") as handle:
            hatype = int(handle.read().strip())
    except (OSError, ValueError):
        return LINKTYPE_ETHERNET
    return ARPHRD_LINKTYPES.get(hatype, LINKTYPE_ETHERNET)
