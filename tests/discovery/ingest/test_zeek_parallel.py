"""Children sharing a Zeek log's lines give what the in-process reader and converter give (rows
in the log's order, counters, warnings), plain and gzip, TSV and JSON."""

from __future__ import annotations

import gc
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from discovery.case.store import Store
from discovery.case.writer import ExchangeWriter
from discovery.errors import InputError
from discovery.ingest import files, packing, parallel, zeek_parallel
from discovery.sources import zeek
from discovery.sources.zeek import read, read_share
from discovery.stats import IngestStats

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\t"
    "uri\tversion\tuser_agent\tstatus_code\tstatus_msg\ttags\tusername\trequest_body_len\t"
    "response_body_len\tresp_mime_types\tirc_cred_hmacs\n"
)
RECORDS = 2 * zeek.BLOCK_LINES * 3 + 77  # blocks for three children and a part block


def _digest(n: int) -> str:
    return hashlib.sha256(f"cred-{n % 37}".encode()).hexdigest()


def _record(n: int) -> dict[str, object]:
    return {
        "ts": 1795168800.0 + n / 100,
        "uid": f"C{n:08x}",
        "id.orig_h": f"10.0.{n % 7}.{n % 200 + 1}",
        "id.orig_p": 30000 + n,
        "id.resp_h": "10.9.0.1",
        "id.resp_p": 80,
        "trans_depth": 1,
        "method": ("GET", "POST", "DELETE")[n % 3],
        "host": f"svc{n % 5}.example",
        "uri": f"/api/v1/users/{n * 7919 % 100000}" + ("/caf\\xc3\\xa9" if n % 97 == 0 else ""),
        "version": "1.1",
        "user_agent": f"client-{n % 9}/1.0",
        "status_code": (200, 201, 404)[n % 3],
        "status_msg": "OK",
        "tags": [],
        "username": f"svc-user{n % 11}" if n % 13 == 0 else None,
        "request_body_len": n % 300,
        "response_body_len": n % 5000,
        "resp_mime_types": ["application/json"],
        "irc_cred_hmacs": [f"authorization:bearer:{_digest(n)}"] if n % 4 else None,
    }


def _tsv_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(value) if value else "(empty)"
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def _write(path: Path, kind: str) -> None:
    """A log of ``RECORDS`` records, a line with the wrong field count or that is not JSON now
    and then, and a last line still being written (no newline)."""
    lines = []
    for n in range(RECORDS):
        record = _record(n)
        if kind == "tsv":
            lines.append("\t".join(_tsv_value(v) for v in record.values()))
        else:
            kept = {k: v for k, v in record.items() if v is not None}
            kept["uri"] = str(kept["uri"]).replace("\\xc3\\xa9", "\u00e9")
            lines.append(json.dumps(kept))
        if n % 401 == 5:
            lines.append("not\ta record" if kind == "tsv" else "{not json")
    text = (HEADER if kind == "tsv" else "") + "\n".join(lines) + "\n" + lines[0][:30]
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.mark.parametrize("shares", [1, 2, 3])
@pytest.mark.parametrize("name", ["http.log", "http.json.log.gz"])
def test_shares_partition_the_log(tmp_path: Path, name: str, shares: int) -> None:
    """Every record is converted by exactly one share, in whole blocks of lines in order, and
    the shares' counters add up to one reader's (the unfinished last line counted once)."""
    log = tmp_path / name
    _write(log, "json" if ".json" in name else "tsv")
    whole = IngestStats()
    expected = list(read(log, whole))
    parts: list[tuple[int, object]] = []
    counted = IngestStats()
    for index in range(shares):
        stats = IngestStats()
        got = list(read_share(log, stats, (index, shares)))
        assert got and all(block % shares == index for block, _ in got)
        assert [block for block, _ in got] == sorted(block for block, _ in got)
        parts.extend(got)
        counted.flows += stats.flows
        counted.skipped.update(stats.skipped)
        counted.counts.update(stats.counts)
        assert stats.consumed == whole.consumed  # every share reads the same bytes
    assert [obs for _, obs in sorted(parts, key=lambda p: p[0])] == expected
    assert len(expected) == RECORDS
    assert counted.flows == whole.flows
    assert counted.skipped == whole.skipped and whole.skipped["bad_zeek_line"] == RECORDS // 401 + 1
    assert counted.counts == whole.counts
    assert whole.counts["incomplete last line (read when the log grows)"] == 1


