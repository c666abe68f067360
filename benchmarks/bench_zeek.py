"""Benchmark: Zeek ``http.log`` ingest at sensor volume (TSV and JSON, plain and gzip).

    .venv/bin/python benchmarks/bench_zeek.py                  # 1,000,000 records per variant
    .venv/bin/python benchmarks/bench_zeek.py --records 200000 # fewer
    .venv/bin/python benchmarks/bench_zeek.py --variants tsv,tsv.gz
    .venv/bin/python benchmarks/bench_zeek.py --no-memory      # skip the 1/10-size memory run
    .venv/bin/python benchmarks/bench_zeek.py --floor --records 200000  # SQLite's own floor
    .venv/bin/python benchmarks/bench_zeek.py --in-process   # also read in one process: ratio
    .venv/bin/python benchmarks/bench_zeek.py --children     # children whatever the load

The log is synthesised as a Zeek cluster writes it: the ``#fields`` header of ``http.log``
(with our policy script's ``irc_cred_hmacs``), 2,000 clients, 40 hosts, REST paths with ids
(so templating has work), Basic usernames, and credential digests on most requests. Each
variant is read into a fresh case by a child process (``discovery.ingest.files.ingest_file``:
read, convert at the secret boundary, write in batches; what ``ir-console ingest`` does before
its analysis: a log of 4 MiB or more is read and converted by child processes sharing its
lines, ``discovery.ingest.zeek_parallel``); wall time, CPU time and peak RSS (``wait4``: the
process and the children it waited for) are measured per run, with the load average at its end.
``--in-process`` also reads each log in one process (no children) first, and prints the ratio
of the two wall times; ``--children`` has children read each log whatever the load (``ingest``
uses them only below a load of 1.5 per core); each line says which read it. ``--analysis``
then times the analysis the next ``ir-console ingest`` runs on that case. Memory is flat when a
tenth of the log peaks at about the same RSS as the whole log.

``--floor`` measures what SQLite alone costs for the same rows, in this process: the log read
and converted once, then its rows inserted into fresh cases in interleaved rounds, CPU time per
record: by ``Store.insert_prepared`` (what ingest does: credentials linked too), by a bare
``executemany`` of the exchange rows with the case's indexes in place, and with the indexes
dropped and built after the load; then the children's way (a scratch database a block at a
time, copied in by ``INSERT ... SELECT``, the indexes built after), and the ceiling SQLite alone
sets on this machine's cores: the records/s no reading or conversion could exceed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # a sibling script: not a package

from bench_ingest import precompile

IR_CONSOLE = Path(sys.executable).with_name("ir-console")

FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "trans_depth",
    "method",
    "host",
    "uri",
    "referrer",
    "version",
    "user_agent",
    "origin",
    "request_body_len",
    "response_body_len",
    "status_code",
    "status_msg",
    "info_code",
    "info_msg",
    "tags",
    "username",
    "password",
    "proxied",
    "orig_fuids",
    "orig_filenames",
    "orig_mime_types",
    "resp_fuids",
    "resp_filenames",
    "resp_mime_types",
    "irc_cred_hmacs",
]
TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "count",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "count",
    "count",
    "count",
    "string",
    "count",
    "string",
    "set[enum]",
    "string",
    "string",
    "set[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
]
_METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
_STATUS = (("200", "OK"), ("200", "OK"), ("201", "Created"), ("404", "Not Found"))
_PATHS = (
    "/api/v1/users/{id}",
    "/api/v1/users/{id}/orders",
    "/api/v2/items/ABC-{id}",
    "/v1/reports/{hex}.json",
    "/healthz",
    "/api/v1/search?q=item{id}&limit=20",
)


def _records(count: int, seed: int = 7) -> Iterator[dict[str, object]]:
    """``count`` http.log records as dicts (field name -> value; None = unset), made as they
    are written (the benchmark's own memory stays small: its children's peak is theirs)."""
    rng = random.Random(seed)
    digests = [hashlib.sha256(f"cred-{i}".encode()).hexdigest() for i in range(300)]
    hosts = [f"svc{i}.internal.example" for i in range(40)]
    agents = [f"client-{i}/1.{i % 7}" for i in range(60)]
    t0 = 1795168800.0
    for n in range(count):
        ident = rng.randrange(1, 100_000)
        method = rng.choice(_METHODS)
        status, msg = rng.choice(_STATUS)
        host = rng.choice(hosts)
        kind = rng.random()
        hmacs: list[str] | None = None
        user = None
        if kind < 0.6:
            hmacs = [f"authorization:bearer:{rng.choice(digests)}"]
        elif kind < 0.8:
            hmacs = [f"x-api-key::{rng.choice(digests)}"]
        elif kind < 0.85:
            user = f"svc-user{ident % 50}"
        yield (
            {
                "ts": t0 + n * 0.01,
                "uid": f"C{n:017x}",
                "id.orig_h": f"10.{ident % 8}.{ident % 250}.{ident % 200 + 1}",
                "id.orig_p": 30000 + n % 30000,
                "id.resp_h": f"10.9.0.{hosts.index(host) + 1}",
                "id.resp_p": 80,
                "trans_depth": 1 + n % 3,
                "method": method,
                "host": host,
                "uri": rng.choice(_PATHS).format(id=ident, hex=f"{ident:08x}"),
                "referrer": None,
                "version": "1.1",
                "user_agent": rng.choice(agents),
                "origin": None,
                "request_body_len": 0 if method in ("GET", "DELETE") else 40 + ident % 400,
                "response_body_len": ident % 5000,
                "status_code": int(status),
                "status_msg": msg,
                "info_code": None,
                "info_msg": None,
                "tags": [],
                "username": user,
                "password": None,
                "proxied": None,
                "orig_fuids": None,
                "orig_filenames": None,
                "orig_mime_types": ["application/json"] if method in ("POST", "PUT") else None,
                "resp_fuids": None,
                "resp_filenames": None,
                "resp_mime_types": ["application/json"],
                "irc_cred_hmacs": hmacs,
            }
        )


def _tsv_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(value) if value else "(empty)"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def write_tsv(path: Path, records: Iterable[dict[str, object]]) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as out:  # type: ignore[operator]
        out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n")
        out.write("#unset_field\t-\n#path\thttp\n#open\t2026-11-20-10-00-00\n")
        out.write("#fields\t" + "\t".join(FIELDS) + "\n#types\t" + "\t".join(TYPES) + "\n")
        for record in records:
            out.write("\t".join(_tsv_value(record[f]) for f in FIELDS) + "\n")
        out.write("#close\t2026-11-21-10-00-00\n")


def write_json(path: Path, records: Iterable[dict[str, object]]) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as out:  # type: ignore[operator]
        for record in records:
            kept = {k: v for k, v in record.items() if v is not None}
            out.write(json.dumps(kept, separators=(",", ":")) + "\n")


def write(path: Path, records: Iterable[dict[str, object]]) -> None:
    (write_json if ".json" in path.name else write_tsv)(path, records)


def _run(args: list[str]) -> tuple[float, int, float, str]:
    """Run a command as a child: wall seconds, peak RSS in MiB, CPU seconds, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode})")
    # Linux counts in ``usage`` the children the process waited for (the readers): their CPU
    # is added and the peak is the largest of them and the process
    return wall, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime, out.decode()


