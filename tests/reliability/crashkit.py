"""Kill a real ``ir-console`` subprocess with SIGKILL at a chosen point of its work, and read back
what a case holds (counts per table, findings per rule) to compare with an uninterrupted run."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "ir_console" / "demo"
CAPTURES = (DEMO / "demo.pcap", ROOT / "tests" / "fixtures" / "pcap" / "http_api.pcap")
SPECS = (DEMO / "acme-api.openapi.yaml", DEMO / "partner-api.openapi.yaml")
REGISTER = DEMO / "register.yaml"
TABLES = (
    "inputs",
    "exchanges",
    "exchange_credentials",
    "endpoints",
    "credentials",
    "identities",
    "sightings",
    "specs",
    "spec_operations",
)


def cli(case: Path, *args: str | Path) -> list[str]:
    return [sys.executable, "-m", "ir_console", "--db", str(case), *map(str, args)]


def ingest_argv(case: Path, with_specs: bool = False) -> list[str]:
    """Two captures (with ``with_specs``, the specs first), then the analysis."""
    specs: list[str | Path] = []
    for spec in SPECS if with_specs else ():
        specs += ["--spec", spec]
    return cli(case, "ingest", *CAPTURES, *specs)


def prepared_case(folder: Path) -> Path:
    """A case with the demo specs and register imported (no traffic yet), to copy per run."""
    case = folder / "prepared.db"
    for spec in SPECS:
        run_ok(cli(case, "spec", "import", spec))
    run_ok(cli(case, "inventory", "import", REGISTER))
    return case


def copy_case(source: Path, target: Path) -> Path:
    """Copy a closed case (its file, WAL if any, and key file) to ``target``."""
    remove_case(target)
    for suffix in ("", "-wal", ".key"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


def run_ok(argv: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def probe(case: Path, sql: str) -> Any:
    """One value read from the case without creating it, or None while it is not there yet."""
    if not case.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{case}?mode=ro", uri=True, timeout=0.05)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:  # not created yet, schema not written yet, or busy
        return None


def _analysing(case: Path) -> bool:
    """Both captures are fully written: what runs now is the analysis."""
    done = probe(case, "SELECT COUNT(*) FROM inputs WHERE state = 'complete'")
    return done is not None and done >= len(CAPTURES)


# trigger -> predicate on the case: the kill clock starts when it first holds
TRIGGERS: dict[str, Callable[[Path], bool]] = {
    "start": lambda case: True,
    "spec": lambda case: bool(probe(case, "SELECT COUNT(*) FROM specs")),
    "ingesting": lambda case: bool(probe(case, "SELECT COUNT(*) FROM inputs")),
    "written": lambda case: bool(probe(case, "SELECT COUNT(*) FROM exchanges")),
    "analysing": _analysing,
}


@dataclass(frozen=True)
class Kill:
    """Where a kill landed: its trigger, the delay after it, and whether the process died."""

    trigger: str
    delay: float
    killed: bool
    in_analysis: bool


def run_and_kill(
    argv: list[str],
    case: Path,
    trigger: str | Callable[[Path], bool],
    delay: float,
    timeout: float = 60.0,
) -> Kill:
    """Start ``argv`` in its own process group; SIGKILL the group ``delay`` s after ``trigger``
    (a name in ``TRIGGERS`` or a predicate on the case) first holds."""
    check = TRIGGERS[trigger] if isinstance(trigger, str) else trigger
    name = trigger if isinstance(trigger, str) else getattr(trigger, "__name__", "custom")
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    started = None
    deadline = time.monotonic() + timeout
    killed = False
    try:
        while proc.poll() is None:
            now = time.monotonic()
            assert now < deadline, f"{argv} did not finish in {timeout} s"
            if started is None and check(case):
                started = now
            if started is not None and now - started >= delay:
                os.killpg(proc.pid, signal.SIGKILL)  # the reader's child process too
                killed = True
                break
            time.sleep(0.001)
    finally:
        proc.wait(timeout=30)
        if proc.poll() is None:  # pragma: no cover - never expected
            os.killpg(proc.pid, signal.SIGKILL)
    killed = killed and proc.returncode == -signal.SIGKILL
    return Kill(name, delay, killed, killed and _analysing(case))


def integrity(case: Path) -> str:
    """``PRAGMA integrity_check`` through the store (so the case also opens and migrates)."""
    from discovery.case.store import Store

    with Store.open(case, create=False) as store:
        return str(store.conn.execute("PRAGMA integrity_check").fetchone()[0])


def counts(case: Path) -> dict[str, Any]:
    """Rows per table, endpoints per status, findings per rule, and the pending mark."""
    conn = sqlite3.connect(case)
    try:
        out: dict[str, Any] = {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES
        }
        out["endpoints by status"] = dict(
            conn.execute("SELECT status, COUNT(*) FROM endpoints GROUP BY status").fetchall()
        )
        out["findings by rule"] = dict(
            conn.execute("SELECT rule, COUNT(*) FROM findings GROUP BY rule").fetchall()
        )
        out["credential requests"] = conn.execute(
            "SELECT COALESCE(SUM(requests), 0) FROM credentials"
        ).fetchone()[0]
        out["analysis pending"] = conn.execute(
            "SELECT COUNT(*) FROM meta WHERE key = 'analysis_pending'"
        ).fetchone()[0]
        return out
    finally:
        conn.close()


def remove_case(case: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(f"{case}{suffix}").unlink(missing_ok=True)
