"""Malformed inputs (each one the attacker's or the broken tool's): the ingest ends with a one-line
error naming the file (exit 2) and leaves no input behind, or keeps what it can and counts what
it skipped (exit 0); never a traceback, never an input stuck ``ingesting``, and every read command
works afterwards. A case an older version filled with an impossible time (``ts`` 1e300) is read
without failing."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from mitmproxy.io import tnetstring

from tests.paths import FIXTURES
from tests.reliability.clirun import Outcome, run_main

DEEP = 50_000
ZEEK_TSV = (FIXTURES / "zeek" / "http.log").read_text()


def har(entry_patch: Callable[[dict], None] | None = None, raw: str | None = None) -> str:
    """A one-entry HAR, patched."""
    entry: dict = {
        "startedDateTime": "2026-11-20T10:00:00.000Z",
        "request": {"method": "GET", "url": "https://api.example.com/v1/users/1", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"size": 2, "text": "{}"}},
    }
    if entry_patch is not None:
        entry_patch(entry)
    text = json.dumps({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": [entry]}})
    return text if raw is None else text.replace('"__RAW__"', raw)


def zeek_json(**fields: object) -> str:
    record = {
        "ts": 1795172400.5,
        "uid": "CJs1",
        "id.orig_h": "10.2.0.1",
        "id.orig_p": 40000,
        "id.resp_h": "10.9.1.1",
        "id.resp_p": 80,
        "method": "GET",
        "host": "inventory.internal.example",
        "uri": "/v2/items/1",
        "status_code": 200,
    }
    record.update(fields)
    good = dict(record, ts=1795172401.5, uid="CJs2", uri="/v2/items/2")
    good.update({"id.orig_p": 40001, "id.resp_p": 80, "status_code": 200})
    return json.dumps(record, allow_nan=True) + "\n" + json.dumps(good) + "\n"


def zeek_tsv(field: str, value: str) -> str:
    """The fixture's TSV log with one field of its first record replaced."""
    lines = ZEEK_TSV.splitlines()
    names = next(ln for ln in lines if ln.startswith("#fields")).split("\t")[1:]
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
    values = lines[first].split("\t")
    values[names.index(field)] = value
    lines[first] = "\t".join(values)
    return "\n".join(lines) + "\n"


def nested_flow(levels: int) -> bytes:
    """A flow whose one value is a list nested ``levels`` deep (built as bytes: mitmproxy's own
    writer recurses)."""
    deep = b"0:]"
    for _ in range(levels - 1):
        deep = str(len(deep)).encode() + b":" + deep + b"]"
    items = b"".join(tnetstring.dumps(v) for v in ("version", 20, "type", "http", "x")) + deep
    return str(len(items)).encode() + b":" + items + b"}"