def test_a_share_is_one_of_the_children(tmp_path: Path) -> None:
    log = tmp_path / "http.log"
    _write(log, "tsv")
    with pytest.raises(ValueError, match="no share 2 of 2"):
        next(read_share(log, IngestStats(), (2, 2)))


_TABLES = ("exchanges", "exchange_credentials", "credentials", "identities")


def _contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """The tables rows and their credentials go to, each in its order."""
    return {
        table: store.conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        if table != "exchange_credentials"
        else store.conn.execute(f"SELECT * FROM {table}").fetchall()
        for table in _TABLES
    }


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".ir-console-zeek-"))


@pytest.mark.integration  # starts processes
@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("http.log", packing.SIGHTINGS_KEPT),
        ("http.json.log.gz", packing.SIGHTINGS_KEPT),
        ("http.log", 1),
    ],
)
def test_children_write_what_the_in_process_path_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, kept: int
) -> None:
    """Reader and converter children, each writing its rows and their credential links into
    a database of its own that the case copies them from, give the case the rows, ids,
    credential links, credentials and identities the in-process reader and ``to_exchanges``
    give, in the log's order (also when the in-process writer's batches end inside a child's
    block, and when the children send every sighting again each block: ``kept``), with the
    same counters and warnings; they report progress up to the end of the file, and leave no
    database behind."""
    monkeypatch.setattr(packing, "SIGHTINGS_KEPT", kept)
    log = tmp_path / name
    _write(log, "json" if ".json" in name else "tsv")
    here, there = IngestStats(), IngestStats()
    with Store.open(tmp_path / "one.db") as store:
        writer = ExchangeWriter(store, None, batch=100)
        writer.add_all(read(log, here))
        writer.flush()
        expected = _contents(store)
    (tmp_path / "children.db.key").write_bytes((tmp_path / "one.db.key").read_bytes())
    seen: list[int] = []
    with Store.open(tmp_path / "children.db") as store:
        writer = ExchangeWriter(store, None, batch=100)
        with zeek_parallel.SharedRead(store, log, there, seen.append) as shared:
            writer.add_copied(shared.blocks(), shared.sources)
            assert _leftovers(tmp_path)  # the children's databases, while they are read
        got = _contents(store)
        attached = [row[1] for row in store.conn.execute("PRAGMA database_list")]
    assert got == expected
    assert len(got["exchanges"]) == RECORDS
    assert len(got["exchange_credentials"]) > RECORDS // 2 and len(got["credentials"]) > 37
    assert there.as_dict() == here.as_dict()
    assert seen and seen[-1] == log.stat().st_size
    assert attached == ["main"] and _leftovers(tmp_path) == []


@pytest.mark.integration  # starts processes
def test_collector_thresholds_given_back(tmp_path: Path) -> None:
    """While the children's rows are merged and written the youngest generation is collected
    less often (as for a capture); after the read, after a refused log and after a read the
    writer abandoned, this process collects as it did before."""
    log = tmp_path / "http.log"
    _write(log, "tsv")
    bogus = tmp_path / "bogus.log"
    bogus.write_text("#separator \\x09\n" + "x\ty\n" * 10)
    before = gc.get_threshold()
    custom = (1234, 11, 12)
    gc.set_threshold(*custom)
    try:
        with Store.open(tmp_path / "case.db") as store:
            during = []
            with zeek_parallel.SharedRead(store, log, IngestStats()) as shared:
                for _ in shared.blocks():
                    during.append(gc.get_threshold())
            assert during and set(during) == {(parallel.YOUNG_GC, 11, 12)}
            assert gc.get_threshold() == custom
            with (
                pytest.raises(InputError),
                zeek_parallel.SharedRead(store, bogus, IngestStats()) as shared,
            ):
                list(shared.blocks())
            assert gc.get_threshold() == custom
            with zeek_parallel.SharedRead(store, log, IngestStats()) as shared:
                next(iter(shared.blocks()))
                assert gc.get_threshold() == (parallel.YOUNG_GC, 11, 12)
            assert gc.get_threshold() == custom  # abandoned: closed by the context's exit
    finally:
        gc.set_threshold(*before)


