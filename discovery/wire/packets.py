"""Link, IP and TCP header decoding with ``struct``: raw frame bytes -> one TCP segment.

No per-packet scapy dissection: this is the hot path of every capture (it runs ~40x faster).
``decode`` returns a ``Segment`` tuple, or a short reason string when the frame carries no usable
TCP segment (the caller counts reasons).
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

# link-layer header types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
DLT_RAW_ALIASES = (12, 14)  # DLT_RAW on some BSDs

SUPPORTED_LINKTYPES = frozenset(
    {
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_RAW,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        LINKTYPE_LINUX_SLL2,
        *DLT_RAW_ALIASES,
    }
)

_RAW_IP_LINKTYPES = frozenset({LINKTYPE_RAW, *DLT_RAW_ALIASES, LINKTYPE_IPV4, LINKTYPE_IPV6})

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
_VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})

# TCP flags
FIN = 0x01
SYN = 0x02
RST = 0x04
ACK = 0x10

_U16 = struct.Struct("!H")
_IPV4 = struct.Struct("!BBHHHBB2x4s4s")  # ver_ihl, tos, total, id, frag, ttl, proto, src, dst
_IPV6 = struct.Struct("!4xHBB16s16s")  # payload length, next header, hop limit, src, dst
_TCP = struct.Struct("!HHIIBB")  # sport, dport, seq, ack, data offset, flags
_NULL_LE = struct.Struct("<I")
_NULL_BE = struct.Struct(">I")

_AF_INET6_VALUES = frozenset({10, 24, 28, 30})  # Linux, BSDs, macOS
_IPV6_EXT = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options

# reasons (also the keys of the skipped counter)
NOT_IP = "not IP"
NOT_TCP = "not TCP"
IP_FRAGMENT = "IPv6 fragment (not reassembled)"
MALFORMED = "malformed frame"
UNSUPPORTED_LINK = "unsupported link type"


class Segment:
    """One TCP segment as decoded from a frame; addresses are raw bytes (4 or 16).

    A plain slotted class, not a NamedTuple: one is built per frame that carries data, and a
    NamedTuple is built through a Python-level ``__new__`` even when compiled."""

    __slots__ = ("ack", "dport", "dst", "flags", "missing", "payload", "seq", "sport", "src")
    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    missing: int

    def __init__(
        self,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        payload: bytes,
        missing: int,  # payload bytes declared by the IP header but cut by the snap length
    ) -> None:
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.payload = payload
        self.missing = missing

    def __repr__(self) -> str:
        return (
            f"Segment({self.sport}->{self.dport} seq={self.seq} ack={self.ack} "
            f"flags={self.flags:#x} payload={len(self.payload)}B missing={self.missing})"
        )


def address_text(raw: bytes) -> str:
    """Dotted IPv4 or compressed IPv6 text of a raw address."""
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _l3_offset(linktype: int, data: bytes) -> tuple[int, int] | str:
    """(offset of the IP header, ethertype) for a frame, or a reason."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return MALFORMED
        etype = _U16.unpack_from(data, 12)[0]
        off = 14
        while etype in _VLAN_TPIDS:
            if len(data) < off + 4:
                return MALFORMED
            etype = _U16.unpack_from(data, off + 2)[0]
            off += 4
        return off, etype
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return MALFORMED
        return 20, _U16.unpack_from(data, 0)[0]
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return MALFORMED
        return 16, _U16.unpack_from(data, 14)[0]
    if linktype in _RAW_IP_LINKTYPES:
        if not data:
            return MALFORMED
        version = data[0] >> 4
        return 0, ETH_IPV4 if version == 4 else ETH_IPV6 if version == 6 else 0
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return MALFORMED
        family = (_NULL_BE if linktype == LINKTYPE_LOOP else _NULL_LE).unpack_from(data, 0)[0]
        if family > 0xFFFF:  # written in the other byte order
            family = _NULL_BE.unpack_from(data, 0)[0] if linktype == LINKTYPE_NULL else family
        if family == 2:
            return 4, ETH_IPV4
        if family in _AF_INET6_VALUES:
            return 4, ETH_IPV6
        return 4, 0
    return UNSUPPORTED_LINK


class Fragment(NamedTuple):
    """One IPv4 fragment: what reassembly needs (offset in bytes, more-fragments flag)."""

    src: bytes
    dst: bytes
    ident: int
    proto: int
    offset: int
    more: bool
    payload: bytes


def decode(linktype: int, data: bytes) -> Segment | Fragment | str:
    """Decode one frame down to its TCP segment (or IPv4 fragment), or the reason it has none."""
    if linktype == LINKTYPE_ETHERNET and len(data) >= 14:
        # fast path: untagged Ethernet
        etype = (data[12] << 8) | data[13]
        off = 14
        if etype in _VLAN_TPIDS:
            located = _l3_offset(linktype, data)
            if isinstance(located, str):
                return located
            off, etype = located
    else:
        located = _l3_offset(linktype, data)
        if isinstance(located, str):
            return located
        off, etype = located
    if etype == ETH_IPV4:
        if len(data) < off + 20:
            return MALFORMED
        ver_ihl, _tos, total, ident, frag, _ttl, proto, src, dst = _IPV4.unpack_from(data, off)
        ihl = (ver_ihl & 0x0F) * 4
        if ver_ihl >> 4 != 4 or ihl < 20:
            return MALFORMED
        if frag & 0x3FFF:  # more-fragments flag or a fragment offset
            end = min(off + total, len(data)) if total else len(data)
            return Fragment(
                src,
                dst,
                ident,
                proto,
                (frag & 0x1FFF) * 8,
                bool(frag & 0x2000),
                data[off + ihl : end],
            )
        if proto != 6:
            return NOT_TCP
        start = off + ihl
        end = off + total if total else len(data)  # total 0: TSO-offloaded capture
    elif etype == ETH_IPV6:
        if len(data) < off + 40:
            return MALFORMED
        plen, proto, _hop, src, dst = _IPV6.unpack_from(data, off)
        start = off + 40
        end = start + plen if plen else len(data)  # jumbogram: to the end
        while proto in _IPV6_EXT or proto == 44 or proto == 51:
            if len(data) < start + 8:
                return MALFORMED
            if proto == 44:
                if _U16.unpack_from(data, start + 2)[0] & 0xFFF9:
                    return IP_FRAGMENT
                proto, size = data[start], 8
            elif proto == 51:
                proto, size = data[start], (data[start + 1] + 2) * 4
            else:
                proto, size = data[start], (data[start + 1] + 1) * 8
            start += size
        if proto != 6:
            return NOT_TCP
    else:
        return NOT_IP
    return tcp_segment(src, dst, data, start, end)


def tcp_segment(src: bytes, dst: bytes, data: bytes, start: int, end: int) -> Segment | str:
    """The TCP segment at ``data[start:end]`` (``end`` may lie beyond a cut capture)."""
    if len(data) < start + 20:
        return MALFORMED
    sport, dport, seq, ack, offbyte, flags = _TCP.unpack_from(data, start)
    doff = (offbyte >> 4) * 4
    if doff < 20 or start + doff > end:
        return MALFORMED
    captured_end = min(end, len(data))
    payload = data[start + doff : captured_end] if captured_end > start + doff else b""
    return Segment(
        src, dst, sport, dport, seq, ack, flags, payload, end - max(captured_end, start + doff)
    )
