"""TCP reassembly: segment orders in, the byte stream (and gaps) each direction delivers out."""

from __future__ import annotations

import pytest

from discovery.stats import IngestStats
from discovery.wire.packets import ACK, FIN, RST, SYN, Segment
from discovery.wire.reassembly import Connection, Limits, Reassembler

A, B = b"\x0a\x00\x00\x05", b"\x0a\x00\x00\x01"


class Recorder:
    """A handler that records what the reassembler delivers."""

    def __init__(self) -> None:
        self.stream: dict[int, list[bytes | int]] = {0: [], 1: []}
        self.closed = False

    def on_data(self, conn: Connection, side: int, data: bytes, ts: float, frame: int) -> None:
        self.stream[side].append(data)

    def on_gap(self, conn: Connection, side: int, size: int) -> None:
        self.stream[side].append(size)

    def on_close(self, conn: Connection) -> None:
        self.closed = True


def run(
    segments: list[tuple[int, int, bytes, int]],
    limits: Limits | None = None,
    ts_step: float = 0.001,
) -> tuple[list[Recorder], IngestStats, Reassembler]:
    """Feed (side, seq, payload, flags) segments of one 4-tuple; side 0 = client."""
    recorders: list[Recorder] = []
    stats = IngestStats()

    def new(conn: Connection) -> Recorder:
        recorders.append(Recorder())
        return recorders[-1]

    r = Reassembler(new, stats, limits)
    for i, (side, seq, payload, flags) in enumerate(segments):
        src, dst, sport, dport = (A, B, 40000, 80) if side == 0 else (B, A, 80, 40000)
        r.segment(Segment(src, dst, sport, dport, seq, 0, flags, payload, 0), i * ts_step, i + 1)
    return recorders, stats, r


def joined(rec: Recorder, side: int) -> list[bytes | int]:
    """Adjacent data chunks merged; gaps kept as ints."""
    out: list[bytes | int] = []
    for item in rec.stream[side]:
        if isinstance(item, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += item
        else:
            out.append(item)
    return out


HANDSHAKE = [(0, 99, b"", SYN), (1, 499, b"", SYN | ACK)]


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        pytest.param([(0, 100, b"abc", ACK), (0, 103, b"def", ACK)], [b"abcdef"], id="in order"),
        pytest.param([(0, 103, b"def", ACK), (0, 100, b"abc", ACK)], [b"abcdef"], id="swapped"),
        pytest.param(
            [(0, 106, b"ghi", ACK), (0, 103, b"def", ACK), (0, 100, b"abc", ACK)],
            [b"abcdefghi"],
            id="reversed",
        ),
        pytest.param(
            [(0, 100, b"abc", ACK), (0, 100, b"abc", ACK), (0, 103, b"def", ACK)],
            [b"abcdef"],
            id="retransmitted",
        ),
        pytest.param(
            [(0, 100, b"abcd", ACK), (0, 102, b"XYef", ACK)], [b"abcdef"], id="overlap: first wins"
        ),
        pytest.param(
            [(0, 103, b"def", ACK), (0, 103, b"XYZ", ACK), (0, 100, b"abc", ACK)],
            [b"abcdef"],
            id="buffered overlap: first wins",
        ),
        pytest.param(
            [(0, 100, b"abc", ACK), (0, 106, b"ghi", ACK | FIN), (1, 500, b"", FIN)],
            [b"abc", 3, b"ghi"],
            id="gap reported at close",
        ),
    ],
)
def test_segment_orders(
    segments: list[tuple[int, int, bytes, int]], expected: list[bytes | int]
) -> None:
    recs, _, r = run(HANDSHAKE + segments)
    r.close_all()
    assert joined(recs[0], 0) == expected
    assert recs[0].closed


def test_sequence_numbers_wrap_around() -> None:
    start = 0xFFFFFFFE
    recs, _, _ = run([(0, start - 1, b"", SYN), (0, start, b"abcd", ACK), (0, 2, b"ef", ACK)])
    assert joined(recs[0], 0) == [b"abcdef"]


def test_capture_starting_mid_connection_takes_first_sequence_number() -> None:
    recs, _, _ = run(
        [(1, 7000, b"tail of a body", ACK), (0, 300, b"GET /", ACK), (1, 7014, b"more", ACK)]
    )
    # side 0 is whoever sent the first packet seen (here the server)
    assert joined(recs[0], 0) == [b"tail of a bodymore"]
    assert joined(recs[0], 1) == [b"GET /"]


def test_client_is_the_syn_sender() -> None:
    _recs, _, r = run([(1, 499, b"", SYN | ACK), (0, 100, b"x", ACK)])
    conn = next(iter(r.conns.values()))
    assert conn.client == 1  # side 0 (first seen) answered with SYN-ACK: it is the server


def test_fin_on_both_sides_closes_and_forgets_the_flow() -> None:
    recs, _, r = run([*HANDSHAKE, (0, 100, b"q", ACK | FIN), (1, 500, b"a", ACK | FIN)])
    assert recs[0].closed and not r.conns and not r.flows


def test_rst_closes() -> None:
    recs, _, r = run([*HANDSHAKE, (0, 100, b"q", ACK), (1, 500, b"", RST)])
    assert recs[0].closed and not r.conns


