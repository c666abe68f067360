"""Key logs followed as they are written: whole lines only, a file that appears late, one
replaced or truncated, bad lines named by number and never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from discovery.errors import InputError
from discovery.ingest import keylog_follow
from discovery.ingest.keylog_follow import KeyLogFollower
from discovery.stats import IngestStats
from discovery.wire.keylog import BAD_LINE, KeyLog

RANDOM_A, RANDOM_B = bytes(range(32)), bytes(range(1, 33))


def _secret(random: bytes) -> bytes:
    return bytes(b ^ 0x5E for b in (random * 2)[:48])


def _line(random: bytes, label: str = "CLIENT_RANDOM") -> bytes:
    return f"{label} {random.hex()} {_secret(random).hex()}\n".encode()


def _follower(*paths: Path) -> tuple[KeyLogFollower, KeyLog, IngestStats]:
    keys, stats = KeyLog(), IngestStats()
    return KeyLogFollower(paths, keys, stats), keys, stats


def test_a_file_created_later_and_lines_written_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    follower, keys, _stats = _follower(path)
    assert follower.poll(final=True) == 0  # not there yet: no error, looked for again
    line = _line(RANDOM_A)
    with path.open("wb", buffering=0) as handle:
        handle.write(line[:40])  # a line being written
        follower.last_look = 0.0
        assert follower.poll() == 0 and keys.secrets(RANDOM_A) is None
        handle.write(line[40:] + _line(RANDOM_B)[:10])
        follower.last_look = 0.0
        assert follower.poll() == 1
    assert keys.secrets(RANDOM_A) == {"CLIENT_RANDOM": _secret(RANDOM_A)}
    assert keys.secrets(RANDOM_B) is None
    follower.close()


def test_a_replaced_or_truncated_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_bytes(_line(RANDOM_A) * 3)
    follower, keys, _stats = _follower(path)
    assert follower.poll() == 3
    replacement = tmp_path / "new.log"
    replacement.write_bytes(_line(RANDOM_B))
    os.replace(replacement, path)  # a client starting a new file in its place
    assert follower.poll(final=True) == 1
    assert keys.secrets(RANDOM_B) is not None
    path.write_bytes(b"")  # truncated in place, then as long as before again
    with path.open("ab") as handle:
        handle.write(_line(bytes(range(2, 34))))
    assert follower.poll(final=True) == 1
    assert keys.secrets(bytes(range(2, 34))) is not None
    follower.close()


def test_bad_lines_are_counted_by_file_and_number_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_bytes(_line(RANDOM_A) + b"CLIENT_RANDOM 00 not-hex-secret-value\n")
    follower, _keys, stats = _follower(path)
    follower.poll(final=True)
    with path.open("ab") as handle:
        handle.write(b"\n" + _line(RANDOM_B) + b"garbage-line-with-a-secret-zzz\n")
    follower.poll(final=True)
    assert stats.skipped[BAD_LINE] == 2
    assert [w.rsplit(": ", 2)[-2] for w in stats.warnings] == ["line 2", "line 5"]
    assert not any("zzz" in w or "not-hex" in w for w in stats.warnings)


def test_check_refuses_what_cannot_be_a_key_log(tmp_path: Path) -> None:
    KeyLogFollower.check(tmp_path / "later.log")  # not there yet, in a folder that is
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    for path, said in (
        (notes, "not an NSS key log"),
        (tmp_path / "missing" / "keys.log", "no such file or folder"),
        (tmp_path, "not a regular file"),
    ):
        with pytest.raises(InputError, match=said):
            KeyLogFollower.check(path)


def test_a_long_followed_log_keeps_minutes_of_sessions_not_all_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days of a busy client's key log must not pile up in memory: each session is forgotten
    ``keep`` seconds after the look that read it; later sessions stay."""
    clock = [1000.0]
    monkeypatch.setattr(keylog_follow.time, "monotonic", lambda: clock[0])
    path = tmp_path / "keys.log"
    path.write_bytes(_line(RANDOM_A))
    follower, keys, _stats = _follower(path)
    follower.keep = 30.0
    assert follower.poll() == 1
    randoms = [bytes([n]) * 32 for n in range(2, 200)]
    with path.open("ab") as handle:
        handle.write(b"".join(_line(r) for r in randoms))
    clock[0] += 20.0
    assert follower.poll() == len(randoms)
    assert len(keys) == 1 + len(randoms)
    clock[0] += 15.0  # 35 s after the first look, 15 s after the second
    follower.poll()
    assert keys.secrets(RANDOM_A) is None
    assert len(keys) == len(randoms) and keys.secrets(randoms[0]) is not None
    clock[0] += 20.0
    follower.poll()
    assert len(keys) == 0
    follower.close()


def test_forget_before_drops_in_arrival_order_and_only_timed_sessions() -> None:
    keys = KeyLog()
    keys.add_text(_line(RANDOM_A), "offline")  # no time (an offline key log): kept
    keys.add_text(_line(RANDOM_B), "live", arrived=100.0)
    later = bytes(range(2, 34))
    keys.add_text(_line(later), "live", arrived=200.0)
    keys.add_text(_line(RANDOM_B, "CLIENT_HANDSHAKE_TRAFFIC_SECRET"), "live", arrived=200.0)
    keys.add_text(
        b"RSA 0011223344556677 " + bytes(48).hex().encode() + b"\n", "live", arrived=200.0
    )
    assert keys.forget_before(150.0) == 1  # RANDOM_B came at 100 (a later line adds to it)
    assert keys.secrets(RANDOM_B) is None and keys.secrets(RANDOM_A) is not None
    assert keys.secrets(later) is not None and keys.has_rsa
    assert keys.forget_before(250.0) == 2
    assert keys.secrets(later) is None and not keys.has_rsa
    assert keys.secrets(RANDOM_A) is not None
