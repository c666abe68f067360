"""Key logs followed as they are written: whole lines only, a file that appears late, one
replaced or truncated, bad lines named by number and never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from discovery.errors import InputError
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
    assert keys.generation == 1
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
