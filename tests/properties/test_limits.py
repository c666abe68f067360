"""Resource limits (fast sizes; benchmarks/bench_limits.py runs the full ones and prints peak
RSS): each hostile input is bounded (Python allocation peak under tracemalloc), counted or
warned about, and the input after it is still processed."""

from __future__ import annotations

import base64
import tracemalloc
from collections.abc import Callable
from functools import cache
from typing import Any

from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.wire.bodies import DECODED_LIMIT
from discovery.wire.http1 import MAX_HEAD_BYTES, MAX_HEADERS
from tests.properties import limits_cases as lc

MB = 1 << 20


def peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def after_kept(exchanges: list[ObservedExchange]) -> None:
    assert [(e.target, e.status) for e in exchanges if e.target == "/after"] == [
        ("/after", 200)
    ] * sum(1 for e in exchanges if e.target == "/after")
    assert sum(1 for e in exchanges if e.target == "/after") >= 1


def test_a_1mb_header_line_is_dropped_bounded_and_counted() -> None:
    (exchanges, stats), used = peak(lc.case_huge_header)
    assert stats.counts[f"HTTP request heads over {MAX_HEAD_BYTES} bytes"] == 1
    assert any("head larger than" in w for w in stats.warnings)
    assert used < 4 * MB
    # the next connection is read; on the same (pipelined) connection the dropped request's
    # 431 answer pairs with the request after it, as after any request dropped unparsed
    after = [(e.client_port, e.status) for e in exchanges if e.target == "/after"]
    assert after == [(50001, 431), (50999, 200)]


def test_ten_thousand_headers_keep_the_first_ones_and_are_counted() -> None:
    (exchanges, stats), used = peak(lc.case_many_headers)
    many = next(e for e in exchanges if e.target == "/many")
    assert many.partial and len(many.request_headers) == MAX_HEADERS
    assert any("more than" in w and "headers" in w for w in stats.warnings)
    assert used < 8 * MB
    assert sum(1 for e in exchanges if e.target == "/after") == 2


def test_a_declared_10gb_body_is_cut_at_the_close_and_bounded() -> None:
    (exchanges, _stats), used = peak(lambda: lc.case_declared_length(sent=4 * MB))
    upload = next(e for e in exchanges if e.target == "/upload")
    assert upload.partial and upload.request_bytes == 4 * MB
    assert len(upload.request_body) <= 64 * 1024
    assert used < 4 * MB
    after_kept(exchanges)


def test_an_endless_chunked_body_is_bounded() -> None:
    (exchanges, _stats), used = peak(lambda: lc.case_endless_chunked(sent=4 * MB))
    stream = next(e for e in exchanges if e.target == "/stream")
    assert stream.partial and stream.response_bytes >= 4 * MB - 64 * 1024
    assert used < 4 * MB
    after_kept(exchanges)


@cache
def _bomb() -> bytes:
    return lc.gzip_bomb(256 * MB)  # the benchmark builds the 1 GiB one (about 3 s)


def test_a_gzip_bomb_decodes_to_the_cap_only() -> None:
    bomb = _bomb()
    assert len(bomb) < 4096
    (exchanges, _stats), used = peak(lambda: lc.case_gzip_bomb(bomb))
    hit = next(e for e in exchanges if e.target == "/bomb")
    assert len(hit.response_body) == DECODED_LIMIT and hit.response_bytes == len(bomb)
    assert used < 4 * MB
    after_kept(exchanges)


def test_deeply_nested_json_bodies_pass_through() -> None:
    (exchanges, _stats), used = peak(lambda: lc.case_nested_json(100_000))
    assert next(e for e in exchanges if e.target == "/nested").status == 200
    assert used < 8 * MB
    after_kept(exchanges)
    for e in exchanges:
        to_exchange(e, lambda s: s[:8])  # credential and sensitive-data scans: no recursion


def _nested_jwt(depth: int) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return (
        b64(b'{"alg":"HS256"}')
        + "."
        + b64(b'{"sub":' + b"[" * depth + b"]" * depth + b"}")
        + ".c2ln"
    )


def test_a_deeply_nested_jwt_does_not_raise_out_of_the_pipeline() -> None:
    """A Bearer token whose payload nests ~3000 deep (json.loads raises RecursionError) is
    not a JWT, but the exchange and its credential are still recorded."""
    obs = ObservedExchange(
        ts=0.0,
        source="pcap",
        evidence="frame 1",
        method="GET",
        target="/x",
        host="limits.test",
        request_headers=(("Authorization", "Bearer " + _nested_jwt(3000)),),
    )
    exchange = to_exchange(obs, lambda s: s[:8])
    assert exchange.path == "/x"
    assert [c.kind for c in exchange.credentials] and exchange.credentials[0].kind != "jwt"


def test_half_open_flows_beyond_the_cap_are_evicted_and_the_rest_read() -> None:
    exchanges, stats = lc.case_half_open(22_000)  # the cap is 20,000; the benchmark runs 100k
    assert stats.counts["flows evicted (flow cap)"] >= 2_000
    assert [(e.target, e.status) for e in exchanges] == [("/after", 200)]
    assert stats.flows == 22_001


def test_a_huge_spec_loads() -> None:
    assert lc.case_huge_spec(5_000) == 5_000