def test_port_reuse_starts_a_new_connection() -> None:
    recs, stats, _ = run(
        [*HANDSHAKE, (0, 100, b"first", ACK), (0, 9999, b"", SYN), (0, 10000, b"second", ACK)]
    )
    assert len(recs) == 2
    assert joined(recs[0], 0) == [b"first"] and recs[0].closed
    assert joined(recs[1], 0) == [b"second"]
    assert stats.flows == 2
    assert stats.counts["port reuse (new connection on a known 4-tuple)"] == 1


def test_flow_buffer_cap_forces_a_gap() -> None:
    limits = Limits(flow_buffer=10)
    segs = [
        *HANDSHAKE,
        (0, 100, b"ab", ACK),
        (0, 110, b"0123456", ACK),  # hole at 102..109
        (0, 117, b"789abc", ACK),
    ]  # would exceed the cap
    recs, stats, r = run(segs, limits)
    assert joined(recs[0], 0) == [b"ab", 8, b"0123456789abc"]
    assert stats.counts["gaps: flow buffer full"] == 1
    d = next(iter(r.conns.values())).dirs[0]
    assert d.ooo_bytes == 0


def test_idle_flows_are_evicted() -> None:
    limits = Limits(idle_timeout=10.0, sweep_every=1)
    recs, stats, r = run([*HANDSHAKE, (0, 100, b"x", ACK)], limits, ts_step=1.0)
    assert r.conns
    other = Segment(b"\x0a\x00\x00\x09", B, 5000, 80, 1, 0, SYN, b"", 0)
    r.segment(other, 100.0, 99)
    assert recs[0].closed
    assert stats.counts["flows evicted (idle)"] == 1
    assert len(r.conns) == 1


def test_flow_cap_evicts_least_recently_active() -> None:
    stats = IngestStats()
    recs: list[Recorder] = []

    def new(conn: Connection) -> Recorder:
        recs.append(Recorder())
        return recs[-1]

    r = Reassembler(new, stats, Limits(max_flows=8))
    for i in range(20):
        r.segment(Segment(A, B, 1000 + i, 80, 1, 0, SYN, b"", 0), float(i), i + 1)
        assert len(r.conns) <= 8
    assert stats.flows == 20
    assert stats.counts["flows evicted (flow cap)"] >= 12
    assert recs[0].closed and not recs[-1].closed


def test_a_retransmission_after_the_close_opens_nothing() -> None:
    recorders, stats, _ = run(
        [
            *HANDSHAKE,
            (0, 100, b"GET / HTTP/1.1\r\n\r\n", ACK),
            (0, 118, b"", FIN | ACK),
            (1, 500, b"", FIN | ACK),
            (0, 100, b"GET / HTTP/1.1\r\n\r\n", ACK),  # after FIN: the same bytes again
            (0, 99, b"", SYN),  # and the first SYN again
        ]
    )
    assert len(recorders) == 1
    assert stats.counts["segments repeated after their connection closed"] == 2


def test_a_reset_connection_repeated_opens_nothing_but_new_data_does() -> None:
    recorders, stats, _ = run(
        [
            *HANDSHAKE,
            (0, 100, b"abc", ACK),
            (1, 500, b"", RST),
            (0, 100, b"abc", ACK),  # repeated after the reset: dropped
            (0, 103, b"def", ACK),  # beyond what was seen: followed (mid-stream)
        ]
    )
    assert [joined(r, 0) for r in recorders] == [[b"abc"], [b"def"]]
    assert stats.counts["segments repeated after their connection closed"] == 1


def test_a_syn_retransmitted_after_data_changes_nothing() -> None:
    recorders, stats, _ = run(
        [*HANDSHAKE, (0, 100, b"abc", ACK), (0, 99, b"", SYN), (0, 103, b"def", ACK)]
    )
    assert [joined(r, 0) for r in recorders] == [[b"abcdef"]]
    assert stats.counts["retransmitted SYNs"] == 1


def test_a_hole_the_peer_acknowledged_is_skipped_at_once() -> None:
    """Capture loss: the server acknowledged bytes 103-106 that were never captured; waiting
    for them (until the buffer fills or the connection ends) would stall the client's side."""
    rec = Recorder()
    stats = IngestStats()
    r = Reassembler(lambda conn: rec, stats)
    r.segment(Segment(A, B, 40000, 80, 99, 0, SYN, b"", 0), 0.0, 1)
    r.segment(Segment(B, A, 80, 40000, 499, 100, SYN | ACK, b"", 0), 0.1, 2)
    r.segment(Segment(A, B, 40000, 80, 100, 500, ACK, b"abc", 0), 0.2, 3)
    r.segment(Segment(A, B, 40000, 80, 106, 500, ACK, b"ghi", 0), 0.3, 4)
    assert joined(rec, 0) == [b"abc"]  # held: the hole may still be filled
    r.segment(Segment(B, A, 80, 40000, 500, 109, ACK, b"ok", 0), 0.4, 5)
    assert joined(rec, 0) == [b"abc", 3, b"ghi"]
    assert not rec.closed
    assert stats.counts["gaps acknowledged by the peer (capture loss)"] == 1
