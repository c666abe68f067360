"""TLS connections waiting for secrets a growing key log has not given yet (live capture with
``--keylog``), on real OpenSSL conversations made in this process (``tls_memory``)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from discovery.models import ObservedExchange
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker
from discovery.wire.keylog import KeyLog, load
from discovery.wire.tlssession import LATE, NO_SECRETS, WAITED, Waiting
from tests.discovery.wire import tls_memory as mem
from tests.discovery.wire.test_tlssession import REQUESTS, _view

CASES: dict[str, dict[str, Any]] = {
    "tls13": {},
    "tls12": {"version": ssl.TLSVersion.TLSv1_2, "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"},
}


def _conversation(tmp_path: Path, case: str) -> tuple[list[bytes], Path]:
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, REQUESTS, mem.http1_response, **CASES[case])
    return mem.frames(chunks), keylog


def _feed(tracker: ConnectionTracker, frames: list[bytes], start: int = 0) -> None:
    for number, frame in enumerate(frames[start:], start + 1):
        tracker.frame(number, mem.T0 + number / 1000, 1, frame)


def _reference(frames: list[bytes], secrets: KeyLog | None) -> list[ObservedExchange]:
    """What a read with the key log complete from the start (or without one) gives."""
    tracker = ConnectionTracker(IngestStats(), "live", secrets=secrets)
    _feed(tracker, frames)
    tracker.finish()
    return tracker.take()


def _waiting_tracker(**bounds: Any) -> tuple[ConnectionTracker, KeyLog, IngestStats]:
    stats = IngestStats()
    keys = KeyLog()
    tracker = ConnectionTracker(stats, "live", where="live capture on lo", secrets=keys)
    tracker.waiting = Waiting(**bounds)
    return tracker, keys, stats


@pytest.mark.parametrize("case", ["tls13", "tls12"])
def test_secrets_logged_after_the_connection_ended_still_decrypt_it(
    tmp_path: Path, case: str
) -> None:
    frames, keylog = _conversation(tmp_path, case)
    tracker, keys, stats = _waiting_tracker()
    _feed(tracker, frames)  # the whole connection, closed, before any secret is logged
    assert tracker.take() == []  # held, not given up on
    assert len(tracker.waiting or ()) == 1
    keys.add_text(keylog.read_bytes(), str(keylog))
    assert tracker.waiting is not None
    tracker.waiting.check(mem.T0 + 1)
    found = tracker.take()
    assert [_view(ex) for ex in found] == [_view(ex) for ex in _reference(frames, load([keylog]))]
    assert len(found) == len(REQUESTS) and all(ex.method for ex in found)
    assert stats.counts[LATE] == 1 and NO_SECRETS not in stats.counts
    assert len(tracker.waiting) == 0 and tracker.waiting.held == 0


def test_secrets_logged_mid_connection_take_it_from_its_start(tmp_path: Path) -> None:
    frames, keylog = _conversation(tmp_path, "tls13")
    tracker, keys, stats = _waiting_tracker()
    half = len(frames) // 2
    _feed(tracker, frames[:half])
    assert tracker.take() == []
    keys.add_text(keylog.read_bytes(), str(keylog))
    _feed(tracker, frames, half)  # the next packet finds its secrets: no check needed
    tracker.finish()
    found = tracker.take()
    assert [_view(ex) for ex in found] == [_view(ex) for ex in _reference(frames, load([keylog]))]
    assert stats.counts[LATE] == 1


def test_tls13_waits_until_every_secret_it_needs_is_logged(tmp_path: Path) -> None:
    frames, keylog = _conversation(tmp_path, "tls13")
    lines = keylog.read_bytes().splitlines(keepends=True)
    handshake = [line for line in lines if b"HANDSHAKE" in line]
    rest = [line for line in lines if line not in handshake]
    tracker, keys, _stats = _waiting_tracker()
    _feed(tracker, frames)
    keys.add_text(b"".join(handshake), str(keylog))
    assert tracker.waiting is not None
    tracker.waiting.check(mem.T0 + 1)
    assert tracker.take() == [] and len(tracker.waiting) == 1  # application secrets to come
    keys.add_text(b"".join(rest), str(keylog))
    tracker.waiting.check(mem.T0 + 1)
    assert len(tracker.take()) == len(REQUESTS)


def test_secrets_that_never_come_leave_it_opaque_and_counted_as_without_secrets(
    tmp_path: Path,
) -> None:
    frames, _keylog = _conversation(tmp_path, "tls13")
    tracker, _keys, stats = _waiting_tracker(seconds=5.0)
    _feed(tracker, frames)
    assert tracker.waiting is not None
    tracker.waiting.check(mem.T0 + 4)  # not yet
    assert tracker.take() == []
    tracker.waiting.check(mem.T0 + 6)
    found = tracker.take()
    assert found == _reference(frames, KeyLog())  # exactly as when secrets are missing
    assert len(found) == 1 and found[0].method is None and found[0].tls
    assert stats.counts[NO_SECRETS] == 1
    assert stats.counts[WAITED.format(why="5 s passed")] == 1
    assert tracker.waiting.held == 0 and len(tracker.waiting) == 0


def test_the_end_of_the_input_settles_a_connection_still_waiting(tmp_path: Path) -> None:
    frames, _keylog = _conversation(tmp_path, "tls12")
    tracker, _keys, stats = _waiting_tracker()
    _feed(tracker, frames)
    tracker.finish()
    found = tracker.take()
    assert len(found) == 1 and found[0].method is None
    assert stats.counts[WAITED.format(why="the input ended")] == 1


def test_a_connection_holding_more_than_its_share_is_given_up(tmp_path: Path) -> None:
    big = [b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 60000\r\n\r\n" + b"x" * 60000]
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, big, mem.http1_response)
    frames = mem.frames(chunks)
    tracker, keys, stats = _waiting_tracker(per_connection=16 << 10)
    _feed(tracker, frames)
    keys.add_text(keylog.read_bytes(), str(keylog))  # too late: given up already
    assert tracker.waiting is not None
    tracker.waiting.check(mem.T0 + 1)
    tracker.finish()
    found = tracker.take()
    assert len(found) == 1 and found[0].method is None
    assert stats.counts[WAITED.format(why="over 16 KiB held")] == 1
    assert tracker.waiting.held == 0


def test_the_bound_on_all_connections_together(tmp_path: Path) -> None:
    frames_a, _ = _conversation(tmp_path, "tls13")
    other = mem.conversation(tmp_path, tmp_path / "b.log", REQUESTS, mem.http1_response)
    frames_b = mem.frames(other, client_port=40001)
    alone, _keys, _stats = _waiting_tracker()
    _feed(alone, frames_a)
    assert alone.waiting is not None
    held_a = alone.waiting.held  # what the first connection holds by itself
    tracker, _keys, stats = _waiting_tracker(total=held_a + 100)
    _feed(tracker, frames_a)
    for number, frame in enumerate(frames_b, len(frames_a) + 1):
        tracker.frame(number, mem.T0 + number / 1000, 1, frame)
    assert tracker.waiting is not None
    assert len(tracker.waiting) == 1  # the first still waits; the second was given up
    assert stats.counts[NO_SECRETS] == 1
    why = f"over {(held_a + 100) >> 10} KiB held by all connections"
    assert stats.counts[WAITED.format(why=why)] == 1
    assert tracker.waiting.held == held_a
    assert [ex.client_port for ex in tracker.take()] == [40001]
