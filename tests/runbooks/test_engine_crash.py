"""A runbook run SIGKILLed at seeded random moments (a subprocess, a real HTTP server): the case
always opens and passes ``PRAGMA integrity_check``, the audit chain verifies, and a resume
finishes the run without repeating an irreversible step that had completed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from discovery.case import audit
from discovery.case.store import Store
from runbooks.engine import Approvals, Engine
from tests.runbooks.servers import Seen, http_server

STEPS = ("contain", "revoke", "notify", "verify", "close")
RUNBOOK = """
id: crashy
title: crashy
applies_to: credential
steps:
  - {id: contain, action: http.request, with: {url: "URL/contain"}}
  - {id: revoke, action: http.request, irreversible: true, with: {url: "URL/revoke"}}
  - {id: notify, action: http.request, with: {url: "URL/notify"}}
  - {id: verify, action: http.request, with: {url: "URL/verify"}}
  - {id: close, action: http.request, with: {url: "URL/close"}}
"""


def _state(store: Store, run_id: str, step: str) -> str | None:
    row = store.conn.execute(
        "SELECT state FROM runbook_steps WHERE run_id = ? AND step_id = ?", (run_id, step)
    ).fetchone()
    return row[0] if row else None


def kill_and_resume(case: Store, credential_id: str, tmp_path: Path, delay: float) -> None:
    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.08)  # each call takes a moment, so kills land inside and between steps
        return 200, {}, b"{}"

    folder = tmp_path / f"rb-{delay:.3f}"
    folder.mkdir()
    with http_server(answer) as server:
        (folder / "crashy.yaml").write_text(RUNBOOK.replace("URL", server.url))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ir_console",
                "--db",
                str(case.path),
                "runbook",
                "--runbooks",
                str(folder),
                "run",
                "crashy",
                "--target",
                credential_id,
                "--approve",
                "revoke",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        run_id = json.loads(proc.stdout.readline())["run_id"]
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        # the case is whole, whatever the moment
        (check,) = case.conn.execute("PRAGMA integrity_check").fetchone()
        assert check == "ok"
        assert audit.verify(case).ok
        revoked_before = _state(case, run_id, "revoke") == "done"
        calls_before = [r.path for r in server.requests].count("/revoke")
        if proc.returncode == 0:  # the run finished before the kill: nothing to resume
            return
        assert proc.returncode == -signal.SIGKILL
        engine = Engine(case, approvals=Approvals(steps=frozenset({"revoke"})))
        events = [e.to_json() for e in engine.resume(run_id)]
        assert events[-1]["state"] == "succeeded", events[-1]
        calls = [r.path for r in server.requests]
    assert all(_state(case, run_id, s) == "done" for s in STEPS)
    if revoked_before:  # completed before the kill: never called again
        assert calls.count("/revoke") == calls_before == 1
    assert calls[-1] == "/close"
    assert audit.verify(case).ok


@pytest.mark.integration
@pytest.mark.parametrize("seed", range(4))
def test_runbook_killed_at_random_moments_resumes_cleanly(
    case: Store, credential_id: str, tmp_path: Path, seed: int
) -> None:
    kill_and_resume(case, credential_id, tmp_path, random.Random(seed).uniform(0.02, 0.3))


@pytest.mark.soak
@pytest.mark.integration  # it starts and kills processes
def test_runbook_kill_soak(case: Store, credential_id: str, tmp_path: Path) -> None:
    rng = random.Random(2026)
    for _ in range(30):
        kill_and_resume(case, credential_id, tmp_path, rng.uniform(0.0, 0.6))
