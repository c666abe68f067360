"""Growing inputs: a Zeek log appended three times (each time ending inside a line, as a log being
written does), a capture being written (cut inside a record), a mitmproxy flow file ``mitmdump
-w`` keeps appending to, each ingested after every append: every record enters the case once,
with the line, frame or flow numbers of the whole file. A rotated log's new file is a new input;
the old file, grown before it was rotated, is read on from where it stopped."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.paths import FIXTURES
from tests.properties.captures import Stream, closing, data_frames, handshake, pcap_bytes
from tests.reliability.crashkit import cli, run_ok

pytestmark = pytest.mark.integration  # runs the CLI in processes

ZEEK_TSV = FIXTURES / "zeek" / "http.log"


def ingest(case: Path, path: Path) -> dict[str, Any]:
    proc = run_ok(cli(case, "ingest", "--json", path))
    (summary,) = json.loads(proc.stdout)
    return dict(summary)


def rows(case: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(case)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def grow(path: Path, data: bytes, cuts: list[int], case: Path) -> list[dict[str, Any]]:
    """Write ``data`` to ``path`` in pieces ending at ``cuts`` (then whole), ingesting after
    each; the ingest summaries."""
    summaries = []
    for end in [*cuts, len(data)]:
        path.write_bytes(data[:end])
        summaries.append(ingest(case, path))
    return summaries


def zeek_tsv(lines: int) -> bytes:
    """A Zeek http.log with ``lines`` records (the fixture's first record, renumbered)."""
    text = ZEEK_TSV.read_text()
    header = [ln for ln in text.splitlines() if ln.startswith("#") and not ln.startswith("#close")]
    first = next(ln for ln in text.splitlines() if not ln.startswith("#")).split("\t")
    body = []
    for i in range(lines):
        fields = list(first)
        fields[0] = f"{1795168800 + i}.100000"
        fields[1] = f"Cgrow{i:05d}"
        fields[9] = f"/api/v1/users/{i}"
        body.append("\t".join(fields))
    return ("\n".join(header + body) + "\n").encode()


def zeek_json(lines: int) -> bytes:
    out = []
    for i in range(lines):
        record = {
            "ts": 1795172400.5 + i,
            "uid": f"Cjson{i:05d}",
            "id.orig_h": "10.2.0.1",
            "id.orig_p": 40000 + i,
            "id.resp_h": "10.9.1.1",
            "id.resp_p": 80,
            "method": "GET",
            "host": "inventory.internal.example",
            "uri": f"/v2/items/{i}",
            "status_code": 200,
        }
        out.append(json.dumps(record))
    return ("\n".join(out) + "\n").encode()


def cut_inside_lines(data: bytes, fractions: tuple[float, ...]) -> list[int]:
    """Offsets inside a line (never just after a newline), at about these fractions."""
    cuts = []
    for fraction in fractions:
        at = int(len(data) * fraction)
        while data[at - 1 : at] == b"\n":
            at += 1
        cuts.append(at)
    return cuts


@pytest.mark.parametrize("make", [zeek_tsv, zeek_json], ids=["tsv", "json"])
def test_a_zeek_log_appended_three_times_adds_each_record_once(
    tmp_path: Path, make: Callable[[int], bytes]
) -> None:
    case, log = tmp_path / "case.db", tmp_path / "current" / "http.log"
    log.parent.mkdir()
    data = make(40)
    summaries = grow(log, data, cut_inside_lines(data, (0.2, 0.5, 0.8)), case)
    assert sum(s["exchanges"] for s in summaries) == 40, summaries
    assert summaries[0]["continued_from"] is None
    assert all(s["continued_from"] for s in summaries[1:])  # read on, not again
    incomplete = "incomplete last line (read when the log grows)"
    assert all(s["counts"].get(incomplete) == 1 for s in summaries[:3])
    uids = rows(case, "SELECT evidence FROM exchanges ORDER BY ts")
    assert len(uids) == len({u for (u,) in uids}) == 40
    # the evidence names each record's line in the whole file
    lines = data.decode().splitlines()
    for (evidence,) in uids:
        uid = evidence.split()[1].split("#")[0]
        number = int(evidence.rsplit("line ", 1)[1].rstrip(")"))
        assert uid in lines[number - 1], evidence
    inputs = rows(case, "SELECT start_offset, continues, state FROM inputs ORDER BY id")
    assert [r[2] for r in inputs] == ["complete"] * 4
    assert [r[1] for r in inputs] == [None, 1, 2, 3]  # a chain of reads of one growing file
    assert ingest(case, log)["already_ingested"]  # and nothing more when it did not grow


def test_a_rotated_log_is_read_on_and_its_successor_is_new(tmp_path: Path) -> None:
    case, current = tmp_path / "case.db", tmp_path / "current.log"
    data = zeek_tsv(30)
    cut = cut_inside_lines(data, (0.5,))[0]
    current.write_bytes(data[:cut])
    first = ingest(case, current)
    # Zeek finishes the file and rotates it; a new current file starts
    rotated = tmp_path / "http.2026-11-20-11-00-00.log"
    current.rename(rotated)
    rotated.write_bytes(data + b"#close\t2026-11-20-11-00-00\n")
    fresh = zeek_tsv(35)[len(zeek_tsv(0)) :]  # other records ...
    current.write_bytes(zeek_tsv(0) + fresh.replace(b"Cgrow", b"Cnext"))  # ... in a new file
    second, third = ingest(case, rotated), ingest(case, current)
    assert second["continued_from"] and third["continued_from"] is None
    assert first["exchanges"] + second["exchanges"] == 30 and third["exchanges"] == 35
    assert rows(case, "SELECT COUNT(DISTINCT evidence), COUNT(*) FROM exchanges") == [(65, 65)]


def conversations(count: int) -> list[list[bytes]]:
    """``count`` connections, each a request, its response and both FINs, as frames."""
    out = []
    for i in range(count):
        stream = Stream(
            "grow", (b"\x0a\x00\x00\x05", b"\x0a\x00\x00\x01"), (40000 + i, 8080), (1000, 9000), ()
        )
        request = (
            f"GET /v1/items/{i} HTTP/1.1\r\nHost: api.test\r\n"
            f"Authorization: Bearer tok_grow_{i % 3}_{'k' * 24}\r\n\r\n"
        ).encode()
        response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        out.append(
            handshake(stream)
            + data_frames(stream, 0, 0, request)
            + data_frames(stream, 1, 0, response)
            + closing(stream, (len(request), len(response)))
        )
    return out


def test_a_capture_being_written_adds_each_exchange_once(tmp_path: Path) -> None:
    case, capture = tmp_path / "case.db", tmp_path / "live.pcap"
    convs = conversations(30)
    frames = [f for conv in convs for f in conv]
    data = pcap_bytes(frames)
    offsets = [24]  # where each record begins
    for frame in frames:
        offsets.append(offsets[-1] + 16 + len(frame))
    # cut just inside the first record of conversations 8, 17 and 25 (a record being written)
    cuts = [offsets[len(convs[0]) * n] + 10 for n in (8, 17, 25)]
    summaries = grow(capture, data, cuts, case)
    assert [s["exchanges"] for s in summaries] == [8, 9, 8, 5], summaries
    assert all(s["continued_from"] for s in summaries[1:])
    whole = tmp_path / "whole.db"
    ingest(whole, capture)
    sql = "SELECT path, evidence, status FROM exchanges ORDER BY path"
    assert rows(case, sql) == rows(whole, sql)  # the frame numbers of the whole file too
    assert rows(case, "SELECT SUM(requests) FROM credentials") == [(30,)]


def test_a_flow_file_mitmdump_appends_to_adds_each_flow_once(tmp_path: Path) -> None:
    import io

    from mitmproxy.io import FlowWriter
    from mitmproxy.test import tflow

    case, path = tmp_path / "case.db", tmp_path / "flows.mitm"
    chunks = []
    for i in range(12):
        flow = tflow.tflow(resp=True)
        flow.request.path = f"/v1/flows/{i}"
        flow.request.timestamp_start = 1_790_000_000.0 + i
        buffer = io.BytesIO()
        FlowWriter(buffer).add(flow)
        chunks.append(buffer.getvalue())
    data = b"".join(chunks)
    ends = [sum(len(c) for c in chunks[:n]) for n in (3, 7, 10)]
    summaries = grow(path, data, [end - 5 for end in ends], case)  # each time inside a flow
    assert [s["exchanges"] for s in summaries] == [2, 4, 3, 3], summaries
    assert rows(case, "SELECT COUNT(DISTINCT path), COUNT(*) FROM exchanges") == [(12, 12)]
