"""Link, IP and TCP header decoding with ``struct``: raw frame bytes -> one TCP segment.

No per-packet scapy dissection: this is the hot path of every capture (it runs ~40x faster).
``decode`` returns a ``Segment`` tuple, or a short reason string when the frame carries no usable
TCP segment (the caller counts reasons).
"""

from __future__ import annotations

import socket
import struct
from typing import Final, NamedTuple

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
        105,  # IEEE 802.11
        127,  # radiotap + 802.11
        239,  # NFLOG
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
_U32 = struct.Struct("!I")
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
    """One IP fragment (v4, or v6 with its fragment header): what reassembly needs (offset in
    bytes, more-fragments flag)."""

    src: bytes
    dst: bytes
    ident: int
    proto: int
    offset: int
    more: bool
    payload: bytes


MAX_LAYERS: Final = 8  # encapsulations inside one another (GRE in VXLAN in MPLS...)
TOO_DEEP = "too many encapsulation layers"
_ETH_TEB: Final = 0x6558  # transparent Ethernet bridging (GRE, Geneve)
_ETH_PPPOE: Final = 0x8864
_ETH_MPLS: Final = frozenset({0x8847, 0x8848})
_ETH_ERSPAN2: Final = 0x88BE  # type I without the GRE sequence number, II with it
_ETH_ERSPAN3: Final = 0x22EB
_ETH_PPP: Final = 0x880B  # GRE version 1 (PPTP)
_ARUBA_FIRST: Final = 0x8200  # Aruba GRE: 802.11 frames from an access point
_ARUBA_LAST: Final = 0x83FF
_UDP_VXLAN: Final = frozenset({4789, 8472})
_UDP_GENEVE: Final = 6081
_UDP_GRE: Final = 4754
_UDP_L2TP: Final = 1701
_SNAP: Final = b"\xaa\xaa\x03"
LINKTYPE_IEEE802_11: Final = 105
LINKTYPE_RADIOTAP: Final = 127
LINKTYPE_NFLOG: Final = 239


def decode(linktype: int, data: bytes) -> Segment | Fragment | str:
    """Decode one frame down to its TCP segment (or IP fragment), or the reason it has none.
    Tunnels are opened on the way: GRE (ERSPAN I/II/III, Aruba, PPTP), VXLAN, Geneve, L2TP,
    PPPoE, MPLS, 802.2 SNAP, IP in IP."""
    if linktype == LINKTYPE_ETHERNET and len(data) >= 14:
        # fast path: untagged Ethernet
        etype = (data[12] << 8) | data[13]
        off = 14
        if etype in _VLAN_TPIDS or etype <= 1500:
            return ethernet(data, 0, 0)
    elif linktype == LINKTYPE_IEEE802_11:
        return ieee80211(data, 0, 0)
    elif linktype == LINKTYPE_RADIOTAP:
        if len(data) < 4:
            return MALFORMED
        return ieee80211(data, data[2] | (data[3] << 8), 0)
    elif linktype == LINKTYPE_NFLOG:
        return nflog(data)
    else:
        located = _l3_offset(linktype, data)
        if isinstance(located, str):
            return located
        off, etype = located
    return by_ethertype(data, off, etype, 0)


