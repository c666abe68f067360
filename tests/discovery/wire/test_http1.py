"""HTTP/1.x pairing on one connection: byte streams in, exchanges out."""

from __future__ import annotations

import gzip

import pytest

from discovery.models import ObservedExchange
from discovery.stats import IngestStats
from discovery.wire.http1 import HttpSession, looks_like_request, looks_like_response

C, S = True, False  # from client, from server


def session_run(
    steps: list[tuple[bool, bytes] | tuple[bool, int]],
) -> tuple[list[ObservedExchange], IngestStats]:
    """Feed (from_client, bytes) steps, or (from_client, n) for a gap of n bytes; then close."""
    out: list[ObservedExchange] = []
    stats = IngestStats()
    s = HttpSession(out.append, stats, "pcap", ("10.0.0.5", 40000), ("10.0.0.1", 80), "t.pcap")
    for frame, (from_client, item) in enumerate(steps, start=1):
        if isinstance(item, int):
            s.gap(from_client, item)
        else:
            s.data(from_client, item, 1000.0 + frame, frame)
    s.close()
    return out, stats


def req(method: str, target: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: api.test\r\n{extra}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def resp(status: int, body: bytes = b"", extra: str = "", length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status} X\r\n{extra}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def summary(out: list[ObservedExchange]) -> list[tuple[object, ...]]:
    return [(e.method, e.target, e.status, e.response_body, e.partial) for e in out]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [
                (C, req("GET", "/a")),
                (S, resp(200, b"A")),
                (C, req("GET", "/b")),
                (S, resp(404, b"B")),
            ],
            [("GET", "/a", 200, b"A", False), ("GET", "/b", 404, b"B", False)],
            id="keep-alive",
        ),
        pytest.param(
            [
                (C, req("GET", "/1") + req("GET", "/2") + req("GET", "/3")),
                (S, resp(200, b"1") + resp(200, b"2")),
                (S, resp(200, b"3")),
            ],
            [
                ("GET", "/1", 200, b"1", False),
                ("GET", "/2", 200, b"2", False),
                ("GET", "/3", 200, b"3", False),
            ],
            id="pipelined",
        ),
        pytest.param(
            [
                (C, req("GET", "/c")),
                (S, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab"),
                (S, b"cd\r\n2\r\nef\r\n0\r\n\r\n"),
                (C, req("GET", "/next")),
                (S, resp(200, b"n")),
            ],
            [("GET", "/c", 200, b"abcdef", False), ("GET", "/next", 200, b"n", False)],
            id="chunked across segments",
        ),
        pytest.param(
            [
                (C, req("HEAD", "/h")),
                (S, resp(200, extra="Content-Length: 5000\r\n", length=False)),
                (C, req("GET", "/after")),
                (S, resp(200, b"ok")),
            ],
            [("HEAD", "/h", 200, b"", False), ("GET", "/after", 200, b"ok", False)],
            id="HEAD response has no body",
        ),
        pytest.param(
            [
                (C, req("DELETE", "/d") + req("GET", "/e")),
                (S, resp(204, length=False) + resp(304, length=False)),
            ],
            [("DELETE", "/d", 204, b"", False), ("GET", "/e", 304, b"", False)],
            id="204 and 304 have no body",
        ),
        pytest.param(
            [
                (
                    C,
                    b"POST /u HTTP/1.1\r\nHost: api.test\r\nExpect: 100-continue\r\n"
                    b"Content-Length: 3\r\n\r\n",
                ),
                (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
                (C, b"abc"),
                (S, resp(201, b"done")),
            ],
            [("POST", "/u", 201, b"done", False)],
            id="100-continue",
        ),
        pytest.param(
            [(C, req("GET", "/old")), (S, b"HTTP/1.0 200 OK\r\n\r\nuntil the close")],
            [("GET", "/old", 200, b"until the close", False)],
            id="body ends at close",
        ),
        pytest.param(
            [(C, req("GET", "/x")), (S, resp(200, b"0123456789")[:-4])],
            [("GET", "/x", 200, b"012345", True)],
            id="cut short by the end of the capture",
        ),
        pytest.param(
            [
                (C, req("GET", "/g")),
                (S, resp(200, b"0123456789")[:-8]),
                (S, 5),
                (S, b"789"),
                (C, req("GET", "/h")),
                (S, resp(200, b"H")),
            ],
            [("GET", "/g", 200, b"01789", True), ("GET", "/h", 200, b"H", False)],
            id="gap inside a Content-Length body keeps the framing",
        ),
        pytest.param(
            [
                (C, req("GET", "/p")),
                (S, b"HTTP/1.1 200 OK\r\nContent-Le"),
                (S, 30),
                (S, b"garbage tail" + resp(200, b"Q")),
                (C, req("GET", "/q")),
            ],
            [("GET", "/p", 200, b"Q", True), ("GET", "/q", None, b"", False)],
            id="gap in a head: resync at the next status line",
        ),
    ],
)
def test_pairing(
    steps: list[tuple[bool, bytes] | tuple[bool, int]], expected: list[tuple[object, ...]]
) -> None:
    out, _ = session_run(steps)
    assert summary(out) == expected


