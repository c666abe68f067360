"""Bad frames and damaged files: counted by reason with the frame named, never a traceback."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.errors import InputError
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "pcap"
ETH = b"\x02" * 12


def pcap(frames: list[bytes], linktype: int = 1) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", 1_790_000_000 + i, 0, len(frame), len(frame)) + frame
    return out


def ipv4(proto: int, payload: bytes, frag: int = 0x4000) -> bytes:
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            1,
            frag,
            64,
            proto,
            0,
            b"\x0a\0\0\x05",
            b"\x0a\0\0\x01",
        )
        + payload
    )


def tcp(payload: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x18, 65535, 0, 0) + payload


def read_bytes(tmp_path: Path, data: bytes) -> tuple[list[object], IngestStats]:
    path = tmp_path / "in.pcap"
    path.write_bytes(data)
    stats = IngestStats()
    return list(read(path, stats)), stats


def test_frames_without_usable_tcp_are_counted_by_reason(tmp_path: Path) -> None:
    request = b"GET /ok HTTP/1.1\r\nHost: a.test\r\n\r\n"
    frames = [
        ETH + b"\x08\x06" + b"\0" * 28,  # ARP
        ETH + b"\x08\x00" + ipv4(17, b"\0" * 8),  # UDP
        ETH + b"\x08\x00" + ipv4(6, tcp(b"GET /frag"), frag=0x2000),  # more fragments
        ETH + b"\x08\x00" + b"\x45\x00",  # IPv4 header cut short
        ETH + b"\x08\x00" + ipv4(6, tcp(request)),
    ]
    exchanges, stats = read_bytes(tmp_path, pcap(frames))
    assert stats.packets == 5
    assert stats.skipped == {
        "not IP": 1,
        "not TCP": 1,
        "IPv4 fragments never completed": 1,
        "malformed frame": 1,
    }
    assert any("frame 4: malformed frame" in w for w in stats.warnings)
    assert [e.target for e in exchanges] == ["/ok"]  # type: ignore[attr-defined]


def test_unsupported_link_type_is_named_once(tmp_path: Path) -> None:
    _, stats = read_bytes(tmp_path, pcap([b"\0" * 60] * 3, linktype=147))
    assert stats.skipped["unsupported link type"] == 3
    assert sum("unsupported link type 147" in w for w in stats.warnings) == 1


@pytest.mark.parametrize("head", [b"", b"\xd4\xc3\xb2\xa1\x02\x00", b"\x0a\x0d\x0d\x0a\x1c\x00"])
def test_header_too_short_is_input_error(tmp_path: Path, head: bytes) -> None:
    with pytest.raises(InputError):
        read_bytes(tmp_path, head)


def _mutations(seed: int, data: bytes, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rng.randrange(1, 40)):
            buf[rng.randrange(24, len(buf))] = rng.randrange(256)
        out.append(bytes(buf[: rng.randrange(24, len(buf) + 1)]))
    return out


@pytest.mark.parametrize("name", ["http_api.pcap", "http_api.pcapng", "crafted_vlan_ipv6.pcap"])
def test_damaged_captures_never_raise_past_the_header(tmp_path: Path, name: str) -> None:
    data = (FIXTURES / name).read_bytes()[:20000]
    outcomes = []
    for damaged in _mutations(7, data, 25):
        try:
            read_bytes(tmp_path, damaged)
            outcomes.append("read")
        except InputError as exc:  # e.g. a damaged pcapng section header: unusable, one line
            assert str(exc).startswith(str(tmp_path / "in.pcap"))
            outcomes.append("refused")
    assert "read" in outcomes


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=3000), st.sampled_from([1, 0, 101, 113, 276, 228, 229]))
def test_fuzz_random_frames(
    tmp_path_factory: pytest.TempPathFactory, frame: bytes, linktype: int
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    read_bytes(tmp, pcap([frame, frame[::-1]], linktype))


@pytest.mark.parametrize("order", ["in order", "reversed", "duplicated"])
def test_ipv4_fragments_are_reassembled(tmp_path: Path, order: str) -> None:
    from scapy.layers.inet import IP, TCP, fragment
    from scapy.layers.l2 import Ether

    request = b"POST /v1/frag HTTP/1.1\r\nHost: frag.test\r\nContent-Length: 300\r\n\r\n"
    pkt = (
        IP(src="10.0.0.5", dst="10.0.0.1", id=77)
        / TCP(sport=40000, dport=80, seq=1, flags="PA")
        / (request + b"x" * 300)
    )
    frags = [
        bytes(Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:01") / f)
        for f in fragment(pkt, fragsize=64)
    ]
    assert len(frags) > 4
    if order == "reversed":
        frags.reverse()
    elif order == "duplicated":
        frags = frags[:2] + frags[:2] + frags[2:]
    exchanges, stats = read_bytes(tmp_path, pcap(frags))
    assert [(e.method, e.target, e.request_bytes) for e in exchanges] == [  # type: ignore[attr-defined]
        ("POST", "/v1/frag", 300)
    ]
    assert stats.counts["IPv4 datagrams reassembled"] == 1
    assert not stats.skipped
