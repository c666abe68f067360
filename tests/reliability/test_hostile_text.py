"""Invalid UTF-8 in the case (hostile traffic, a foreign writer): every reader decodes it with
U+FFFD instead of failing with "Could not decode to UTF-8", the analysis runs over it, and the
CLI's tables, JSON and report come out valid, with no raw control bytes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ir_console.cli import cli
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "pcap"
# invalid UTF-8 around an ANSI escape, a NUL and a bidi override
BAD = "X'ff1b5b33316d6576696cfe00e280ae6b'"
BAD_TEXT = f"CAST({BAD} AS TEXT)"
CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0x9B)] + ["\u202e"]


def run(case: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(case), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def hostile_case(tmp_path: Path) -> Path:
    """A case analysed from a real capture, then given invalid UTF-8 in every table read."""
    case = tmp_path / "case.db"
    code, out = run(case, "ingest", str(FIXTURES / "http_api.pcap"))
    assert code == 0, out
    conn = sqlite3.connect(case)
    with conn:
        conn.execute(
            "INSERT INTO exchanges(source, evidence, ts, client_ip, host, method, path, raw_path, "
            "status, user_agent) SELECT source, evidence, ts + 1, client_ip, "
            f"{BAD_TEXT}, 'GET', '/v1/' || {BAD_TEXT}, '/v1/x', 200, {BAD_TEXT} "
            "FROM exchanges LIMIT 1"
        )
        conn.execute(
            f"UPDATE endpoints SET template = template || {BAD_TEXT} WHERE id = "
            "(SELECT MIN(id) FROM endpoints)"
        )
        conn.execute(f"UPDATE identities SET name = {BAD_TEXT}, owner = {BAD_TEXT}")
        conn.execute(f"UPDATE credentials SET redacted = {BAD_TEXT}")
        conn.execute(f"UPDATE findings SET title = {BAD_TEXT}")
    count = conn.execute(f"SELECT COUNT(*) FROM findings WHERE title = {BAD_TEXT}").fetchone()[0]
    conn.close()
    assert count > 0
    return case


def _assert_clean(text: str) -> None:
    assert not [c for c in CONTROL if c in text], repr(text[:200])
    assert "Traceback" not in text and "decode" not in text


@pytest.mark.parametrize("command", ["endpoints", "identities", "findings", "credentials", "hosts"])
def test_read_commands_survive_invalid_utf8(hostile_case: Path, command: str) -> None:
    code, table = run(hostile_case, command)
    assert code == 0, table
    _assert_clean(table)
    code, out = run(hostile_case, command, "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert rows
    _assert_clean(out)
    if command in ("identities", "findings", "credentials"):
        assert "\ufffd" in out  # replaced, not dropped silently: the row is there


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_report_survives_invalid_utf8(hostile_case: Path, fmt: str) -> None:
    code, out = run(hostile_case, "report", "--format", fmt)
    assert code == 0, out
    _assert_clean(out.replace("\n", " ") if fmt == "md" else out)
    if fmt == "json":
        json.loads(out)


def test_the_analysis_runs_over_invalid_utf8(hostile_case: Path) -> None:
    """Ingesting another capture re-analyses the whole case, hostile exchange included."""
    code, out = run(hostile_case, "ingest", str(FIXTURES / "tls_sni.pcap"))
    assert code == 0, out
    code, out = run(hostile_case, "endpoints", "--json")
    assert code == 0, out
    _assert_clean(out)
    hosts = {row["host"] for row in json.loads(out)}
    assert any("\ufffd" in host for host in hosts)  # the hostile exchange got its endpoint


def test_blobs_where_text_belongs_do_not_break_json(hostile_case: Path) -> None:
    """A foreign writer stored BLOBs in text columns: --json still prints valid, clean JSON."""
    conn = sqlite3.connect(hostile_case)
    with conn:
        conn.execute(f"UPDATE credentials SET redacted = {BAD}")
        conn.execute(f"UPDATE findings SET title = {BAD}")
    conn.close()
    for command in ("credentials", "findings"):
        code, out = run(hostile_case, command, "--json")
        assert code == 0, out
        rows = json.loads(out)
        assert rows and "\ufffd" in json.dumps(rows, ensure_ascii=False)
        _assert_clean(out)


def _analysis(case: Path) -> list[list[tuple[object, ...]]]:
    conn = sqlite3.connect(case)
    conn.text_factory = bytes  # the bytes as stored: U+FFFD in place of two values is a change
    tables = [
        conn.execute(query).fetchall()
        for query in (
            "SELECT * FROM endpoints ORDER BY id",
            "SELECT id, endpoint_id FROM exchanges ORDER BY id",
            "SELECT * FROM sightings ORDER BY 1, 2, 3",
            "SELECT id, rule, severity, title, subject_type, subject_id, evidence, first_seen, "
            "last_seen FROM findings ORDER BY id",
        )
    ]
    conn.close()
    return tables


@pytest.mark.integration  # the early child reads fast too
def test_the_analysis_reads_text_fast_and_leniently_where_it_must(
    hostile_case: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The analysis reads text through SQLite's fast path; invalid UTF-8 makes it read again
    with U+FFFD, and the case ends as it would with the lenient reading throughout."""
    from discovery.analyse import recompute
    from discovery.analyse.findings import early
    from discovery.case.store import Store

    monkeypatch.setattr(early, "MIN_EXCHANGES", 0)  # the child's rules read fast too
    lenient = hostile_case.with_name("lenient.db")
    for suffix in ("", ".key"):
        shutil.copyfile(f"{hostile_case}{suffix}", f"{lenient}{suffix}")
    with (
        caplog.at_level("INFO", logger="discovery.analyse.recompute"),
        Store.open(hostile_case, create=False) as store,
    ):
        recompute.recompute(store)
    assert "invalid UTF-8 in the case" in caplog.text
    fast = _analysis(hostile_case)
    monkeypatch.setattr(recompute, "read_fast", lambda store, run: run())
    with Store.open(lenient, create=False) as store:
        recompute.recompute(store)
    assert _analysis(lenient) == fast
    assert any("\ufffd".encode() in row[1] for row in fast[0])  # the hostile host, analysed


def test_read_fast_reads_with_str_and_again_leniently_on_invalid_utf8(tmp_path: Path) -> None:
    from discovery.analyse.recompute import read_fast
    from discovery.case.store import Store

    with Store.open(tmp_path / "case.db") as store:
        factories: list[object] = []

        def rows(query: str) -> list[tuple[object, ...]]:
            factories.append(store.conn.text_factory)
            return store.conn.execute(query).fetchall()

        assert read_fast(store, lambda: rows("SELECT 'ok'")) == [("ok",)]
        assert factories == [str]
        factories.clear()
        assert read_fast(store, lambda: rows(f"SELECT {BAD_TEXT}")) == [
            ("\ufffd\x1b[31mevil\ufffd\x00\u202ek",)
        ]
        assert factories[0] is str and factories[1] is not str  # the lenient decoder
        assert store.conn.text_factory is factories[1]  # given back
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            read_fast(store, lambda: rows("SELECT * FROM nowhere"))
