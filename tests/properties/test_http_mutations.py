"""The HTTP layer on damaged real streams (bytes flipped, deleted, truncated, garbage inserted,
huge header lines): nothing raises out of the pipeline, the exchanges completed before the damage
are kept unchanged, and a lost exchange is always visible (a counter, a warning, or an exchange
marked partial / left without response)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.models import ObservedExchange
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker
from discovery.wire.http1 import MAX_HEAD_BYTES, MAX_HEADER_BYTES, MAX_HEADERS, MAX_TARGET
from tests.properties.captures import (
    CLIENT,
    SERVER,
    Stream,
    closing,
    data_frames,
    exchanges_of,
    handshake,
    key,
)
from tests.properties.test_reassembly_props import STREAMS


@dataclass(frozen=True)
class Damage:
    side: int
    run: int  # index in stream.runs (a run of ``side``)
    at: int  # offset inside the run
    kind: str  # flip | delete | truncate | insert | huge-header
    flips: tuple[tuple[int, int], ...] = ()
    size: int = 0
    garbage: bytes = b""


@st.composite
def damages(draw: st.DrawFn, huge: int = 300_000) -> tuple[Stream, Damage]:
    stream = draw(st.sampled_from(STREAMS))
    side = draw(st.sampled_from([CLIENT, SERVER]))
    runs = [i for i, r in enumerate(stream.runs) if r.side == side]
    run = draw(st.sampled_from(runs))
    n = len(stream.runs[run].data)
    at = draw(st.integers(0, n - 1))
    kind = draw(st.sampled_from(["flip", "delete", "truncate", "insert", "huge-header"]))
    if kind == "flip":
        flips = draw(
            st.lists(
                st.tuples(st.integers(0, min(n - at - 1, 400)), st.integers(1, 255)),
                min_size=1,
                max_size=8,
            )
        )
        return stream, Damage(side, run, at, kind, flips=tuple(flips))
    if kind == "delete":
        return stream, Damage(side, run, at, kind, size=draw(st.integers(1, n - at)))
    if kind == "insert":
        return stream, Damage(
            side, run, at, kind, garbage=draw(st.binary(min_size=1, max_size=600))
        )
    if kind == "huge-header":
        return stream, Damage(side, run, at, kind, size=draw(st.integers(1, huge)))
    return stream, Damage(side, run, at, kind)


def damaged(data: bytes, d: Damage) -> bytes:
    head, tail = data[: d.at], data[d.at :]
    if d.kind == "flip":
        buf = bytearray(tail)
        for offset, mask in d.flips:
            buf[offset] ^= mask
        tail = bytes(buf)
    elif d.kind == "delete":
        tail = tail[d.size :]
    elif d.kind == "truncate":
        tail = b""
    elif d.kind == "insert":
        tail = d.garbage + tail
    else:
        tail = b"X-Huge: " + b"a" * d.size + b"\r\n" + tail
    return head + tail


def replay(stream: Stream, d: Damage) -> tuple[list[ObservedExchange], IngestStats, int]:
    """Feed the damaged stream; returns (exchanges, stats, exchanges emitted before the damage)."""
    stats = IngestStats()
    pipeline = ConnectionTracker(stats, "pcap", where="mutated")
    out: list[ObservedExchange] = []
    before = -1
    number = 0

    def feed(frames: list[bytes]) -> None:
        nonlocal number
        for data in frames:
            number += 1
            pipeline.frame(number, 1_790_000_000.0 + number * 0.001, 1, data)
            out.extend(pipeline.take())

    feed(handshake(stream))
    offsets = [0, 0]
    for i, run in enumerate(stream.runs):
        if run.side == d.side and i > d.run and d.kind == "truncate":
            continue
        if i == d.run:
            feed(data_frames(stream, run.side, offsets[run.side], run.data[: d.at]))
            before = len(out)
            data = damaged(run.data, d)
            feed(data_frames(stream, run.side, offsets[run.side] + d.at, data[d.at :]))
        else:
            data = run.data
            feed(data_frames(stream, run.side, offsets[run.side], data))
        offsets[run.side] += len(data)
    feed(closing(stream, offsets))
    pipeline.finish()
    out.extend(pipeline.take())
    return out, stats, before


def visible(stats: IngestStats, exchanges: list[ObservedExchange]) -> bool:
    return bool(stats.skipped or stats.counts or stats.warnings) or any(
        e.partial or e.status is None for e in exchanges
    )


def check_damage(case: tuple[Stream, Damage]) -> None:
    stream, d = case
    original = exchanges_of(stream)
    exchanges, stats, before = replay(stream, d)  # never raises
    keys = [key(e) for e in exchanges]
    assert keys[:before] == original[:before]  # what was complete before the damage is kept
    complete = sum(1 for e in exchanges if e.status is not None and not e.partial)
    if complete < len(original):
        assert visible(stats, exchanges), (d, stats)


@settings(max_examples=400)
@given(damages(huge=300_000))
def test_damaged_streams_never_raise_and_losses_are_counted(case: tuple[Stream, Damage]) -> None:
    check_damage(case)


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@given(damages(huge=2_000_000))
def test_fuzz_damaged_streams_never_raise_and_losses_are_counted(
    case: tuple[Stream, Damage],
) -> None:
    check_damage(case)


# ----------------------------------------------------------------------- single cases


def _one(stream: Stream, **fields: Any) -> tuple[list[ObservedExchange], IngestStats]:
    exchanges, stats, _ = replay(stream, Damage(**fields))
    return exchanges, stats


def _pipelined() -> Stream:
    return next(s for s in STREAMS if s.runs[0].data.count(b"GET ") == 3)


def test_a_request_line_cut_by_a_segment_boundary_is_found() -> None:
    stream = _pipelined()
    first = stream.runs[0].data
    for cut in (5, first.index(b" HTTP/1.1") + 3, first.index(b"\r\n") + 1):
        frames = handshake(stream)
        frames += data_frames(stream, CLIENT, 0, first[:cut])
        frames += data_frames(stream, CLIENT, cut, first[cut:])
        for run in stream.runs[1:]:
            frames += data_frames(stream, run.side, run.start, run.data)
        frames += closing(stream, (len(stream.total(0)), len(stream.total(1))))
        from tests.properties.captures import run_frames

        exchanges, stats = run_frames(frames)
        assert [key(e) for e in exchanges] == exchanges_of(stream), cut
        assert not stats.counts and not stats.skipped


def test_a_control_byte_in_a_header_name_is_read_and_flagged() -> None:
    stream = _pipelined()  # three GETs in one segment; break a header name of the first
    at = stream.runs[0].data.index(b"Host") + 2
    exchanges, stats = _one(stream, side=CLIENT, run=0, at=at, kind="insert", garbage=b"\x01")
    assert not stats.skipped
    assert [e.target for e in exchanges if e.method] == [
        "/v1/users/7",
        "/v1/users/8",
        "/v1/users/9",
    ]
    assert [a for a in exchanges[0].anomalies if a.startswith("control_bytes")] == [
        "control_bytes: Ho?st"
    ]


def test_a_huge_header_line_is_dropped_counted_and_the_next_request_read() -> None:
    stream = _pipelined()
    second = stream.runs[0].data.index(b"GET /v1/users/8")
    at = stream.runs[0].data.index(b"\r\n") + 2
    exchanges, stats = _one(
        stream, side=CLIENT, run=0, at=at, kind="huge-header", size=MAX_HEAD_BYTES + 10
    )
    assert second > at
    assert stats.counts[f"HTTP request heads over {MAX_HEAD_BYTES} bytes"] == 1
    assert any("head larger than" in w for w in stats.warnings)
    assert [e.target for e in exchanges if e.method][-2:] == ["/v1/users/8", "/v1/users/9"]


def test_too_many_headers_are_counted_and_the_exchange_marked_partial() -> None:
    stream = _pipelined()
    at = stream.runs[0].data.index(b"\r\n") + 2
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 5))
    exchanges, stats = _one(stream, side=CLIENT, run=0, at=at, kind="insert", garbage=many)
    first = exchanges[0]
    assert first.partial and len(first.request_headers) == MAX_HEADERS
    assert (
        stats.counts[
            f"HTTP requests with headers dropped (over {MAX_HEADERS} or {MAX_HEADER_BYTES} bytes)"
        ]
        == 1
    )
    assert [e.target for e in exchanges] == ["/v1/users/7", "/v1/users/8", "/v1/users/9"]


def test_a_long_target_is_cut_counted_and_partial() -> None:
    stream = _pipelined()
    exchanges, stats = _one(
        stream,
        side=CLIENT,
        run=0,
        at=len("GET /v1/users/7"),
        kind="insert",
        garbage=b"x" * (MAX_TARGET + 100),
    )
    assert exchanges[0].partial and len(exchanges[0].target or "") == MAX_TARGET
    assert stats.counts[f"HTTP request targets cut at {MAX_TARGET} bytes"] == 1


def test_a_request_head_cut_by_the_end_of_the_connection_is_kept_partial() -> None:
    stream = _pipelined()
    at = stream.runs[0].data.index(b"GET /v1/users/9") + 20
    exchanges, stats = _one(stream, side=CLIENT, run=0, at=at, kind="truncate")
    assert (
        stats.counts["HTTP request heads cut short by the end of the connection (kept as partial)"]
        == 1
    )
    assert [(e.target, e.partial) for e in exchanges if e.method] == [
        ("/v1/users/7", False),
        ("/v1/users/8", False),
        ("/v1/users/9", True),
    ]
    assert "unfinished_head" in exchanges[-1].anomalies
