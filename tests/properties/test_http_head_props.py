"""The head parser's fast paths give what its reference (the regular expressions) gives, on
request lines and header blocks built from the pieces real and hostile traffic is made of."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.wire import http_head as hh

METHODS = st.sampled_from([b"GET", b"POST", b"RPC_IN_DATA", b"get", b"GPOST", b"G\x01T", b""])
GAPS = st.sampled_from([b" ", b"  ", b"\t", b" \t", b""])
TARGETS = st.one_of(
    st.sampled_from([b"/", b"/a?b=c", b"http://h/x", b"HTTP/1.1", b"*", b"/\xff\x80", b""]),
    st.binary(max_size=12),
)
VERSIONS = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.0.8", b"HTTP/2.0", b"HTTP/", b"http/1.1", b"X", b""]
)
ENDS = st.sampled_from([b"", b"\r", b" \r", b"\r\r", b" ", b"\t"])


def _fields(head: hh.Head) -> tuple[object, ...]:
    return (head.method, head.target, head.version, head.anomalies, head.partial)


@settings(max_examples=400, deadline=None)
@given(METHODS, GAPS, TARGETS, GAPS, VERSIONS, ENDS)
def test_a_request_line_reads_the_same_by_the_fast_path(
    method: bytes, gap1: bytes, target: bytes, gap2: bytes, version: bytes, end: bytes
) -> None:
    line = method + gap1 + target + gap2 + version + end
    fast, reference = hh.Head(), hh.Head()
    assert hh.parse_request_line(line, fast) == hh.request_line_by_pattern(line, reference)
    assert _fields(fast) == _fields(reference)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_control_bytes_are_found_as_the_pattern_finds_them(data: bytes) -> None:
    head = b"GET / HTTP/1.1\r\nX-A: " + data.replace(b"\n", b"") + b"\r\n\r\n"
    parsed = hh.parse_head(head, True)
    assert parsed is not None
    found = any(a.startswith(hh.CONTROL_BYTES) for a in parsed.anomalies)
    assert found == (hh._CTL.search(head[16:]) is not None)


NAMES = st.sampled_from(
    ["Host", "content-length", "Transfer-Encoding", "Connection", "X-A", "X-B", "Bad Name", "X "]
)
VALUES = st.sampled_from(
    ["", "x", " padded\t ", "5", "5, 5", "chunked", "close", "a\rb", "caf\xe9", "a:b", "\x01"]
)
LINE_ENDS = st.sampled_from(["\r\n", "\r\n", "\r\n", "\n"])


@settings(max_examples=400, deadline=None)
@given(
    st.booleans(),
    st.lists(
        st.tuples(NAMES, st.sampled_from([":", ": ", ": ", " :", ""]), VALUES, LINE_ENDS),
        max_size=6,
    ),
    st.sampled_from(["", "", "", " folded", "\tfolded", "no colon"]),
    st.sampled_from(["\r\n", "\r\n", "\r\n", "\n", ""]),
)
def test_a_head_reads_the_same_by_the_fast_path(
    is_request: bool,
    lines: list[tuple[str, str, str, str]],
    extra: str,
    final: str,
) -> None:
    start = "GET /x HTTP/1.1\r\n" if is_request else "HTTP/1.1 200 OK\r\n"
    block = "".join(n + c + v + e for n, c, v, e in lines)
    if extra and lines:
        block += extra + "\r\n"
    data = (start + block + final).encode("latin-1")
    fast = hh.parse_head(data, is_request)
    reference = hh.parse_head(data, is_request, fast=False)
    assert fast is not None and reference is not None
    assert (fast.headers, fast.anomalies, fast.close, fast.upgrade, fast.host) == (
        reference.headers,
        reference.anomalies,
        reference.close,
        reference.upgrade,
        reference.host,
    )
    assert (fast.framing.kind, fast.framing.length, fast.framing.alt_length) == (
        reference.framing.kind,
        reference.framing.length,
        reference.framing.alt_length,
    )


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"HTTP/1.1.1", b"http/1.1", b"HTTP/1.x"]),
    GAPS,
    st.sampled_from([b"200", b"404", b"2000", b"20", b"2x0", b"\xb2\xb3\xb9"]),
    st.sampled_from([b"", b" OK", b"\tOK", b"OK", b" O\rK", b" \xe9t\xe9", b" "]),
    ENDS,
)
def test_a_status_line_reads_the_same_by_the_fast_path(
    version: bytes, gap: bytes, status: bytes, reason: bytes, end: bytes
) -> None:
    line = version + gap + status + reason + end
    fast, reference = hh.Head(), hh.Head()
    assert hh.parse_status_line(line, fast) == hh.status_line_by_pattern(line, reference)
    assert (fast.version, fast.status, fast.anomalies) == (
        reference.version,
        reference.status,
        reference.anomalies,
    )
