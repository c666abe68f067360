"""Two drivers resume the same run at once, one of them with a write lock delayed (contention):
the irreversible step is called once, whatever write of the delayed driver waits.

Real parts: two connections to one case file (each driver its own, as two processes would have),
a loopback HTTP server counting calls. The delayed driver's chosen write waits until the other
driver has finished (at most 4 s): the interleaving that once ran ``revoke`` twice (a resume that
read the run as waiting, then got the lock after the other had completed it).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from discovery.case import audit
from discovery.case.store import Store
from runbooks.engine import Approvals, Engine
from runbooks.errors import RunbookError
from tests.runbooks.conftest import runbook
from tests.runbooks.servers import http_server

RACE = """
id: race
title: race
applies_to: credential
steps:
  - {id: contain, action: http.request, with: {url: "URL/contain"}}
  - {id: revoke, action: http.request, irreversible: true, with: {url: "URL/revoke"}}
  - {id: close, action: http.request, with: {url: "URL/close"}}
"""
WRITES_OF_A_RESUME = 7  # claim, approval, revoke running, done, close running, done, finish

pytestmark = pytest.mark.integration  # starts processes or servers


def delay_write(store: Store, at: int, release: threading.Event) -> threading.Event:
    """Make ``store``'s ``at``-th write transaction wait (at most 4 s) for ``release`` before it
    takes the lock; the event returned is set when its first write commits. (SQLite's statement
    trace runs before ``BEGIN IMMEDIATE`` asks for the lock; the Store itself is untouched.)"""
    begun = itertools.count(1)
    committed = threading.Event()

    def trace(statement: str) -> None:
        if statement.startswith("BEGIN IMMEDIATE") and next(begun) == at:
            release.wait(4.0)
        elif statement.startswith("COMMIT"):
            committed.set()

    store.conn.set_trace_callback(trace)
    return committed


def _resume(store: Store, run_id: str, out: dict[str, Any]) -> None:
    engine = Engine(store, approvals=Approvals(steps=frozenset({"revoke"})))
    try:
        out["events"] = [e.to_json() for e in engine.resume(run_id)]
    except RunbookError as exc:
        out["error"] = exc


@pytest.mark.parametrize("delayed_write", range(1, WRITES_OF_A_RESUME + 1))
def test_two_resumes_with_a_delayed_lock_call_the_irreversible_step_once(
    case: Store, credential_id: str, delayed_write: int
) -> None:
    with http_server() as server:
        text = RACE.replace("URL", server.url)
        stopped = [e.to_json() for e in Engine(case).start(runbook(text), credential_id)]
        assert stopped[-1]["state"] == "waiting"
        run_id = stopped[0]["run_id"]

        a_finished = threading.Event()
        slow = Store.open(case.path)
        slow_wrote = delay_write(slow, delayed_write, a_finished)
        fast = Store.open(case.path)
        slow_out: dict[str, Any] = {}
        fast_out: dict[str, Any] = {}

        def fast_driver() -> None:
            if delayed_write > 1:  # the delayed driver holds the run first, then waits
                slow_wrote.wait(10)
            _resume(fast, run_id, fast_out)
            a_finished.set()

        threads = [
            threading.Thread(target=_resume, args=(slow, run_id, slow_out)),
            threading.Thread(target=fast_driver),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        slow.close()
        fast.close()
        calls = [r.path for r in server.requests]

    assert calls.count("/revoke") == 1, calls
    assert calls.count("/contain") == 1 and calls.count("/close") == 1, calls
    finished = [o for o in (slow_out, fast_out) if "events" in o]
    refused = [o for o in (slow_out, fast_out) if "error" in o]
    assert len(finished) == 1 and len(refused) == 1, (slow_out, fast_out)
    assert finished[0]["events"][-1]["state"] == "succeeded"
    assert "nothing to resume" in str(refused[0]["error"]) or "being driven" in str(
        refused[0]["error"]
    )
    state = case.conn.execute("SELECT state FROM runbook_runs WHERE id = ?", (run_id,)).fetchone()
    assert state[0] == "succeeded"
    assert audit.verify(case).ok