def test_websocket_upgrade_records_the_handshake_and_skips_frames() -> None:
    out, stats = session_run(
        [
            (
                C,
                req("GET", "/ws", extra="Connection: Upgrade\r\nUpgrade: websocket\r\n")
                + b"\x81\x05hello",
            ),
            (
                S,
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket"
                b"\r\n\r\n\x81\x02hi",
            ),
            (C, b"\x81\x05GET / HTTP/1.1\r\n\r\n"),
        ]
    )
    assert [(e.method, e.target, e.status, e.websocket) for e in out] == [("GET", "/ws", 101, True)]
    assert stats.counts["connections upgraded (handshake kept, frames skipped)"] == 1


def test_refused_upgrade_goes_on_with_http() -> None:
    out, _ = session_run(
        [
            (C, req("GET", "/ws", extra="Connection: Upgrade\r\nUpgrade: websocket\r\n")),
            (S, resp(426, b"no")),
            (C, req("GET", "/plain")),
            (S, resp(200, b"yes")),
        ]
    )
    assert [(e.target, e.status, e.websocket) for e in out] == [
        ("/ws", 426, False),
        ("/plain", 200, False),
    ]


def test_a_response_head_servers_would_take_is_read_with_its_anomalies() -> None:
    """A line without a colon and a NUL byte: libhtp and browsers read on; so do we, and say
    what was odd about it."""
    out, stats = session_run(
        [(C, req("GET", "/ok")), (S, b"HTTP/1.1 200 OK\r\nBad Header\x00\r\n\r\n")]
    )
    assert [(e.target, e.status) for e in out] == [("/ok", 200)]
    assert "response_header_without_colon" in out[0].anomalies
    assert any(a.startswith("response_control_bytes") for a in out[0].anomalies)
    assert not stats.skipped


def test_what_is_no_http_at_all_is_counted_not_raised() -> None:
    out, stats = session_run([(C, req("GET", "/ok")), (S, b"HTTP/1.1 2x0 OK\r\n\r\n")])
    assert [(e.target, e.status) for e in out] == [("/ok", None)]
    assert stats.counts["bytes skipped while resynchronising"] > 0


def test_gzip_body_is_decoded_and_bounded() -> None:
    bomb = gzip.compress(b"\0" * (50 << 20))
    out, _ = session_run(
        [
            (C, req("GET", "/bomb")),
            (S, resp(200, bomb, extra="Content-Encoding: gzip\r\n")),
        ]
    )
    assert out[0].response_bytes == len(bomb)
    assert len(out[0].response_body) == 64 * 1024


