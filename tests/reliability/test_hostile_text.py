"""Invalid UTF-8 in the case (hostile traffic, a foreign writer): every reader decodes it with
U+FFFD instead of failing with "Could not decode to UTF-8", the analysis runs over it, and the
CLI's tables, JSON and report come out valid, with no raw control bytes."""

from __future__ import annotations

import json
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
