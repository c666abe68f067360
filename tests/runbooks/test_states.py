"""The declared states: every state has its allowed changes, and the case refuses any other
(checked against the state the case holds, in the transaction that would write the change)."""

from __future__ import annotations

import pytest

from discovery.case import audit
from discovery.case.store import Store
from runbooks.engine import Engine
from runbooks.runstore import RunStore
from runbooks.states import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    RunState,
    StateConflict,
    StepState,
)
from tests.runbooks.conftest import runbook

ONE_STEP = """
id: t
title: t
applies_to: credential
steps:
  - {id: only, action: evidence.summary, with: {subject: "credential:{{ target.id }}"}}
"""


def test_every_state_has_its_allowed_changes() -> None:
    assert set(STEP_TRANSITIONS) == set(StepState)
    assert set(RUN_TRANSITIONS) == set(RunState)
    for allowed in (*STEP_TRANSITIONS.values(), *RUN_TRANSITIONS.values()):
        assert allowed <= set(StepState) or allowed <= set(RunState)


def test_a_done_step_cannot_be_started_again_and_nothing_is_written(
    case: Store, credential_id: str
) -> None:
    events = [e.to_json() for e in Engine(case).start(runbook(ONE_STEP), credential_id)]
    run_id = events[0]["run_id"]
    assert events[-1]["state"] == "succeeded"
    entries = len(audit.entries(case))
    (driver,) = case.conn.execute(
        "SELECT driver FROM runbook_runs WHERE id = ?", (run_id,)
    ).fetchone()
    with pytest.raises(StateConflict, match="cannot go from done to running"):
        RunStore(case).set_step(
            run_id,
            "only",
            StepState.RUNNING,
            driver=driver,  # the run's own driver: only the table refuses
            expected=None,
            actor="test",
            subject="x",
            audit_action="action.started",
            details={},
        )
    assert len(audit.entries(case)) == entries  # refused before the audit write
    state = case.conn.execute(
        "SELECT state FROM runbook_steps WHERE run_id = ? AND step_id = 'only'", (run_id,)
    ).fetchone()[0]
    assert state == "done"


def test_a_finished_run_cannot_be_finished_again(case: Store, credential_id: str) -> None:
    events = [e.to_json() for e in Engine(case).start(runbook(ONE_STEP), credential_id)]
    run_id = events[0]["run_id"]
    (driver,) = case.conn.execute(
        "SELECT driver FROM runbook_runs WHERE id = ?", (run_id,)
    ).fetchone()
    with pytest.raises(StateConflict, match="cannot go from succeeded to failed"):
        RunStore(case).finish(run_id, driver, RunState.FAILED, "x", "test", "x")


def test_a_driver_that_lost_the_run_changes_nothing(case: Store, credential_id: str) -> None:
    events = [e.to_json() for e in Engine(case).start(runbook(ONE_STEP), credential_id)]
    run_id = events[0]["run_id"]
    entries = len(audit.entries(case))
    with pytest.raises(StateConflict, match="is driven by process"):
        RunStore(case).finish(run_id, "otherhost 1 abcd", RunState.FAILED, "x", "test", "x")
    assert len(audit.entries(case)) == entries
