"""`ir-console ingest`: real captures into a real case file, summary, re-ingest, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.case.store import Store
from ir_console.cli import cli
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "pcap"


def run(case: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(case), *args], catch_exceptions=False)
    return result.exit_code, result.output


def main(case: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Through the real entry point (exit codes and one-line errors come from there)."""
    return subprocess.run(
        [sys.executable, "-c", "from ir_console.cli import main; main()", "--db", str(case), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_prints_a_summary_and_writes_exchanges(case_path: Path) -> None:
    code, out = run(
        case_path, "ingest", str(FIXTURES / "http_api.pcap"), str(FIXTURES / "tls_sni.pcap")
    )
    assert code == 0
    assert "http_api.pcap (pcap): " in out and " 39 exchanges" in out
    assert "tls_sni.pcap (pcap): " in out and " 2 exchanges" in out
    with Store.open(case_path, create=False) as store:
        rows = store.conn.execute(
            "SELECT method, path, status, evidence, input_id FROM exchanges WHERE method = 'HEAD'"
        ).fetchall()
        assert rows and all(r[3].startswith("frames ") and r[4] for r in rows)
        assert store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 41


def test_reingesting_adds_nothing(case_path: Path) -> None:
    run(case_path, "ingest", str(FIXTURES / "crafted_gap.pcap"))
    code, out = run(case_path, "ingest", str(FIXTURES / "crafted_gap.pcap"))
    assert code == 0 and "already ingested" in out
    with Store.open(case_path, create=False) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 3


def test_json_summary_and_hosts_from_sni(case_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(case_path),
            "ingest",
            "--json",
            str(FIXTURES / "tls_sni.pcap"),
            str(FIXTURES / "crafted_out_of_order.pcap"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    summary = json.loads(result.stdout)  # progress events go to stderr
    assert [s["exchanges"] for s in summary] == [2, 3]
    assert summary[1]["counts"]["retransmitted segments"] >= 1
    code, out = run(case_path, "hosts", "--json")
    assert code == 0
    hosts = {h["host"]: h for h in json.loads(out)}
    assert hosts["api.internal.test"]["tls"] is True
    assert hosts["api.internal.test"]["requests"] == 0  # known only from the ClientHello
    assert hosts["api.crafted.test"]["requests"] == 3


@pytest.mark.integration
def test_not_a_capture_exits_2_with_one_line(case_path: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "report.txt"
    bogus.write_text("hello\n")
    proc = main(case_path, "ingest", str(bogus))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "report.txt" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = main(case_path, "ingest", "--format", "pcap", str(bogus))
    assert proc.returncode == 2 and "not a pcap or pcapng" in proc.stderr
    with Store.open(case_path, create=False) as store:  # no half-registered input left behind
        assert store.conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0] == 0


@pytest.mark.integration
def test_truncated_capture_exits_0_and_warns_naming_the_frame(
    case_path: Path, tmp_path: Path
) -> None:
    data = (FIXTURES / "http_api.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) // 2 + 7])
    proc = main(case_path, "ingest", str(cut))
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1: truncated capture" in proc.stdout
    assert "warning: " in proc.stderr and "frame " in proc.stderr
    assert "every earlier frame was kept" in proc.stderr


@pytest.mark.integration
def test_progress_is_json_lines_with_json_and_nothing_on_a_pipe(tmp_path: Path) -> None:
    log = FIXTURES.parent / "zeek" / "http.log"
    with_json = main(tmp_path / "a.db", "ingest", "--json", str(log))
    assert with_json.returncode == 0, with_json.stderr
    events = [json.loads(x) for x in with_json.stderr.splitlines() if x.startswith("{")]
    assert events and all(e["event"] == "progress" for e in events)
    read = [e for e in events if "total" in e]  # the bytes read, then the analysis's steps
    assert read[-1]["total"] == log.stat().st_size >= read[-1]["done"] > 0
    assert events[-1]["step"] == "analysis: findings (5 of 5)"
    json.loads(with_json.stdout)  # stdout is still one JSON document
    plain = main(tmp_path / "b.db", "ingest", str(log))
    assert plain.returncode == 0 and "progress" not in plain.stderr


def test_ingest_collects_less_and_not_at_exit(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command reads and analyses with the youngest generation collected less often (what
    it builds mostly lives on), gives the collector's thresholds back after, and asks for no
    collection at its process's exit (``discovery.collector``)."""
    import gc

    from discovery import collector
    from discovery.analyse import recompute as analysis

    asked: list[bool] = []
    monkeypatch.setattr(collector, "no_collection_at_exit", lambda: asked.append(True))
    seen: list[tuple[int, int, int]] = []
    real = analysis.recompute

    def recompute(*args: object, **kwargs: object) -> None:
        seen.append(gc.get_threshold())
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis, "recompute", recompute)
    before = gc.get_threshold()
    code, _out = run(case_path, "ingest", str(FIXTURES / "http_api.pcap"))
    assert code == 0
    assert asked == [True]
    assert seen and seen[0][0] == collector.YOUNG_GC
    assert gc.get_threshold() == before
