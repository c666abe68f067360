"""Gates: which steps stop a run until someone approves or confirms, and who granted what.

Approval and manual steps are ordinary gates (``--yes`` passes them); an irreversible action
needs its own id approved (``--approve STEP``), or a person typing it at an interactive surface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runbooks.model import Step

FAILURE_CHOICES = ("retry", "skip", "rollback", "stop")


@dataclass
class Approvals:
    """What the operator granted for this invocation.

    ``yes`` grants ordinary gates (approval and manual steps); an irreversible step needs its id
    in ``steps``. ``confirm`` (interactive surfaces only) is asked when neither applies.
    """

    yes: bool = False
    steps: frozenset[str] = frozenset()
    confirm: Callable[[Step, str, str], bool] | None = None

    def grants(self, step: Step, gate: str, prompt: str) -> bool:
        if step.id in self.steps:
            return True
        # --yes passes approvals and plain manual steps, never an irreversible step nor a manual
        # step that contains something (a person confirms they revoked it, by name)
        if gate != "irreversible" and step.contains is None and self.yes:
            return True
        return self.confirm(step, gate, prompt) if self.confirm is not None else False


def gate_of(step: Step) -> str | None:
    """The kind of gate a step is (``approval``, ``manual``, ``irreversible``), or None."""
    if step.kind == "approval":
        return "approval"
    if step.kind == "manual":
        return "manual"
    return "irreversible" if step.irreversible else None


def resume_hint(run_id: str, step: Step, gate: str) -> str:
    """The command that passes this gate."""
    if gate == "irreversible" or step.contains is not None:
        return f"ir-console runbook resume {run_id} --approve {step.id}"
    return f"ir-console runbook resume {run_id} --yes"


@dataclass(frozen=True)
class Failure:
    """A step that failed for good, put to the operator with what may follow.

    ``choices`` is in ``FAILURE_CHOICES`` order: ``retry`` only when calling the action again
    could help, ``rollback`` only when ``rollbacks`` (completed steps it would undo, newest first)
    is not empty. ``error`` is already redacted.
    """

    step: Step
    error: str
    attempt: int
    choices: tuple[str, ...]
    rollbacks: tuple[str, ...]
