"""A failed step put to the operator (``on_failure``): retry, skip, rollback or stop, each one
audited and persisted before the engine acts on it; real commands and a real blocklist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from discovery.case import audit, blocklist
from discovery.case.store import Store
from runbooks.engine import Engine, Failure
from runbooks.errors import RunbookUsageError
from tests.runbooks.conftest import runbook

pytestmark = pytest.mark.integration  # the runbooks run real commands

# ``check`` fails until FLAG exists: the operator "fixes" the world, then asks for a retry
TEXT = """
id: t
title: t
applies_to: credential
steps:
  - id: block
    action: proxy.block_credential
    with: {credential: "{{ target.id }}"}
    rollback:
      action: proxy.unblock_credential
      with: {credential: "{{ target.id }}"}
  - id: check
    action: command
    with: {argv: ["test", "-e", "FLAG"]}
  - id: after
    action: command
    with: {argv: ["true"]}
"""


class Operator:
    """Answers failures from a script of choices, remembering what it was asked."""

    def __init__(self, *answers: str, before: Any = None) -> None:
        self.answers = list(answers)
        self.asked: list[Failure] = []
        self.before = before

    def __call__(self, failure: Failure) -> str:
        self.asked.append(failure)
        if self.before is not None:
            self.before(failure)
        return self.answers.pop(0)


def start(store: Store, text: str, target: str, operator: Operator) -> list[dict[str, Any]]:
    engine = Engine(store, on_failure=operator, operator="operator:test")
    return [e.to_json() for e in engine.start(runbook(text), target, {})]


def states(store: Store, run_id: str) -> dict[str, str]:
    return dict(
        store.conn.execute(
            "SELECT step_id, state FROM runbook_steps WHERE run_id = ? ORDER BY idx", (run_id,)
        )
    )


def run_actions(store: Store, run_id: str) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.details.get("step", ""), e.actor)
        for e in audit.entries(store)
        if e.details.get("run") == run_id
    ]


def test_retry_calls_the_step_again_and_the_run_goes_on(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    operator = Operator("retry", before=lambda failure: flag.touch())
    events = start(case, TEXT.replace("FLAG", str(flag)), credential_id, operator)
    run_id = events[0]["run_id"]
    # every step done, but no enforcing proxy applied the block: partial, and it says why
    assert events[-1]["state"] == "partial"
    assert "NOT ENFORCED" in events[-1]["outcome"]
    [asked] = operator.asked
    assert asked.step.id == "check" and asked.attempt == 1
    assert asked.choices == ("retry", "skip", "rollback", "stop")
    assert asked.rollbacks == ("block",)
    assert "exited 1" in asked.error
    decided = [e for e in events if e["event"] == "failure_decided"]
    assert decided == [
        {
            "event": "failure_decided",
            "run_id": run_id,
            "step": "check",
            "choice": "retry",
            "by": "operator:test",
        }
    ]
    assert states(case, run_id) == {"block": "done", "check": "done", "after": "done"}
    assert (
        case.conn.execute(
            "SELECT attempts FROM runbook_steps WHERE run_id = ? AND step_id = 'check'", (run_id,)
        ).fetchone()[0]
        == 2
    )
    trail = run_actions(case, run_id)
    i = trail.index(("failure.retry", "check", "operator:test"))
    assert trail[i - 1][:2] == ("action.failed", "check")
    assert trail[i + 1][:2] == ("action.started", "check")  # audited before the new call
    assert len(blocklist.blocks(case)) == 1
    assert audit.verify(case).ok


def test_skip_leaves_the_step_and_runs_the_next(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    events = start(
        case, TEXT.replace("FLAG", str(tmp_path / "never")), credential_id, Operator("skip")
    )
    run_id = events[0]["run_id"]
    assert events[-1]["state"] == "partial"  # a step skipped after failing: never succeeded
    assert "step 'check' skipped after failing" in events[-1]["outcome"]
    assert states(case, run_id) == {"block": "done", "check": "skipped", "after": "done"}
    error = case.conn.execute(
        "SELECT error FROM runbook_steps WHERE run_id = ? AND step_id = 'check'", (run_id,)
    ).fetchone()[0]
    assert "exited 1" in error  # why it was skipped stays with the step
    assert ("failure.skip", "check", "operator:test") in run_actions(case, run_id)
    assert len(blocklist.blocks(case)) == 1  # nothing rolled back


def test_retry_then_skip_asks_again_after_each_failure(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    operator = Operator("retry", "skip")
    events = start(case, TEXT.replace("FLAG", str(tmp_path / "never")), credential_id, operator)
    assert [f.attempt for f in operator.asked] == [1, 2]
    assert [e["choice"] for e in events if e["event"] == "failure_decided"] == ["retry", "skip"]
    assert states(case, events[0]["run_id"])["check"] == "skipped"


def test_rollback_undoes_completed_steps_and_fails_the_run(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    events = start(
        case, TEXT.replace("FLAG", str(tmp_path / "never")), credential_id, Operator("rollback")
    )
    run_id = events[0]["run_id"]
    assert events[-1]["state"] == "failed"
    assert states(case, run_id) == {"block": "rolled_back", "check": "failed", "after": "pending"}
    assert blocklist.blocks(case) == []
    trail = [a for a, _, _ in run_actions(case, run_id)]
    assert trail.index("failure.rollback") < trail.index("rollback.started")
    entry = next(e for e in audit.entries(case) if e.action == "failure.rollback")
    assert entry.details["rollbacks"] == ["block"]


def test_stop_fails_the_run_and_rolls_nothing_back(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    events = start(
        case, TEXT.replace("FLAG", str(tmp_path / "never")), credential_id, Operator("stop")
    )
    run_id = events[0]["run_id"]
    assert events[-1]["state"] == "failed"
    assert "nothing rolled back" in events[-1]["outcome"]
    assert states(case, run_id)["block"] == "done"
    assert len(blocklist.blocks(case)) == 1
    assert not [e for e in events if e["event"] == "rollback_step"]


def test_rollback_is_offered_only_when_a_completed_step_defines_one(
    case: Store, credential_id: str
) -> None:
    text = """