_CHILD = """
import json, sys
from pathlib import Path
from discovery import compiled
from discovery.case.store import Store
from discovery.ingest import parallel, zeek_parallel
from discovery.ingest.files import ingest_file
mode = sys.argv[3]
if mode == "in-process":
    parallel.MIN_SIZE = 1 << 62  # no child processes
elif mode == "children":
    zeek_parallel.MAX_LOAD_PER_CORE = float("inf")  # children whatever the load
shared = []
real = zeek_parallel.SharedRead
def counted(*args, **kwargs):
    shared.append(1)
    return real(*args, **kwargs)
zeek_parallel.SharedRead = counted
with Store.open(Path(sys.argv[1])) as store:
    result = ingest_file(store, Path(sys.argv[2]), "zeek")
print(json.dumps({"exchanges": result.stats.exchanges, "compiled": compiled.in_use(),
                  "children": bool(shared)}))
"""


def _ingest(case: Path, log: Path, mode: str = "auto") -> tuple[float, int, float, int, bool, bool]:
    """Wall seconds, peak MiB and CPU seconds of reading the log into a case (no analysis: see
    --analysis), the exchanges written, whether the compiled build ran and whether children
    read the log (``mode``: "auto" as ``ingest`` decides, "children" whatever the load,
    "in-process")."""
    args = [sys.executable, "-c", _CHILD, str(case), str(log), mode]
    wall, rss, cpu, out = _run(args)
    done = json.loads(out)
    return wall, rss, cpu, int(done["exchanges"]), bool(done["compiled"]), bool(done["children"])