def test_request_fields() -> None:
    out, _ = session_run(
        [
            (
                C,
                b"POST /v1/x?a=1&b=2 HTTP/1.0\r\nHost: API.test:8080\r\nX-API-Key: k-123456789\r\n"
                b"Content-Length: 2\r\n\r\n{}",
            ),
            (S, resp(200, b"{}")),
        ]
    )
    e = out[0]
    assert (e.http_version, e.host, e.target, e.request_body, e.request_bytes) == (
        "1.0",
        "API.test:8080",
        "/v1/x?a=1&b=2",
        b"{}",
        2,
    )
    assert ("X-API-Key", "k-123456789") in e.request_headers
    assert e.evidence == "frames 1-2"
    assert (e.client_ip, e.client_port, e.server_ip, e.server_port) == (
        "10.0.0.5",
        40000,
        "10.0.0.1",
        80,
    )


@pytest.mark.parametrize(
    ("data", "is_request", "is_response"),
    [
        (b"GET / HTTP/1.1\r\n", True, False),
        (b"PATCH /x HTTP/1.0\r\nHost", True, False),
        (b"GET /partial-line", True, False),
        (b"HTTP/1.1 200 OK\r\n", False, True),
        (b"GETTING / HTTP/1.1\r\n", True, False),  # any token is a method
        (b"GETTING / FTP/1.1\r\n", False, False),
        (b"220 smtp.test ESMTP\r\n", False, False),
        (b"\x16\x03\x01\x02\x00", False, False),
        (b"SSH-2.0-OpenSSH", False, False),
    ],
)
def test_recognised_by_content(data: bytes, is_request: bool, is_response: bool) -> None:
    assert looks_like_request(data) is is_request
    assert looks_like_response(data) is is_response


RAW_UTF8 = "GET /café/ünï?q=ü HTTP/1.1\r\nHost: api.test\r\n\r\n".encode()


@pytest.mark.parametrize(
    "cuts",
    [(), (8,), (5, 9), (len(RAW_UTF8) - 3,)],  # whole; inside é; twice; in the head after it
)
def test_raw_bytes_above_0x7f_in_the_target_are_kept_as_sent(cuts: tuple[int, ...]) -> None:
    """llhttp refuses them; servers take them (and probes are made of them): the request is
    read, paired, and its target is what the client sent, however the segments cut it."""
    pieces, last = [], 0
    for cut in (*cuts, len(RAW_UTF8)):
        pieces.append((True, RAW_UTF8[last:cut]))
        last = cut
    out, stats = session_run([*pieces, (False, resp(200, b"ok"))])
    assert summary(out) == [("GET", "/café/ünï?q=ü", 200, b"ok", False)]
    assert not stats.skipped


def test_a_raw_byte_target_after_a_pipelined_request_is_read_whole() -> None:
    out, stats = session_run([(True, req("GET", "/a") + RAW_UTF8), (False, resp(200) + resp(404))])
    assert [(e.target, e.status, e.partial) for e in out] == [
        ("/a", 200, False),
        ("/café/ünï?q=ü", 404, False),
    ]
    assert not stats.skipped


def test_control_bytes_in_a_target_are_still_no_request() -> None:
    out, stats = session_run(
        [(True, b"GET /\x01x HTTP/1.1\r\nHost: a\r\n\r\n"), (False, resp(200))]
    )
    assert out == []
    assert stats.counts["bytes skipped while resynchronising"] > 0
    assert stats.skipped["HTTP response without a request"] == 1


