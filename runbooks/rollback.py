"""Undoing completed steps after a later one failed: each step's ``rollback`` action, newest
first; a rollback that fails is recorded and the others still run."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from discovery.errors import DiscoveryError
from runbooks import actions
from runbooks.actions.base import ActionContext
from runbooks.active import ActiveRun
from runbooks.calls import call_with_timeout
from runbooks.errors import RunbookError
from runbooks.events import Event, RollbackStep
from runbooks.model import Step
from runbooks.states import StepState


def roll_back(
    run: ActiveRun, failed: Step, action_context: Callable[[ActiveRun, Step], ActionContext]
) -> Iterator[Event]:
    """Undo completed steps that define a rollback, newest first."""
    done = [s for s in run.runbook.steps if run.states.get(s.id) == StepState.DONE and s.rollback]
    for step in reversed(done):
        call = step.rollback
        assert call is not None
        action = actions.get(call.action)
        context = {**run.context(), "output": run.outputs.get(step.id, {})}
        try:
            args = action.parse(run.render(dict(call.with_), context))
            public_args = run.redactor.data(args.model_dump(mode="json"))
            run.set_step(
                step,
                StepState.ROLLING_BACK,
                "rollback.started",
                {"action": action.name, "args": public_args, "because": failed.id},
            )
            output = call_with_timeout(action, args, action_context(run, step))
        except (RunbookError, DiscoveryError) as exc:
            error = run.redactor.text(str(exc))
            run.set_step(
                step,
                StepState.ROLLBACK_FAILED,
                "rollback.failed",
                {"action": action.name, "error": error},
                error=error,
            )
            yield RollbackStep(run.id, step.id, action.name, False, error)
            continue
        run.set_step(
            step,
            StepState.ROLLED_BACK,
            "rollback.succeeded",
            {"action": action.name, "output": run.redactor.data(output)},
        )
        yield RollbackStep(run.id, step.id, action.name, True)
