"""The typed events the engine yields; the CLI and the console render them.

Every event is a frozen dataclass with ``to_json()`` giving ``{"event": NAME, ...fields}``; no
event carries a raw secret (the engine redacts before it yields).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base of every engine event."""

    name: ClassVar[str] = "event"
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {"event": self.name, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    name: ClassVar[str] = "run_started"
    runbook: str
    target: dict[str, Any]
    dry_run: bool
    resumed: bool = False


@dataclass(frozen=True)
class StepPlanned(Event):
    """Dry run: what a step would do (nothing was called)."""

    name: ClassVar[str] = "step_planned"
    step: str
    kind: str
    plan: str
    gate: str | None = None  # "approval" | "irreversible" | "manual" when it would stop
    skipped: str | None = None  # why the step does not apply (its ``when`` is false), or None


@dataclass(frozen=True)
class StepStarted(Event):
    name: ClassVar[str] = "step_started"
    step: str
    kind: str
    attempt: int
    plan: str = ""  # what it calls, with the run's real values (secrets redacted)


@dataclass(frozen=True)
class StepSkipped(Event):
    name: ClassVar[str] = "step_skipped"
    step: str
    reason: str


@dataclass(frozen=True)
class StepSucceeded(Event):
    name: ClassVar[str] = "step_succeeded"
    step: str
    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepFailed(Event):
    name: ClassVar[str] = "step_failed"
    step: str
    error: str
    attempt: int
    retry_in: float | None = None  # seconds until the next try, None when it will not retry


@dataclass(frozen=True)
class FailureDecided(Event):
    """The operator chose what follows a failed step: retry, skip, rollback or stop."""

    name: ClassVar[str] = "failure_decided"
    step: str
    choice: str
    by: str


@dataclass(frozen=True)
class GateReached(Event):
    """The run stopped: this step needs an approval (or a confirmation) to go on."""

    name: ClassVar[str] = "gate_reached"
    step: str
    gate: str  # "approval" | "irreversible" | "manual"
    prompt: str
    how: str  # what to run to go on


@dataclass(frozen=True)
class GatePassed(Event):
    name: ClassVar[str] = "gate_passed"
    step: str
    gate: str
    by: str


@dataclass(frozen=True)
class RollbackStep(Event):
    name: ClassVar[str] = "rollback_step"
    step: str
    action: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class RunFinished(Event):
    """The last event of a run: ``state`` is succeeded | failed | waiting | planned."""

    name: ClassVar[str] = "run_finished"
    runbook: str
    state: str
    outcome: str
    steps: dict[str, str] = field(default_factory=dict)  # step id -> state