id: t
title: t
applies_to: credential
steps:
  - id: fails
    action: command
    with: {argv: ["false"]}
"""
    operator = Operator("stop")
    start(case, text, credential_id, operator)
    assert operator.asked[0].choices == ("retry", "skip", "stop")
    assert operator.asked[0].rollbacks == ()


def test_a_failure_before_the_call_cannot_be_retried(case: Store, credential_id: str) -> None:
    text = """
id: t
title: t
applies_to: credential
inputs:
  token: {secret: true}
steps:
  - id: needs
    action: command
    with: {argv: ["echo", "{{ inputs.token }}"]}
  - id: after
    action: command
    with: {argv: ["true"]}
"""
    operator = Operator("skip")
    events = start(case, text, credential_id, operator)
    assert operator.asked[0].choices == ("skip", "stop")
    assert "needs the secret input token" in operator.asked[0].error
    assert events[-1]["state"] == "partial"
    assert "step 'needs' skipped after failing" in events[-1]["outcome"]
    assert states(case, events[0]["run_id"]) == {"needs": "skipped", "after": "done"}


def test_a_choice_that_was_not_offered_is_refused_before_anything_is_done(
    case: Store, credential_id: str
) -> None:
    text = """
id: t
title: t
applies_to: credential
steps:
  - id: check
    action: command
    with: {argv: ["false"]}
"""
    with pytest.raises(RunbookUsageError, match="'rollback' is not one of retry, skip, stop"):
        start(case, text, credential_id, Operator("rollback"))
    run_id = case.conn.execute("SELECT id FROM runbook_runs").fetchone()[0]
    assert not [a for a, _, _ in run_actions(case, run_id) if a.startswith("failure.")]
    assert states(case, run_id)["check"] == "failed"  # the run is still resumable


def test_without_on_failure_a_failed_step_rolls_back_as_before(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    engine = Engine(case)
    events = [
        e.to_json()
        for e in engine.start(
            runbook(TEXT.replace("FLAG", str(tmp_path / "never"))), credential_id, {}
        )
    ]
    assert events[-1]["state"] == "failed"
    assert not [e for e in events if e["event"] == "failure_decided"]
    assert blocklist.blocks(case) == []
