"""Progress of long work counted in steps (validating a spec, the analysis after an ingest or
an import): a spinner with the step on a terminal (a real pty), JSON events with ``--json``,
nothing on a pipe."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import FIXTURES

pytestmark = pytest.mark.integration

SPEC = FIXTURES / "specs" / "shop-3.0.yaml"
ZEEK = FIXTURES / "zeek" / "http.log"


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