# name -> (file name, content, expected exit code, text expected in the output)
CASES: dict[str, tuple[str, str | bytes, int, str]] = {
    "har status 10**30": (
        "x.har",
        har(lambda e: e["response"].update(status=10**30)),
        0,
        "exchanges",
    ),
    "har status of 40 digits": (
        "x.har",
        har(raw="1" * 40, entry_patch=lambda e: e["response"].update(status="__RAW__")),
        0,
        "exchanges",
    ),
    "har port of 40 digits": (
        "x.har",
        har(lambda e: e["request"].update(url=f"https://api.example.com:{'9' * 40}/x")),
        0,
        "skipped 1: bad_entry",
    ),
    "har nested 50,000 deep": (
        "x.har",
        har(raw="[" * DEEP + "]" * DEEP, entry_patch=lambda e: e.update(_deep="__RAW__")),
        2,
        "nested deeper",
    ),
    "har integer of 5,000 digits": (
        "x.har",
        har(raw="7" * 5000, entry_patch=lambda e: e["response"].update(bodySize="__RAW__")),
        2,
        "not usable JSON",
    ),
    "har NaN time": (
        "x.har",
        har(lambda e: e.update(startedDateTime="NaN")),
        0,
        "skipped 1: bad_entry",
    ),
    "har time in year 1": (
        "x.har",
        har(lambda e: e.update(startedDateTime="0001-01-01T00:00:00-10:00")),
        0,
        "skipped 1: bad_entry",
    ),
    "zeek json nested 50,000 deep": (
        "http.json.log",
        zeek_json(uri="__RAW__").replace('"__RAW__"', "[" * DEEP + "]" * DEEP),
        0,
        "skipped 1: bad_zeek_line",
    ),
    "zeek json NaN ts": ("http.json.log", zeek_json(ts=float("nan")), 0, "bad_http_record"),
    "zeek json infinite ts": ("http.json.log", zeek_json(ts=float("inf")), 0, "bad_http_record"),
    "zeek json ts 1e300": ("http.json.log", zeek_json(ts=1e300), 0, "bad_http_record"),
    "zeek json status of 40 digits": (
        "http.json.log",
        zeek_json(status_code=int("4" * 40)),
        0,
        "exchanges",
    ),
    "zeek json port of 40 digits": (
        "http.json.log",
        zeek_json(**{"id.resp_p": int("8" * 40)}),
        0,
        "bad_http_record",
    ),
    "zeek tsv empty #separator": (
        "http.log",
        ZEEK_TSV.replace("#separator \\x09", "#separator "),
        2,
        "no usable field separator",
    ),
    "zeek tsv nan ts": ("http.log", zeek_tsv("ts", "nan"), 0, "bad_http_record"),
    "zeek tsv inf ts": ("http.log", zeek_tsv("ts", "inf"), 0, "bad_http_record"),
    "zeek tsv ts 1e300": ("http.log", zeek_tsv("ts", "1e300"), 0, "bad_http_record"),
    "zeek tsv status of 40 digits": ("http.log", zeek_tsv("status_code", "5" * 40), 0, "exchanges"),
    "zeek tsv port of 40 digits": (
        "http.log",
        zeek_tsv("id.orig_p", "6" * 40),
        0,
        "bad_http_record",
    ),
    "mitm length 99999999999": ("x.mitm", b"99999999999:xxx", 2, "declares 99999999999 bytes"),
    "mitm nested lists": ("x.mitm", nested_flow(DEEP), 2, "nested deeper"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_input_never_ends_in_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    file_name, content, code, text = CASES[name]
    path = tmp_path / file_name
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    case = tmp_path / "case.db"
    outcome = run_main(capsys, case, "ingest", path)
    assert outcome.code == code, outcome
    assert "Traceback" not in outcome.err
    if code == 2:
        assert outcome.err.count("\n") == 1 and str(path) in outcome.err, outcome.err
        assert text in outcome.err
    else:
        assert text in outcome.out, outcome
    conn = sqlite3.connect(case)
    try:  # never an input stuck "ingesting"; an unusable one leaves nothing
        states = [r[0] for r in conn.execute("SELECT state FROM inputs")]
        bad = conn.execute(
            "SELECT COUNT(*) FROM exchanges WHERE status NOT BETWEEN 100 AND 999 "
            "OR client_port NOT BETWEEN 0 AND 65535 OR server_port NOT BETWEEN 0 AND 65535 "
            "OR ts NOT BETWEEN 0 AND 253402300799"
        ).fetchone()[0]
    finally:
        conn.close()
    assert states == ([] if code == 2 else ["complete"])
    assert bad == 0
    for command in (["hosts", "--json"], ["endpoints", "--json"], ["report"]):
        assert run_main(capsys, case, *command).code == 0, command


def test_a_case_holding_an_impossible_time_is_still_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """What an older version let in (a Zeek ``ts`` of 1e300) no longer breaks the read side."""
    case = tmp_path / "case.db"
    log = tmp_path / "http.json.log"
    log.write_text(zeek_json())
    assert run_main(capsys, case, "ingest", log).code == 0
    conn = sqlite3.connect(case)
    conn.execute("UPDATE exchanges SET ts = 1e300 WHERE id = 1")
    conn.execute("UPDATE exchanges SET ts = -1e300 WHERE id = 2")
    conn.commit()
    conn.close()
    assert run_main(capsys, case, "ingest", FIXTURES / "zeek" / "http.log").code == 0  # analyses
    for command in (
        ["hosts", "--json"],
        ["endpoints", "--json"],
        ["credentials", "--json"],
        ["findings", "--json"],
        ["report"],
        ["report", "--format", "json"],
        ["openapi", "export", "--host", "inventory.internal.example"],
    ):
        outcome: Outcome = run_main(capsys, case, *command)
        assert outcome.code == 0 and "Traceback" not in outcome.err, (command, outcome)


@pytest.mark.timeout(30)  # before the check, reading a FIFO with no writer blocked for ever
def test_a_fifo_is_refused_with_one_line_and_never_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "stream.pcap"
    os.mkfifo(fifo)
    case = tmp_path / "case.db"
    outcome = run_main(capsys, case, "ingest", fifo)
    assert outcome.code == 2, outcome
    assert outcome.err.count("\n") == 1 and str(fifo) in outcome.err
    assert "FIFO, not a regular file" in outcome.err
    assert "Traceback" not in outcome.err
    assert run_main(capsys, case, "hosts", "--json").code == 0
