"""``ingest --follow`` on a Zeek log being written, gzip-compressed rotated logs, and directories
and patterns of rotated logs in one command: each record in the case once."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.crashkit import cli, probe, run_ok
from tests.reliability.test_growing_inputs import rows, zeek_json, zeek_tsv

pytestmark = pytest.mark.integration


def wait_for(case: Path, count: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the case holds ``count`` exchanges (the follower is still running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if probe(case, "SELECT COUNT(*) FROM exchanges") == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the case never held {count} exchanges")


def stop(proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summaries: list[dict[str, object]] = json.loads(out)
    return summaries


def test_following_a_log_appended_three_times_finds_each_record_once(tmp_path: Path) -> None:
    case, log = tmp_path / "case.db", tmp_path / "current" / "http.log"
    log.parent.mkdir()
    data = zeek_tsv(60)
    header_end = len(zeek_tsv(0))

    def record_start(n: int) -> int:  # the byte where record ``n`` (0-based) begins
        return header_end + sum(len(x) + 1 for x in data[header_end:].split(b"\n")[:n])

    # writes end in the middle of a record: Zeek writes in buffers, not lines
    cuts = [record_start(10) + 30, record_start(25), record_start(40) + 7]
    log.write_bytes(data[: cuts[0]])
    argv = cli(case, "ingest", "--follow", "--interval", "0.2", "--json", log)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(case, 10, proc)
        for start, end, expected in ((cuts[0], cuts[1], 25), (cuts[1], cuts[2], 40)):
            with log.open("ab") as out:  # appended, as Zeek does: same file, same inode
                out.write(data[start:end])
            wait_for(case, expected, proc)
        with log.open("ab") as out:
            out.write(data[cuts[2] :])
        wait_for(case, 60, proc)
    finally:
        if proc.poll() is None:
            summaries = stop(proc)
    assert sum(int(str(s["exchanges"])) for s in summaries) == 60
    assert rows(case, "SELECT COUNT(DISTINCT evidence), COUNT(*) FROM exchanges") == [(60, 60)]
    # the analysis ran on what was followed: the endpoints are there
    assert rows(case, "SELECT COUNT(*) FROM endpoints")[0][0] >= 1
    # following again after a restart reads only what came after
    with log.open("ab") as out:
        out.write(zeek_tsv(65)[len(data) :])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(case, 65, proc)
    again = stop(proc)
    assert sum(int(str(s["exchanges"])) for s in again) == 5
    assert rows(case, "SELECT COUNT(DISTINCT evidence), COUNT(*) FROM exchanges") == [(65, 65)]


def test_rotated_gzip_logs_by_directory_and_pattern(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "2026-11-20"
    logs.mkdir(parents=True)
    tsv, js = zeek_tsv(30), zeek_json(20)
    (logs / "http.10:00:00-11:00:00.log.gz").write_bytes(gzip.compress(tsv))
    (logs / "http.11:00:00-12:00:00.log.gz").write_bytes(gzip.compress(js))
    (logs / ".http.log.swp").write_bytes(b"not a log")  # a dot-file in the folder: left out
    case = tmp_path / "case.db"
    summaries = json.loads(run_ok(cli(case, "ingest", "--json", logs.parent)).stdout)
    assert [(Path(str(s["path"])).name, s["format"], s["exchanges"]) for s in summaries] == [
        ("http.10:00:00-11:00:00.log.gz", "zeek", 30),
        ("http.11:00:00-12:00:00.log.gz", "zeek", 20),
    ]
    # the same logs by a pattern: already in the case, nothing added
    pattern = str(tmp_path / "logs" / "*" / "http.*.log.gz")
    again = json.loads(run_ok(cli(case, "ingest", "--json", pattern)).stdout)
    assert [s["already_ingested"] for s in again] == [True, True]
    assert rows(case, "SELECT COUNT(DISTINCT evidence), COUNT(*) FROM exchanges") == [(50, 50)]


def test_a_cut_gzip_log_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    packed = gzip.compress(zeek_tsv(400))
    log = tmp_path / "http.log.gz"
    log.write_bytes(packed[: len(packed) * 2 // 3])
    case = tmp_path / "case.db"
    (summary,) = json.loads(run_ok(cli(case, "ingest", "--json", log)).stdout)
    assert 0 < summary["exchanges"] < 400
    assert "gzip stream cut short (the lines before it read)" in summary["counts"]
    assert rows(case, "SELECT COUNT(*) FROM exchanges") == [(summary["exchanges"],)]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("nothing-here-*.log", "no file matches this pattern"), ("missing.log", "no such file")],
)
def test_a_name_that_matches_nothing_is_refused(tmp_path: Path, name: str, reason: str) -> None:
    proc = subprocess.run(
        cli(tmp_path / "case.db", "ingest", tmp_path / name), capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"ir-console: error: {tmp_path / name}: {reason}"]


def test_gzip_of_another_format_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "capture.pcap.gz"
    bad.write_bytes(gzip.compress(b"\xd4\xc3\xb2\xa1" + b"\0" * 40))
    proc = subprocess.run(cli(tmp_path / "c.db", "ingest", bad), capture_output=True, text=True)
    assert proc.returncode == 2
    assert "gzip-compressed, but not a Zeek log" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_gzip_archive_of_a_followed_log_adds_only_what_was_not_read(tmp_path: Path) -> None:
    case, current = tmp_path / "case.db", tmp_path / "current" / "http.log"
    current.parent.mkdir()
    data = zeek_tsv(50)
    current.write_bytes(data[: len(data) * 3 // 5])  # Zeek was still writing when we read it
    first = json.loads(run_ok(cli(case, "ingest", "--json", current)).stdout)[0]
    assert 0 < first["exchanges"] < 50
    # the hour ends: Zeek finishes the file, closes it and archives it compressed
    archive = tmp_path / "2026-11-20" / "http.10:00:00-11:00:00.log.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress(data + b"#close\t2026-11-20-11-00-00\n"))
    current.unlink()
    (rest,) = json.loads(run_ok(cli(case, "ingest", "--json", archive.parent)).stdout)
    assert rest["continued_from"] and rest["exchanges"] == 50 - first["exchanges"]
    assert rows(case, "SELECT COUNT(DISTINCT evidence), COUNT(*) FROM exchanges") == [(50, 50)]
    (again,) = json.loads(run_ok(cli(case, "ingest", "--json", archive)).stdout)
    assert again["already_ingested"]
