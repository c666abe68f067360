"""The reader run in a child process gives what it gives in-process (exchanges, stats, errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.errors import InputError
from discovery.sources import IngestStats
from discovery.sources.parallel import read_in_child
from discovery.sources.pcap import read

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pcap"


def test_child_reader_matches_in_process_reader(tmp_path: Path) -> None:
    data = (FIXTURES / "http_api.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 100])  # truncated: a warning must travel back too
    here, there = IngestStats(), IngestStats()
    seen: list[int] = []
    expected = list(read(cut, here))
    got = list(read_in_child("pcap", cut, there, seen.append))
    assert got == expected
    assert there.as_dict() == here.as_dict()
    assert there.skipped["truncated capture"] == 1
    assert seen and seen[-1] == cut.stat().st_size


def test_child_reader_raises_input_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"definitely not a capture")
    with pytest.raises(InputError, match="not a pcap or pcapng") as info:
        list(read_in_child("pcap", bogus, IngestStats()))
    assert info.value.path == str(bogus)