@pytest.mark.integration  # starts processes
def test_a_bad_log_is_refused_from_the_children(tmp_path: Path) -> None:
    log = tmp_path / "http.log"
    log.write_text("#separator \\x09\n" + "x\ty\n" * 10)
    with (
        Store.open(tmp_path / "case.db") as store,
        pytest.raises(InputError, match="before its #fields header"),
        zeek_parallel.SharedRead(store, log, IngestStats()) as shared,
    ):
        list(shared.blocks())
    assert _leftovers(tmp_path) == []


@pytest.mark.integration  # starts processes
def test_a_large_log_is_ingested_by_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ingest`` hands a log of ``parallel.MIN_SIZE`` or more to the children and writes what
    a case read in-process holds; a round reading a few lines on reads them in-process."""
    log = tmp_path / "http.log"
    _write(log, "tsv")
    monkeypatch.setattr(parallel, "MIN_SIZE", log.stat().st_size // 2)
    monkeypatch.setattr(zeek_parallel, "_load", lambda: 0.0)  # an idle machine of 2 cores
    monkeypatch.setattr(zeek_parallel.os, "cpu_count", lambda: 2)
    calls: list[Path] = []
    real = zeek_parallel.SharedRead

    def counted(store: Store, path: Path, *args: Any, **kwargs: Any) -> zeek_parallel.SharedRead:
        calls.append(path)
        return real(store, path, *args, **kwargs)

    monkeypatch.setattr(zeek_parallel, "SharedRead", counted)
    cases = {}
    for name in ("children.db", "one.db"):
        case = tmp_path / name
        if name == "one.db":
            monkeypatch.setattr(parallel, "MIN_SIZE", 1 << 40)
            (tmp_path / "one.db.key").write_bytes((tmp_path / "children.db.key").read_bytes())
        with Store.open(case) as store:
            result = files.ingest_file(store, log, "zeek")
            cases[name] = (_contents(store), result.stats.as_dict())
    assert calls == [log]
    assert cases["children.db"] == cases["one.db"]
    assert len(cases["one.db"][0]["exchanges"]) == RECORDS
    assert _leftovers(tmp_path) == []
    with log.open("a") as grown:  # the last line finished and a few more: read in-process
        grown.write(log.read_text().splitlines()[HEADER.count("\n")][30:] + "\n")
    monkeypatch.setattr(parallel, "MIN_SIZE", log.stat().st_size // 2)
    with Store.open(tmp_path / "children.db") as store:
        result = files.ingest_file(store, log, "zeek")
    assert result.continued_from > 0 and result.stats.exchanges == 1
    assert calls == [log]


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.0, True), (2, 2.5, True), (2, 3.0, False), (2, 8.0, False), (1, 0.0, False)],
)
def test_children_only_on_a_machine_that_is_not_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int, load: float, expected: bool
) -> None:
    """The children spend more CPU than one process: a log is shared among them only on a
    machine of several cores that is not busy, and only when what is left to read is large."""
    log = tmp_path / "http.log"
    _write(log, "tsv")
    monkeypatch.setattr(parallel, "MIN_SIZE", 1000)
    monkeypatch.setattr(zeek_parallel.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(zeek_parallel, "_load", lambda: load)
    assert zeek_parallel.worth_it(log, log.stat().st_size) is expected
    assert zeek_parallel.worth_it(log, 999) is False
