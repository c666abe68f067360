"""The reader and the converter run in child processes give what they give in-process
(exchanges, stats, errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.errors import InputError
from discovery.pipeline import to_exchange
from discovery.secrets import Fingerprinter
from discovery.sources import IngestStats, parallel
from discovery.sources.parallel import convert_in_children
from discovery.sources.pcap import read
from discovery.store import exchange_fields

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pcap"


@pytest.mark.parametrize(("kept", "batch"), [(parallel.SIGHTINGS_KEPT, parallel.BATCH), (1, 4)])
def test_children_convert_as_the_in_process_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int, batch: int
) -> None:
    """Reader and converter children give the rows, times and credential sightings that
    ``to_exchange`` gives here, in the same order, with the same counters (also when the
    table of sightings sent once is full after each batch and starts afresh)."""
    monkeypatch.setattr(parallel, "SIGHTINGS_KEPT", kept)
    monkeypatch.setattr(parallel, "BATCH", batch)
    data = (FIXTURES / "http_api.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 100])
    fingerprint = Fingerprinter(b"k" * 32)
    here, there = IngestStats(), IngestStats()
    seen: list[int] = []
    expected = [
        (exchange_fields(ex), ex.ts, ex.credentials)
        for ex in (to_exchange(obs, fingerprint) for obs in read(cut, here))
    ]
    got = list(convert_in_children("pcap", cut, there, fingerprint, seen.append))
    assert got == expected
    assert any(sightings for _, _, sightings in got)
    assert there.as_dict() == here.as_dict()
    assert there.skipped["truncated capture"] == 1  # a warning travels back too
    assert seen and seen[-1] == cut.stat().st_size


def test_children_raise_input_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"definitely not a capture")
    with pytest.raises(InputError, match="not a pcap or pcapng") as info:
        list(convert_in_children("pcap", bogus, IngestStats(), Fingerprinter(b"k" * 32)))
    assert info.value.path == str(bogus)