def floor(log: Path, work: Path, rounds: int = 3) -> None:
    """CPU microseconds per record of inserting the log's rows (see the module docstring)."""
    from discovery.case import bulk
    from discovery.case import store as store_module
    from discovery.case.store import Store, exchange_fields
    from discovery.redact.convert import to_exchanges
    from discovery.sources import zeek
    from discovery.stats import IngestStats

    with Store.open(work / "convert.db") as store:
        exchanges = [
            ex
            for obs in zeek.read(log, IngestStats())
            for ex in to_exchanges(obs, store.fingerprint)
        ]
    prepared = [(exchange_fields(ex), ex.ts, ex.credentials) for ex in exchanges]
    del exchanges
    rows = [(n + 1, None, *fields) for n, (fields, _, _) in enumerate(prepared)]
    batch = 5000
    insert = store_module._INSERT_EXCHANGE_WITH_ID

    def by_store(store: Store) -> None:
        for i in range(0, len(prepared), batch):
            with store.transaction():
                store.insert_prepared(prepared[i : i + batch], None)

    def bare(store: Store, drop: bool = False) -> None:
        conn = store.conn
        conn.execute(f"PRAGMA cache_size = -{store_module.BULK_CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {store_module.BULK_WAL_AUTOCHECKPOINT}")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'exchanges' "
            "AND sql IS NOT NULL AND sql NOT LIKE '% WHERE %'"
        ).fetchall()
        if drop:
            for name, _ in indexes:
                conn.execute(f"DROP INDEX {name}")
        for i in range(0, len(rows), batch):
            with store.transaction():
                conn.executemany(insert, rows[i : i + batch])
        if drop:
            with store.transaction():
                for _, sql in indexes:
                    conn.execute(sql)

    phases: dict[str, list[float]] = {"insert": [], "copy": [], "index": []}

    def by_children(store: Store) -> None:
        """SQLite's part of the children's way (``zeek_parallel``): the rows inserted into a
        scratch database a block at a time (the usual values written in the statement), then
        copied into the case by ``INSERT ... SELECT`` in write batches, the indexes built
        after; no credential links."""
        conn = store.conn
        table = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'exchanges'"
        ).fetchone()[0]
        scratch_path = work / "scratch.db"
        scratch = sqlite3.connect(scratch_path, isolation_level=None)
        scratch.execute("PRAGMA journal_mode = WAL")
        scratch.execute("PRAGMA synchronous = OFF")
        scratch.execute(table)
        fields = [row[0] for row in prepared]
        start = time.process_time()
        for i in range(0, len(fields), zeek.BLOCK_LINES):
            scratch.execute("BEGIN IMMEDIATE")
            store_module.insert_rows(scratch, fields[i : i + zeek.BLOCK_LINES], None)
            scratch.execute("COMMIT")
        phases["insert"].append(time.process_time() - start)
        scratch.close()
        with store.transaction():  # the indexes dropped as an ingest's bulk load drops them
            bulk.defer_indexes(store)
        conn.execute(f"PRAGMA cache_size = -{store_module.DEFERRED_CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {store_module.BULK_WAL_AUTOCHECKPOINT}")
        conn.execute(
            "ATTACH DATABASE ? AS scratch", (scratch_path.resolve().as_uri() + "?mode=ro",)
        )
        copy = store_module._copy_exchanges("scratch", None)
        start = time.process_time()
        for i in range(0, len(fields), batch):
            with store.transaction():
                conn.execute(copy, (i + 1, min(i + batch, len(fields))))
        phases["copy"].append(time.process_time() - start)
        conn.execute("DETACH DATABASE scratch")
        start = time.process_time()
        bulk.restore_indexes(store)  # and built again as it builds them
        phases["index"].append(time.process_time() - start)
        for leftover in work.glob("scratch.db*"):
            leftover.unlink()

    ways = {
        "Store.insert_prepared": by_store,
        "bare executemany, indexes in place": bare,
        "bare executemany, indexes built after": lambda store: bare(store, True),
        "the children's way (no credential links)": by_children,
    }
    spent: dict[str, list[float]] = {name: [] for name in ways}
    for n in range(rounds):
        for name, way in ways.items():
            case = work / f"floor-{n}-{len(spent[name])}.db"
            with Store.open(case) as store:
                start = time.process_time()
                way(store)
                spent[name].append(time.process_time() - start)
            for leftover in work.glob(case.name + "*"):
                leftover.unlink()
    for name, times in spent.items():
        best = min(times)
        print(
            f"{name:40} {best / len(rows) * 1e6:6.1f} us CPU per record "
            f"({len(rows) / best:,.0f} records per CPU second; best of {rounds})"
        )
    # SQLite's own ceiling on this machine, the children's way: the children's inserts and the
    # copy share the cores while the log is read (the copy in the one writing process), then
    # the index build runs in that process alone
    us = {name: min(times) / len(rows) * 1e6 for name, times in phases.items()}
    cores = os.cpu_count() or 1
    load_phase = max((us["insert"] + us["copy"]) / cores, us["copy"])
    ceiling = 1e6 / (load_phase + us["index"])
    print(
        f"  of which: children's inserts {us['insert']:.1f} us, the copy {us['copy']:.1f} us, "
        f"the index build {us['index']:.1f} us (one process, after the load)\n"
        f"SQLite alone on {cores} cores, the children's way, with no reading, conversion or "
        f"credential links at all: at most {ceiling:,.0f} records/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--variants", default="tsv,tsv.gz,json,json.gz")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1/10-size run")
    parser.add_argument("--analysis", action="store_true", help="also time the analysis")
    parser.add_argument("--floor", action="store_true", help="SQLite's floor for these rows")
    parser.add_argument(
        "--in-process", action="store_true", help="also read each log in one process: ratio"
    )
    parser.add_argument(
        "--children",
        action="store_true",
        help="children read each log whatever the load (ingest uses them below 1.5 per core)",
    )
    opts = parser.parse_args()
    precompile()  # bytecode written once, as an installed copy has it
    if opts.floor:
        with tempfile.TemporaryDirectory(prefix="bench-zeek-") as tmp:
            log = Path(tmp) / "http.log"
            write(log, _records(opts.records))
            floor(log, Path(tmp))
        return
    variants = opts.variants.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-zeek-") as tmp:
        work = Path(tmp)
        rows = []
        for variant in variants:
            gz = ".gz" if variant.endswith(".gz") else ""
            log = work / ("http." + variant.removesuffix(".gz") + ".log" + gz)
            small = work / ("small." + log.name)
            write(log, _records(opts.records))
            if not opts.no_memory:
                write(small, _records(max(1, opts.records // 10)))
            if opts.in_process:  # first, so the page cache favours neither
                one = _ingest(work / f"one-{variant}.db", log, "in-process")
            mode = "children" if opts.children else "auto"
            wall, rss, cpu, written, native, children = _ingest(work / f"{variant}.db", log, mode)
            small_rss = None
            if not opts.no_memory:
                small_rss = _ingest(work / f"small-{variant}.db", small, mode)[1]
            line = (
                f"{variant:8} {written:>10,} exchanges  {wall:7.2f} s  "
                f"{written / wall:>9,.0f} records/s, CPU {cpu:.1f} s "
                f"({written / cpu:,.0f} records per CPU second), "
                f"{'with children' if children else 'in one process'}; peak {rss} MiB"
            )
            if small_rss is not None:
                line += f" (a tenth of the log: {small_rss} MiB)"
            line += f"; load {os.getloadavg()[0]:.1f}"
            if opts.in_process:
                line += (
                    f"\n{'':8} in one process: {one[0]:.2f} s, {one[3] / one[0]:,.0f} records/s, "
                    f"CPU {one[2]:.1f} s, peak {one[1]} MiB; children/one process wall ratio "
                    f"{wall / one[0]:.2f}"
                )
            if opts.analysis:  # the analysis is pending: the next ingest runs it
                case = work / f"{variant}.db"
                a_wall, a_rss, _, _ = _run([str(IR_CONSOLE), "--db", str(case), "ingest", str(log)])
                line += f"; then the analysis: {a_wall:.1f} s, peak {a_rss} MiB"
            print(line + ("" if native else "  [pure Python build]"), flush=True)
            rows.append((variant, written, wall))
            for path in (log, small):
                path.unlink(missing_ok=True)
        if len(rows) > 1:
            total = sum(r[1] for r in rows) / sum(r[2] for r in rows)
            print(f"all variants: {total:,.0f} records/s (target >= 100,000/s)")


if __name__ == "__main__":
    main()
