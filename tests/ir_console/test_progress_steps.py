"""Progress of long work counted in steps (validating a spec, the analysis after an ingest or
an import): a spinner with the step on a terminal (a real pty), JSON events with ``--json``,
nothing on a pipe."""

from __future__ import annotations

import json
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import FIXTURES

pytestmark = pytest.mark.integration

SPEC = FIXTURES / "specs" / "shop-3.0.yaml"
ZEEK = FIXTURES / "zeek" / "http.log"
REGISTER = Path(__file__).resolve().parents[2] / "ir_console" / "demo" / "register.yaml"


def command(case: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ir_console", "--db", str(case), *args]


def environment(tmp_path: Path) -> dict[str, str]:
    # a fresh validation cache: the spec is validated, not remembered from an earlier run
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "120"}


def run(case: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout and stderr on pipes: the result, its output as text."""
    return subprocess.run(
        command(case, *args), capture_output=True, text=True, env=env, timeout=120
    )


def at_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a real pseudo-terminal (stdout a pipe, as `cmd > out` at a shell):
    the exit code and what the terminal was sent."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, env=env
    )
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    assert proc.stdout is not None
    proc.stdout.read()
    code = proc.wait(60)
    os.close(leader)
    return code, shown.decode("utf-8", "replace")


def test_spec_import_shows_its_steps_at_a_terminal(tmp_path: Path) -> None:
    code, shown = at_a_terminal(
        command(tmp_path / "t.db", "spec", "import", str(SPEC)), environment(tmp_path)
    )
    assert code == 0, shown
    assert "validating spec" in shown
    assert "analysis: inventory (3 of 5)" in shown
    assert "\x1b[" in shown  # drawn (and erased) as a live line, not printed as lines


def test_spec_import_json_events_and_nothing_on_a_pipe(tmp_path: Path) -> None:
    env = environment(tmp_path)
    with_json = run(tmp_path / "j.db", "spec", "import", "--json", str(SPEC), env=env)
    assert with_json.returncode == 0, with_json.stderr
    events = [json.loads(x) for x in with_json.stderr.splitlines() if x.startswith("{")]
    steps = [e["step"] for e in events]
    assert all(e["event"] == "progress" and e["elapsed"] >= 0 for e in events)
    assert steps[0] == "loading spec" and "validating spec" in steps
    stages = [s for s in steps if s.startswith("analysis: ")]
    assert stages == sorted(set(stages), key=stages.index)  # each stage once, in order
    assert stages[-1] == "analysis: findings (5 of 5)" and len(stages) == 5
    assert json.loads(with_json.stdout)["operations"] > 0  # stdout: still one JSON document
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache2")
    plain = run(tmp_path / "p.db", "spec", "import", str(SPEC), env=env)
    assert plain.returncode == 0, plain.stderr
    assert "validating" not in plain.stderr and "analysis:" not in plain.stderr
    assert "\x1b" not in plain.stderr and "imported " in plain.stderr


def test_ingest_shows_the_analysis_after_the_bytes(tmp_path: Path) -> None:
    env = environment(tmp_path)
    code, shown = at_a_terminal(command(tmp_path / "t.db", "ingest", str(ZEEK)), env)
    assert code == 0, shown
    assert "analysis: findings (5 of 5)" in shown
    with_json = run(tmp_path / "j.db", "ingest", "--json", str(ZEEK), env=env)
    events = [json.loads(x) for x in with_json.stderr.splitlines() if x.startswith("{")]
    assert "total" in events[0]  # the bytes first, then the steps of the analysis
    assert [e["step"] for e in events if "step" in e][-1] == "analysis: findings (5 of 5)"
    plain = run(tmp_path / "p.db", "ingest", str(ZEEK), env=env)
    assert plain.returncode == 0 and "analysis" not in plain.stderr and "\x1b" not in plain.stderr


def json_events(stderr: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in stderr.splitlines() if x.startswith('{"event"')]


def test_inventory_import_shows_the_analysis_it_runs(tmp_path: Path) -> None:
    """``inventory import`` re-runs the whole analysis: its stages on a terminal, JSON events
    on stderr with --json (stdout still one document), nothing on a pipe."""
    env = environment(tmp_path)
    for name in ("t.db", "j.db", "p.db"):  # a case with traffic, so the analysis has work
        assert run(tmp_path / name, "ingest", str(ZEEK), env=env).returncode == 0
    code, shown = at_a_terminal(
        command(tmp_path / "t.db", "inventory", "import", str(REGISTER)), env
    )
    assert code == 0, shown
    assert "analysis: findings (5 of 5)" in shown and "\x1b[" in shown
    with_json = run(tmp_path / "j.db", "inventory", "import", "--json", str(REGISTER), env=env)
    assert with_json.returncode == 0, with_json.stderr
    steps = [e["step"] for e in json_events(with_json.stderr)]
    assert steps[0] == "analysis: lineage (1 of 5)" and steps[-1] == "analysis: findings (5 of 5)"
    assert json.loads(with_json.stdout)["registered"] > 0
    plain = run(tmp_path / "p.db", "inventory", "import", str(REGISTER), env=env)
    assert plain.returncode == 0 and "analysis" not in plain.stderr and "\x1b" not in plain.stderr


def test_follow_rounds_show_their_analysis(tmp_path: Path) -> None:
    """A round of ``ingest --follow`` that added records runs the analysis: with --json its
    steps are JSON events on stderr after the round's bytes; so is the last analysis, run when
    following stops."""
    log = tmp_path / "http.log"
    lines = ZEEK.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:12]))  # the header and four records
    case = tmp_path / "f.db"
    argv = command(case, "ingest", "--follow", "--interval", "0.2", "--json", str(log))
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(tmp_path)
    )
    try:
        analysed(case, proc)  # the first round and its analysis
        with log.open("ab") as out:
            out.write(b"".join(lines[12:]))  # one more record (and two that are skipped)
        deadline = time.monotonic() + 60
        while count(case, "SELECT COUNT(*) FROM exchanges") < 5:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = json_events(err)
    kinds = ["bytes" if "total" in e else str(e["step"]) for e in events]
    done = "analysis: findings (5 of 5)"
    assert kinds[0] == "bytes" and kinds.count(done) == 2  # the first round's, the last one
    assert json.loads(out)[0]["exchanges"] > 0


def count(case: Path, sql: str) -> int:
    try:
        with sqlite3.connect(case) as db:
            return int(db.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def analysed(case: Path, proc: subprocess.Popen[str]) -> None:
    """Until the follower's first analysis wrote the inventory."""
    deadline = time.monotonic() + 60
    while count(case, "SELECT COUNT(*) FROM endpoints") == 0:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
