"""The rotating pcapng writer of live captures: files other tools read, the capture's drops kept
in their statistics blocks, and a file that says it lost packets listed as lossy once ingested."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.errors import OutputError
from discovery.ingest.capture_file import RotatingPcapng, _interface_statistics
from discovery.ingest.files import ingest_file
from discovery.sources.pcap import iter_frames
from discovery.stats import CAPTURE_DROPS, IngestStats
from discovery.views.captures import captures
from tests.paths import FIXTURES

SOURCE = FIXTURES / "pcap" / "http_api.pcap"


def copy_frames(target: Path, case: Path | None, rotate: int | None = None) -> RotatingPcapng:
    out = RotatingPcapng(target, 65535, case, rotate)
    for number, ts, linktype, data in iter_frames(SOURCE, IngestStats()):
        sec = int(ts)
        out.packet(number, sec, round((ts - sec) * 1e9), linktype, data, len(data), 1)
    return out


def test_written_file_reads_back_frame_for_frame_and_keeps_the_drops(tmp_path: Path) -> None:
    target = tmp_path / "raw.pcapng"
    out = copy_frames(target, tmp_path / "case.db")
    out.close(received=120, dropped=7)
    original = list(iter_frames(SOURCE, IngestStats()))
    stats = IngestStats()
    again = list(iter_frames(target, stats))
    assert [(n, lt, d) for n, _, lt, d in again] == [(n, lt, d) for n, _, lt, d in original]
    assert all(abs(a[1] - b[1]) < 1e-6 for a, b in zip(again, original, strict=True))
    assert target.stat().st_mode & 0o777 == 0o600
    with Store.open(tmp_path / "case.db") as store:
        result = ingest_file(store, target)
        assert result.stats.counts[CAPTURE_DROPS] == 7
        (capture,) = captures(store)
        assert (capture.name, capture.lossy, capture.dropped) == (str(target), True, 7)


def test_a_file_saying_it_lost_nothing_is_listed_without_loss(tmp_path: Path) -> None:
    target = tmp_path / "raw.pcapng"
    out = copy_frames(target, None)
    out.close(received=120, dropped=0)
    with Store.open(tmp_path / "case.db") as store:
        ingest_file(store, target)
        (capture,) = captures(store)
        assert (capture.lossy, capture.dropped) == (False, 0)


def test_files_without_statistics_do_not_claim_anything(tmp_path: Path) -> None:
    with Store.open(tmp_path / "case.db") as store:
        ingest_file(store, SOURCE)
        assert captures(store) == []  # a classic pcap does not say what it lost


@pytest.mark.integration
@pytest.mark.needs_tool
def test_other_tools_read_the_files(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    target = tmp_path / "raw.pcapng"
    out = copy_frames(target, None)
    out.close(received=120, dropped=7)
    fields = subprocess.run(
        [
            tshark,
            "-r",
            str(target),
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "frame.interface_name",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    original = list(iter_frames(SOURCE, IngestStats()))
    assert [line.split("\t")[0] for line in fields] == [str(len(f[3])) for f in original]


def test_rotation_splits_on_size_and_numbers_the_files(tmp_path: Path) -> None:
    target = tmp_path / "raw.pcapng"
    out = copy_frames(target, None, rotate=64 << 10)
    out.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    total = sum(1 for _ in iter_frames(SOURCE, IngestStats()))
    assert len(names) >= 3  # 160 KiB of frames
    assert all((tmp_path / n).stat().st_size <= 64 << 10 for n in names)
    assert names == [f"raw_{i:05d}.pcapng" for i in range(1, len(names) + 1)]
    assert sum(len(list(iter_frames(tmp_path / n, IngestStats()))) for n in names) == total
    assert out.files[0].first_frame == 1
    assert out.files[-1].last_frame == total
    for before, after in zip(out.files, out.files[1:], strict=False):
        assert after.first_frame == before.last_frame + 1


def test_existing_rotation_files_are_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "raw_00003.pcapng").write_bytes(b"old evidence")
    with pytest.raises(OutputError, match="already exists"):
        RotatingPcapng(tmp_path / "raw.pcapng", 65535, None, rotate=1 << 20)
    RotatingPcapng(tmp_path / "raw.pcapng", 65535, None, rotate=1 << 20, force=True)
    assert (tmp_path / "raw_00003.pcapng").read_bytes() == b"old evidence"  # not touched yet


def test_a_rotation_below_the_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="at least 64 KiB"):
        RotatingPcapng(tmp_path / "raw.pcapng", 65535, None, rotate=1000)


def _blocks(data: bytes) -> list[tuple[int, bytes]]:
    """The (type, whole block) of each pcapng block (little-endian, as written here)."""
    out, pos = [], 0
    while pos < len(data):
        btype, length = struct.unpack_from("<II", data, pos)
        out.append((btype, data[pos : pos + length]))
        pos += length
    return out


def _lossy_total(store: Store) -> tuple[list[int], int]:
    dropped = [c.dropped for c in captures(store)]
    return dropped, sum(dropped)


def test_a_grown_capture_counts_its_drops_once_a_new_section(tmp_path: Path) -> None:
    """A file read, then grown by a second section (a capture appended, with its own
    statistics): the read that continues it counts the new section's drops only."""
    target = tmp_path / "raw.pcapng"
    copy_frames(target, None).close(received=120, dropped=7)
    more = tmp_path / "more.pcapng"
    copy_frames(more, None).close(received=80, dropped=3)
    with Store.open(tmp_path / "case.db") as store:
        ingest_file(store, target)
        with target.open("ab") as handle:
            handle.write(more.read_bytes())
        grown = ingest_file(store, target)
        assert grown.continued_from  # read on from where the first read stopped
        assert grown.stats.counts[CAPTURE_DROPS] == 3
        assert _lossy_total(store) == ([7, 3], 10)


def test_a_grown_capture_counts_its_drops_once_the_same_interface(tmp_path: Path) -> None:
    """Statistics written again for the same interface as the capture goes on (cumulative
    counters, as pcapng defines them): the continued read counts the difference."""
    target = tmp_path / "raw.pcapng"
    copy_frames(target, None).close(received=120, dropped=7)
    more = tmp_path / "more.pcapng"
    copy_frames(more, None).close()
    packets = b"".join(block for btype, block in _blocks(more.read_bytes()) if btype == 6)
    with Store.open(tmp_path / "case.db") as store:
        ingest_file(store, target)
        with target.open("ab") as handle:
            handle.write(packets + _interface_statistics(0, 250, 9))
        grown = ingest_file(store, target)
        assert grown.continued_from
        assert grown.stats.counts[CAPTURE_DROPS] == 2
        assert _lossy_total(store) == ([7, 2], 9)
        assert grown.stats.packets == len(list(iter_frames(SOURCE, IngestStats())))