@pytest.mark.parametrize(
    ("steps", "counter"),
    [
        (
            [
                (True, req("GET", "/a")),
                (False, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"),
            ],
            "HTTP response bodies cut short",
        ),
        (
            [
                (True, req("GET", "/a")),
                (False, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
            ],
            "HTTP response bodies cut short",
        ),
        (
            [(True, b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10000000000\r\n\r\nabc")],
            "HTTP request bodies cut short",
        ),
    ],
    ids=["content-length", "chunked", "request"],
)
def test_bodies_the_connection_ended_inside_are_kept_partial_and_counted(
    steps: list[tuple[bool, bytes]], counter: str
) -> None:
    out, stats = session_run(steps)
    assert [e.partial for e in out] == [True]
    assert [n for k, n in stats.counts.items() if k.startswith(counter)] == [1]


def test_a_body_framed_by_the_close_is_complete_and_not_counted() -> None:
    out, stats = session_run([(True, req("GET", "/a")), (False, resp(200, b"all", length=False))])
    assert [(e.partial, e.response_body) for e in out] == [(False, b"all")]
    assert not any("cut short" in k for k in stats.counts)


def test_two_content_lengths_the_longer_is_followed_the_shorter_hides_a_request() -> None:
    hidden = b"GET /internal HTTP/1.1\r\nHost: in.test\r\n\r\n"
    body = b"abcd" + hidden
    head = b"POST /a HTTP/1.1\r\nHost: api.test\r\nContent-Length: 4\r\n"
    out, stats = session_run(
        [(C, head + b"Content-Length: %d\r\n\r\n" % len(body) + body), (S, resp(200, b"x"))]
    )
    carrier, smuggled = (
        next(e for e in out if e.target == "/a"),
        next(e for e in out if e.target == "/internal"),
    )
    assert (carrier.status, carrier.request_bytes) == (200, len(body))
    assert f"conflicting_content_length: 4, {len(body)}" in carrier.anomalies
    assert (
        f"framing_conflict: first Content-Length ends the body at byte 4, last Content-Length "
        f"at byte {len(body)}" in carrier.anomalies
    )
    assert (smuggled.status, smuggled.host) == (None, "in.test")
    assert stats.counts["HTTP requests hidden by conflicting framing (smuggled)"] == 1


def test_a_chunking_only_lenient_servers_recognise_has_two_readings() -> None:
    """``xchunked``: libhtp reads chunks, a strict server no body (and then a chunk-size line,
    no request: nothing hidden)."""
    inner = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner)
    out, _ = session_run(
        [
            (C, b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n" + body),
            (S, resp(200, b"ok")),
        ]
    )
    carrier = next(e for e in out if e.target == "/p")
    assert "ambiguous_transfer_encoding" in carrier.anomalies
    assert carrier.status == 200 and carrier.request_body == inner
    assert (
        "framing_conflict: no body (Transfer-Encoding not recognised) ends the body at byte 0, "
        f"Transfer-Encoding: chunked at byte {len(body)}" in carrier.anomalies
    )
    assert [e.target for e in out] == ["/p"]


def test_equal_readings_are_no_conflict() -> None:
    out, _ = session_run(
        [
            (
                C,
                b"POST /n HTTP/1.1\r\nHost: h\r\nContent-Length: 15\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ),
            (C, req("GET", "/next")),
            (S, resp(200, b"1") + resp(200, b"2")),
        ]
    )
    assert [(e.target, e.status, e.anomalies) for e in out] == [
        ("/n", 200, ("te_and_cl",)),
        ("/next", 200, ()),
    ]


@pytest.mark.parametrize("size", [b"10000000000000000", b"10000000000000005", b"f" * 40])
def test_a_chunk_size_past_64_bits_without_an_answer_is_read_both_ways_at_the_close(
    size: bytes,
) -> None:
    """No response (the capture ends): the longer reading runs to the close, the wrapped one
    ends at the chunk it wraps to; a request after it is hidden only when the wrapped size
    ends the body (0)."""
    hidden = b"GET /wrapped HTTP/1.1\r\nHost: in.test\r\n\r\n"
    head = b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    out, stats = session_run([(C, head + size + b"\r\n\r\n" + hidden)])
    carrier = next(e for e in out if e.target == "/p")
    assert "chunk_size_overflow" in carrier.anomalies and carrier.partial
    targets = sorted(e.target for e in out)
    if int(size, 16) % (1 << 64) == 0:
        assert targets == ["/p", "/wrapped"]
        smuggled = next(e for e in out if e.target == "/wrapped")
        assert smuggled.anomalies[0].startswith(
            "smuggled_request: read by the chunk size wrapped at 64 bits"
        )
        assert stats.counts["HTTP requests hidden by conflicting framing (smuggled)"] == 1
    else:  # wrapped to 5 (or more): the request is chunk data to both readings
        assert targets == ["/p"]
