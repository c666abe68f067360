"""What a step would do, in words, calling nothing: dry runs and the prompts of gates."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from runbooks import actions, templating
from runbooks.actions.base import ActionContext
from runbooks.active import ActiveRun
from runbooks.errors import ActionError, RunbookError
from runbooks.gates import gate_of
from runbooks.inputs import missing_secrets, step_args
from runbooks.model import Step


def plan_text(
    run: ActiveRun, step: Step, context: dict[str, Any], action_context: ActionContext
) -> str:
    """The action's own plan line for ``step`` (unknown values shown as markers)."""
    action = actions.get(step.action_name)
    rendered = run.render(step_args(step), context, plan=True)
    missing = missing_secrets(run.runbook, run.inputs, step)
    if missing:
        return f"{action.name}: {missing}"
    try:
        args = action.parse(rendered)
    except ActionError:
        return f"{action.name} with {json.dumps(rendered, default=str, sort_keys=True)}"
    return str(action.plan(args, action_context))


def skip_reason(run: ActiveRun, step: Step, context: dict[str, Any], *, plan: bool) -> str:
    """Why ``step`` does not apply (its ``when`` is false): its ``skip_reason`` rendered, in
    the runbook's plain words, or else the condition itself."""
    assert step.when is not None
    condition = f"when {step.when.strip()!r} is false"
    if step.skip_reason is None:
        return condition
    try:
        return " ".join(str(run.render(step.skip_reason, context, plan=plan)).split())
    except RunbookError:  # a reason that cannot be rendered: the condition says it
        return condition


def dry_run_line(
    step: Step,
    context: dict[str, Any],
    plan: Callable[[], str],
    granted: frozenset[str],
    reason: Callable[[], str],
) -> tuple[str, str | None, bool]:
    """(the plan line of ``step`` in a dry run, its gate, False), or ("skipped: " and why,
    None, True) when its ``when`` is already known to be false; ``plan`` gives the action's
    line, ``reason`` why it is skipped (``skip_reason``)."""
    prefix = ""
    if step.when:
        cond = templating.evaluate(step.when, context, plan=True)
        if templating.is_unknown(cond):
            prefix = f"if {step.when.strip()}: "
        elif not cond:
            return f"skipped: {reason()}", None, True
    gate = gate_of(step)
    text = prefix + plan()
    if gate == "irreversible":
        text += (
            " [irreversible: approved with --approve]"
            if step.id in granted
            else f" [irreversible: stops here unless --approve {step.id}]"
        )
    elif gate is not None:
        text += f" [{gate} gate]"
    if step.rollback is not None:
        text += f" (rollback: {step.rollback.action})"
    return text, gate, False


def prompt_text(
    run: ActiveRun, step: Step, context: dict[str, Any], text: str, *, interrupted: bool
) -> str:
    """The question a gate asks; ``text`` is the action's plan line (action steps)."""
    if step.kind == "manual":
        text = str(run.render(step.manual or "", context, plan=True))
    elif step.kind == "approval":
        text = str(run.render(step.approval or "", context, plan=True))
    elif interrupted:
        text = (
            "INTERRUPTED while running (it may have completed; check before approving again): "
            + text
        )
    return text