def ethernet(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """An Ethernet frame at ``off`` (VLAN tags and 802.2 SNAP opened)."""
    if len(data) < off + 14:
        return MALFORMED
    return by_ethertype(data, off + 14, (data[off + 12] << 8) | data[off + 13], depth)


def by_ethertype(data: bytes, off: int, etype: int, depth: int) -> Segment | Fragment | str:
    """The payload at ``off`` of a layer that named its content by ethertype."""
    while True:
        if etype in (ETH_IPV4, ETH_IPV6):
            return ip_packet(data, off, depth)
        if etype in _VLAN_TPIDS:
            if len(data) < off + 4:
                return MALFORMED
            etype = (data[off + 2] << 8) | data[off + 3]
            off += 4
        elif etype <= 1500:  # an 802.3 length: LLC, with a SNAP header naming the type
            if data[off : off + 3] != _SNAP or len(data) < off + 8:
                return NOT_IP
            etype = (data[off + 6] << 8) | data[off + 7]
            off += 8
        elif etype == _ETH_PPPOE:
            if len(data) < off + 8:
                return MALFORMED
            return ppp(data, off + 6, depth)
        elif etype in _ETH_MPLS:
            return mpls(data, off, depth)
        elif etype == _ETH_TEB:
            depth += 1
            if depth > MAX_LAYERS:
                return TOO_DEEP
            return ethernet(data, off, depth)
        else:
            return NOT_IP


def ppp(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """A PPP frame (address and control bytes, compressed protocol field allowed)."""
    if data[off : off + 2] == b"\xff\x03":
        off += 2
    if len(data) < off + 1:
        return MALFORMED
    if data[off] & 1:
        proto, off = data[off], off + 1
    else:
        if len(data) < off + 2:
            return MALFORMED
        proto, off = (data[off] << 8) | data[off + 1], off + 2
    if proto == 0x21 or proto == 0x57:
        return ip_packet(data, off, depth + 1)
    return NOT_IP


def mpls(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """An MPLS label stack, then IP, or an Ethernet pseudowire (with or without control word)."""
    while True:
        if len(data) < off + 4:
            return MALFORMED
        bottom = data[off + 2] & 1
        off += 4
        if bottom:
            break
    if len(data) <= off:
        return MALFORMED
    nibble = data[off] >> 4
    if nibble == 4 or nibble == 6:
        return ip_packet(data, off, depth + 1)
    if nibble == 0:
        off += 4  # pseudowire control word
    if depth + 1 > MAX_LAYERS:
        return TOO_DEEP
    return ethernet(data, off, depth + 1)


def ieee80211(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """An 802.11 data frame (LLC/SNAP inside)."""
    if len(data) < off + 24:
        return MALFORMED
    fc0, fc1 = data[off], data[off + 1]
    if (fc0 >> 2) & 3 != 2 or fc1 & 0x40:  # not data, or protected (encrypted)
        return NOT_IP
    size = 24
    if fc1 & 3 == 3:  # four addresses
        size += 6
    if fc0 & 0x80:  # QoS data
        size += 2
        if fc1 & 0x80:  # HT control
            size += 4
    if fc0 & 0x40:  # null function: no body
        return NOT_IP
    off += size
    if data[off : off + 3] != _SNAP or len(data) < off + 8:
        return NOT_IP
    return by_ethertype(data, off + 8, (data[off + 6] << 8) | data[off + 7], depth + 1)


def nflog(data: bytes) -> Segment | Fragment | str:
    """Linux NFLOG: a family byte, then TLVs; the packet is the payload TLV (type 9)."""
    off = 4
    while len(data) >= off + 4:
        size = data[off] | (data[off + 1] << 8)
        kind = data[off + 2] | (data[off + 3] << 8)
        if size < 4:
            return MALFORMED
        if kind == 9:
            return ip_packet(data[: off + size], off + 4, 0)
        off += (size + 3) & ~3
    return NOT_IP


def ip_packet(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """An IPv4 or IPv6 packet at ``off``: its TCP segment, fragment or inner packet."""
    if depth > MAX_LAYERS:
        return TOO_DEEP
    if len(data) <= off:
        return MALFORMED
    version = data[off] >> 4
    if version == 4:
        if len(data) < off + 20:
            return MALFORMED
        ver_ihl, _tos, total, ident, frag, _ttl, proto, src, dst = _IPV4.unpack_from(data, off)
        ihl = (ver_ihl & 0x0F) * 4
        if ihl < 20:
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
        start = off + ihl
        end = off + total if total else len(data)  # total 0: TSO-offloaded capture
    elif version == 6:
        if len(data) < off + 40:
            return MALFORMED
        plen, proto, _hop, src, dst = _IPV6.unpack_from(data, off)
        start = off + 40
        end = start + plen if plen else len(data)  # jumbogram: to the end
        while proto in _IPV6_EXT or proto == 44 or proto == 51:
            if len(data) < start + 8:
                return MALFORMED
            if proto == 44:
                field = _U16.unpack_from(data, start + 2)[0]
                if field & 0xFFF9:  # an offset or more fragments: not an atomic fragment
                    return Fragment(
                        src,
                        dst,
                        _U32.unpack_from(data, start + 4)[0],
                        data[start],
                        field & 0xFFF8,
                        bool(field & 1),
                        data[start + 8 : min(end, len(data))],
                    )
                proto, size = data[start], 8
            elif proto == 51:
                proto, size = data[start], (data[start + 1] + 2) * 4
            else:
                proto, size = data[start], (data[start + 1] + 1) * 8
            start += size
    else:
        return MALFORMED
    return ip_payload(src, dst, proto, data, start, end, depth)


def ip_payload(
    src: bytes, dst: bytes, proto: int, data: bytes, start: int, end: int, depth: int
) -> Segment | Fragment | str:
    """What an IP packet (or a reassembled datagram) carries at ``data[start:end]``."""
    if proto == 6:
        return tcp_segment(src, dst, data, start, end)
    if proto == 47:
        return gre(data[:end] if end < len(data) else data, start, depth + 1)
    if proto == 17:
        return udp(data[:end] if end < len(data) else data, start, depth + 1)
    if proto == 4 or proto == 41:
        return ip_packet(data[:end] if end < len(data) else data, start, depth + 1)
    return NOT_TCP


def gre(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """A GRE packet: its flags say which optional fields come before the payload."""
    if depth > MAX_LAYERS:
        return TOO_DEEP
    if len(data) < off + 4:
        return MALFORMED
    flags = (data[off] << 8) | data[off + 1]
    proto = (data[off + 2] << 8) | data[off + 3]
    off += 4
    if flags & 0x8000 or flags & 0x4000:  # checksum (and routing) present
        off += 4
    if flags & 0x2000:  # key
        off += 4
    seq = flags & 0x1000
    if seq:
        off += 4
    if flags & 7 == 1 and flags & 0x0080:  # PPTP acknowledgment number
        off += 4
    if len(data) < off:
        return MALFORMED
    if proto == _ETH_ERSPAN2:
        return ethernet(data, off + 8 if seq else off, depth)
    if proto == _ETH_ERSPAN3:
        if len(data) < off + 12:
            return MALFORMED
        return ethernet(data, off + (20 if data[off + 11] & 1 else 12), depth)
    if proto == _ETH_PPP:
        return ppp(data, off, depth)
    if _ARUBA_FIRST <= proto <= _ARUBA_LAST:
        return ieee80211(data, off, depth)
    return by_ethertype(data, off, proto, depth)


def udp(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """UDP carrying a tunnel (VXLAN, Geneve, GRE, L2TP); anything else is not TCP."""
    if len(data) < off + 8:
        return MALFORMED
    sport = (data[off] << 8) | data[off + 1]
    dport = (data[off + 2] << 8) | data[off + 3]
    off += 8
    if dport in _UDP_VXLAN or sport in _UDP_VXLAN:
        return ethernet(data, off + 8, depth)
    if dport == _UDP_GENEVE or sport == _UDP_GENEVE:
        if len(data) < off + 8:
            return MALFORMED
        proto = (data[off + 2] << 8) | data[off + 3]
        return by_ethertype(data, off + 8 + (data[off] & 0x3F) * 4, proto, depth)
    if dport == _UDP_GRE or sport == _UDP_GRE:
        return gre(data, off, depth)
    if dport == _UDP_L2TP or sport == _UDP_L2TP:
        return l2tp(data, off, depth)
    return NOT_TCP


def l2tp(data: bytes, off: int, depth: int) -> Segment | Fragment | str:
    """An L2TPv2 data message: its PPP frame."""
    if len(data) < off + 6:
        return MALFORMED
    flags = (data[off] << 8) | data[off + 1]
    if flags & 0x8000 or flags & 0x000F != 2:  # control message, or not version 2
        return NOT_IP
    off += 2
    if flags & 0x4000:  # length
        off += 2
    off += 4  # tunnel and session ids
    if flags & 0x0800:  # Ns, Nr
        off += 4
    if flags & 0x0200:  # offset size, then padding
        if len(data) < off + 2:
            return MALFORMED
        off += 2 + ((data[off] << 8) | data[off + 1])
    return ppp(data, off, depth)


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
