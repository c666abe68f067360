"""Every state a run and a step can be in, and every change allowed between them.

The one module that decides states (h11's rule): the engine asks for a change, ``runstore``
checks it here against the state the case holds, inside the transaction that writes it, so an
illegal change (or a change another driver already made) is refused before anything is done.
"""

from __future__ import annotations

from enum import StrEnum

from runbooks.errors import RunbookError


class RunState(StrEnum):
    """Where a run is; all but the first two are final."""

    RUNNING = "running"  # a driver is working on it (or was, and was killed)
    WAITING = "waiting"  # stopped at a gate; ``resume`` continues it
    SUCCEEDED = "succeeded"  # every step done, all the containment the runbook requires applied
    PARTIAL = "partial"  # ended, but a step was skipped after failing or containment is missing
    UNVERIFIED = "unverified"  # containment applied, but verification observed no traffic
    FAILED = "failed"  # a step failed for good
    PLANNED = "planned"  # a dry run: nothing was called


class StepState(StrEnum):
    """Where a step is."""

    PENDING = "pending"  # not reached yet
    PLANNED = "planned"  # dry run: its plan text is saved
    WAITING = "waiting"  # stopped at its gate
    APPROVED = "approved"  # an action step whose gate was passed; not started
    RUNNING = "running"  # claimed by a driver; its action is being called
    RETRYING = "retrying"  # failed, will be called again
    DONE = "done"
    SKIPPED = "skipped"  # ``when`` was false, or the operator skipped it after a failure
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


FINAL_RUN_STATES = frozenset(
    {RunState.SUCCEEDED, RunState.PARTIAL, RunState.UNVERIFIED, RunState.FAILED, RunState.PLANNED}
)
RESUMABLE_RUN_STATES = frozenset({RunState.RUNNING, RunState.WAITING})
# steps a driver passes over: nothing left to do for them
DONE_STEP_STATES = frozenset({StepState.DONE, StepState.SKIPPED})

_S = StepState
# what may follow each step state (a state may be written again: a gate reached twice)
STEP_TRANSITIONS: dict[StepState, frozenset[StepState]] = {
    _S.PENDING: frozenset(
        {_S.PLANNED, _S.SKIPPED, _S.WAITING, _S.APPROVED, _S.DONE, _S.RUNNING, _S.FAILED}
    ),
    _S.PLANNED: frozenset({_S.PLANNED, _S.SKIPPED}),
    _S.WAITING: frozenset({_S.WAITING, _S.APPROVED, _S.DONE, _S.SKIPPED, _S.RUNNING, _S.FAILED}),
    _S.APPROVED: frozenset({_S.RUNNING, _S.FAILED, _S.SKIPPED}),
    # RUNNING again: a driver killed mid-call, resumed (reversible steps are called again)
    _S.RUNNING: frozenset(
        {
            _S.DONE,
            _S.RETRYING,
            _S.FAILED,
            _S.RUNNING,
            _S.WAITING,
            _S.APPROVED,
            _S.SKIPPED,
        }
    ),
    _S.RETRYING: frozenset({_S.RUNNING, _S.WAITING, _S.APPROVED, _S.SKIPPED, _S.FAILED}),
    _S.FAILED: frozenset({_S.RETRYING, _S.SKIPPED, _S.FAILED, _S.RUNNING, _S.WAITING, _S.APPROVED}),
    _S.DONE: frozenset({_S.ROLLING_BACK}),
    _S.SKIPPED: frozenset(),
    _S.ROLLING_BACK: frozenset({_S.ROLLED_BACK, _S.ROLLBACK_FAILED}),
    _S.ROLLED_BACK: frozenset(),
    _S.ROLLBACK_FAILED: frozenset(),
}

_R = RunState
RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    _R.RUNNING: frozenset(
        {_R.RUNNING, _R.WAITING, _R.SUCCEEDED, _R.PARTIAL, _R.UNVERIFIED, _R.FAILED}
    ),
    _R.WAITING: frozenset({_R.RUNNING}),
    _R.PLANNED: frozenset({_R.PLANNED}),  # a dry run finishing (it starts planned)
    _R.SUCCEEDED: frozenset(),
    _R.PARTIAL: frozenset(),
    _R.UNVERIFIED: frozenset(),
    _R.FAILED: frozenset(),
}


class StateConflict(RunbookError):
    """A state change that is not allowed from the state the case holds (another driver moved
    the run or the step first, or the engine asked for an impossible change): nothing was done."""


def check_step(step: str, current: str, new: StepState) -> None:
    """Refuse a step change the table does not allow (``current`` as read from the case)."""
    try:
        allowed = STEP_TRANSITIONS[StepState(current)]
    except ValueError:
        raise StateConflict(f"step {step!r} is in an unknown state {current!r}") from None
    if new not in allowed:
        raise StateConflict(f"step {step!r} cannot go from {current} to {new}")


def check_run(run: str, current: str, new: RunState) -> None:
    """Refuse a run change the table does not allow (``current`` as read from the case)."""
    try:
        allowed = RUN_TRANSITIONS[RunState(current)]
    except ValueError:
        raise StateConflict(f"run {run} is in an unknown state {current!r}") from None
    if new not in allowed:
        raise StateConflict(f"run {run} cannot go from {current} to {new}")
