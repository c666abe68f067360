"""The pcap/pcapng reader on real loopback captures (tcpdump) and scapy-crafted segment orders.

Fixtures: tests/fixtures/pcap/, made by tests/fixtures/make_pcaps.py.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest

from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from tests.conftest import require_tool
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "pcap"
ALL = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))
CRAFTED_BODY = b'{"items":[' + b",".join(b'{"id":%d}' % i for i in range(60)) + b"]}"


def read_all(path: Path) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    return list(read(path, stats)), stats


def by_target(exchanges: list[ObservedExchange], target: str) -> list[ObservedExchange]:
    return [e for e in exchanges if e.target == target]


def test_fixtures_exist() -> None:
    assert {"http_api.pcap", "http_api.pcapng", "http_api_any_sll2.pcap", "tls_sni.pcap"} <= set(
        ALL
    )


@pytest.mark.integration
@pytest.mark.needs_tool
@pytest.mark.parametrize("name", ALL)
def test_same_requests_as_tshark(name: str) -> None:
    tshark = require_tool("tshark")
    sep = "\x1e"
    proc = subprocess.run(
        [
            tshark,
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "-r",
            str(FIXTURES / name),
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-E",
            f"aggregator={sep}",
            "-e",
            "http.request.method",
            "-e",
            "http.host",
            "-e",
            "http.request.uri",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    theirs = set()
    for line in filter(None, proc.stdout.split("\n")):  # splitlines() also splits at \x1e
        methods, hosts, uris = (f.split(sep) for f in line.split("\t"))
        theirs |= set(zip(methods, hosts, uris, strict=True))
    exchanges, _ = read_all(FIXTURES / name)
    ours = {(e.method, e.host, e.target) for e in exchanges if e.method}
    if name in BEYOND_TSHARK:  # every request tshark reports, and those it cannot see
        assert {(m, t) for m, _h, t in theirs} < {(m, t) for m, _h, t in ours}
    else:
        assert ours == theirs


# made by tests/fixtures/make_lenient_pcaps.py: requests tshark's dissector does not report
# (smuggled inside a body, heads the connection ended inside, version-less, inside a CONNECT
# tunnel), and hosts it leaves empty that we name by the server address
BEYOND_TSHARK = {
    "lenient_nginx.pcap",
    "lenient_connect.pcap",
    "half_open_flood.pcap",
    "lenient_chunk_overflow.pcap",
}


def test_keep_alive_framings_and_pairing() -> None:
    exchanges, stats = read_all(FIXTURES / "http_api.pcap")
    assert stats.packets > 200 and stats.flows >= 15
    assert not stats.skipped, stats.skipped
    # http.client keep-alive: eight requests on one connection, each paired with its answer
    first = exchanges[0]
    same_conn = [e for e in exchanges if e.client_port == first.client_port]
    assert [(e.method, e.target, e.status) for e in same_conn] == [
        ("GET", "/v1/users/42", 200),
        ("GET", "/v1/users/43?fields=name,email", 200),
        ("GET", "/v1/stream", 200),
        ("GET", "/v1/report.json", 200),
        ("POST", "/v1/orders", 201),
        ("HEAD", "/v1/export", 200),
        ("GET", "/v1/etag", 304),
        ("DELETE", "/v1/users/43", 204),
    ]
    stream, report, orders, head = same_conn[2], same_conn[3], same_conn[4], same_conn[5]
    assert stream.response_body.count(b'"event"') == 3  # chunked, de-chunked
    assert b"dpo@example.com" in report.response_body  # gzip, decoded
    assert ("Content-Encoding", "gzip") in report.response_headers
    assert report.response_bytes < len(report.response_body)  # wire size vs decoded prefix
    assert orders.request_body == b'{"sku": "A-1", "qty": 2}'
    assert head.response_bytes == 0 and head.response_body == b""
    assert all(not e.partial for e in same_conn)
    assert re.fullmatch(r"frames \d+-\d+", first.evidence)
    assert first.host and first.host.startswith("127.0.0.1:")
    assert dict(first.request_headers)["Authorization"].startswith("Bearer ")


def test_pipelined_requests_are_paired_in_order() -> None:
    exchanges, _ = read_all(FIXTURES / "http_api.pcap")
    piped = [e for e in exchanges if e.target in ("/v1/users/7", "/v1/users/8", "/v1/users/9")]
    assert [e.target for e in piped] == ["/v1/users/7", "/v1/users/8", "/v1/users/9"]
    assert len({e.client_port for e in piped}) == 1
    for e in piped:
        assert e.status == 200
        assert json.loads(e.response_body) == {"id": e.target.rsplit("/", 1)[1]}


def test_curl_head_large_body_and_100_continue() -> None:
    exchanges, _ = read_all(FIXTURES / "http_api.pcap")
    curl = [
        e for e in exchanges if dict(e.request_headers).get("User-Agent", "").startswith("curl/")
    ]
    export = [e for e in curl if e.method == "GET" and e.target == "/v1/export"]
    assert len(export) == 1
    assert export[0].response_bytes == 100_000
    assert len(export[0].response_body) == 64 * 1024  # the kept prefix is bounded
    upload = [e for e in curl if e.target == "/v1/uploads"]
    assert upload and upload[0].status == 201  # the final answer, not the 100 Continue
    assert upload[0].request_bytes == len(b'{"data":"') + 20000 + 2
    assert [e.status for e in curl if e.method == "HEAD"] == [200]


def test_many_clients_at_once() -> None:
    exchanges, _ = read_all(FIXTURES / "http_api.pcap")
    httpx_calls = [
        e
        for e in exchanges
        if dict(e.request_headers).get("User-Agent", "").startswith("python-httpx")
    ]
    users = [e for e in httpx_calls if e.target and e.target.startswith("/v1/users/10")]
    assert len(users) == 12
    assert len({e.client_port for e in users}) == 12
    for e in users:  # each client's key went with its own request
        n = int(e.target.rsplit("/", 1)[1]) - 1000
        assert dict(e.request_headers)["X-API-Key"].endswith(f"{n:02d}")
        assert e.status == 200


@pytest.mark.parametrize("name", ["http_api.pcapng", "http_api_any_sll2.pcap"])
def test_pcapng_and_sll2_give_the_same_exchanges(name: str) -> None:
    reference, _ = read_all(FIXTURES / "http_api.pcap")
    other, stats = read_all(FIXTURES / name)
    assert not stats.skipped, stats.skipped

    def shape(exs: list[ObservedExchange]) -> list[tuple[object, ...]]:
        return sorted((e.method, e.target, e.status, e.response_bytes) for e in exs)

    assert shape(other) == shape(reference)
    if name.endswith("sll2.pcap"):
        assert other[0].client_ip == "::1"


def test_tls_connections_become_opaque_exchanges() -> None:
    exchanges, _ = read_all(FIXTURES / "tls_sni.pcap")
    assert len(exchanges) == 2
    for e in exchanges:
        assert e.tls and e.method is None and e.target is None
        assert e.sni == "api.internal.test" and e.host == "api.internal.test"
        assert e.alpn == "http/1.1"
        assert e.ja4 is not None and re.fullmatch(
            r"t1[23]d\d{4}h1_[0-9a-f]{12}_[0-9a-f]{12}", e.ja4
        )
        assert e.server_port != e.client_port


def test_out_of_order_retransmitted_and_overlapping_segments() -> None:
    exchanges, stats = read_all(FIXTURES / "crafted_out_of_order.pcap")
    assert [(e.method, e.target, e.status) for e in exchanges] == [
        ("GET", "/v2/items?page=1", 200),
        ("POST", "/v2/items", 201),
        ("GET", "/v2/items/61", 200),
    ]
    assert exchanges[0].response_body == CRAFTED_BODY  # first wins: the altered overlap is ignored
    assert not any(e.partial for e in exchanges)
    assert stats.counts["out-of-order segments"] >= 1
    assert stats.counts["retransmitted segments"] >= 1
    assert stats.counts["overlapping segments (first wins)"] == 1


def test_missing_segment_marks_only_that_exchange_partial() -> None:
    exchanges, stats = read_all(FIXTURES / "crafted_gap.pcap")
    assert [(e.target, e.status, e.partial) for e in exchanges] == [
        ("/v2/items?page=1", 200, True),
        ("/v2/items", 201, False),
        ("/v2/items/61", 200, False),
    ]
    assert exchanges[0].response_bytes == len(CRAFTED_BODY)
    assert stats.counts["gaps (missing bytes skipped)"] == 1


def test_capture_starting_mid_connection() -> None:
    exchanges, _ = read_all(FIXTURES / "crafted_midstream.pcap")
    assert [(e.method, e.target, e.status) for e in exchanges] == [
        ("POST", "/v2/items", 201),
        ("GET", "/v2/items/61", 200),
    ]
    assert exchanges[0].client_ip == "10.1.0.5" and exchanges[0].server_port == 8080


@pytest.mark.parametrize(
    ("name", "client_ip"),
    [
        ("crafted_vlan_ipv6.pcap", "fd00::5"),
        ("crafted_null_loopback.pcap", "10.1.0.5"),
        ("crafted_raw_ip.pcap", "10.1.0.5"),
        ("crafted_nanosecond_be.pcap", "10.1.0.5"),
    ],
)
def test_link_types_and_timestamp_formats(name: str, client_ip: str) -> None:
    exchanges, stats = read_all(FIXTURES / name)
    assert [e.target for e in exchanges] == ["/v2/items?page=1", "/v2/items", "/v2/items/61"]
    assert exchanges[0].client_ip == client_ip
    assert exchanges[0].ts == pytest.approx(1_790_000_000.003, abs=1e-6)  # 4th frame
    assert stats.packets == 13


def test_truncated_capture_keeps_complete_frames(tmp_path: Path) -> None:
    data = (FIXTURES / "http_api.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    full, full_stats = read_all(FIXTURES / "http_api.pcap")
    part, stats = read_all(cut)
    assert 0 < stats.packets < full_stats.packets
    assert stats.skipped["truncated capture"] == 1
    assert re.search(
        rf"frame {stats.packets + 1}: capture ends inside this frame", stats.warnings[0]
    )
    assert 0 < len(part) < len(full)


def test_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("this is not a capture\n")
    with pytest.raises(InputError, match=r"notes\.pcap.*not a pcap or pcapng"):
        read_all(bogus)


def _pcapng_block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def _frames(name: str) -> list[tuple[float, bytes]]:
    from scapy.utils import RawPcapReader

    out = []
    for data, meta in RawPcapReader(str(FIXTURES / name)):
        out.append((meta.sec + meta.usec / 1e6, data))
    return out


def test_pcapng_with_several_sections_interfaces_and_resolutions(tmp_path: Path) -> None:
    """Section 1 (little-endian): Ethernet at ns resolution + raw IP at us; section 2 big-endian."""
    ether, raw = _frames("crafted_vlan_ipv6.pcap"), _frames("crafted_raw_ip.pcap")
    out = bytearray()
    for endian, frames_by_iface in (("<", (ether, raw)), (">", (raw,))):
        out += _pcapng_block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
        linktypes = (1, 101) if len(frames_by_iface) == 2 else (101,)
        for i, linktype in enumerate(linktypes):
            options = struct.pack(endian + "HH", 9, 1) + bytes([9, 0, 0, 0]) if i == 0 else b""
            out += _pcapng_block(
                endian,
                1,
                struct.pack(endian + "HHI", linktype, 0, 0)
                + options
                + struct.pack(endian + "HH", 0, 0),
            )
        for iface, frames in enumerate(frames_by_iface):
            scale = 1e9 if (iface == 0 and len(frames_by_iface) == 1) or iface == 0 else 1e6
            for ts, data in frames:
                tick = round(ts * scale)
                out += _pcapng_block(
                    endian,
                    6,
                    struct.pack(
                        endian + "IIIII", iface, tick >> 32, tick & 0xFFFFFFFF, len(data), len(data)
                    )
                    + data,
                )
    path = tmp_path / "multi.pcapng"
    path.write_bytes(bytes(out))
    exchanges, stats = read_all(path)
    assert stats.packets == 39
    # section 2 replays section 1's raw-IP connection byte for byte (same ports, same initial
    # sequence numbers): read, and recognised as a repeat of a closed connection
    assert len(exchanges) == 6
    assert stats.counts["segments repeated after their connection closed"] >= 1
    assert {e.client_ip for e in exchanges} == {"fd00::5", "10.1.0.5"}
    assert all(
        e.ts == pytest.approx(1_790_000_000.003, abs=1e-5)
        for e in exchanges
        if e.target == "/v2/items?page=1"
    )
