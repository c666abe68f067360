"""One run while a driver works on it: its runbook, target, inputs, step states and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from discovery.timeutil import iso
from discovery.views.subjects import Subject
from runbooks import templating
from runbooks.actions.base import DEFAULT_TIMEOUT, ActionContext
from runbooks.loader import LoadedRunbook
from runbooks.model import Runbook, Step
from runbooks.redaction import Redactor
from runbooks.runstore import RunStore
from runbooks.states import StepState

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from discovery.case.store import Store


@dataclass
class ActiveRun:
    """The engine's view of one run while it executes."""

    id: str
    loaded: LoadedRunbook
    target_text: str
    subject: Subject
    inputs: dict[str, Any]
    secrets: dict[str, str]
    dry_run: bool
    started_at: float
    redactor: Redactor
    rows: RunStore
    driver: str
    states: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def runbook(self) -> Runbook:
        return self.loaded.runbook

    @property
    def actor(self) -> str:
        """Who the audit log names for what the run does on its own."""
        return f"runbook:{self.id}"

    def set_step(
        self,
        step: Step,
        state: StepState,
        audit_action: str,
        details: dict[str, Any],
        *,
        actor: str | None = None,
        **fields: Any,
    ) -> None:
        """Audit first, then the step's new state in the case (``fields``: the row's columns to
        set), then here."""
        self.rows.set_step(
            self.id,
            step.id,
            state,
            driver=self.driver,
            expected=self.states.get(step.id),
            actor=actor or self.actor,
            subject=self.subject.ref,
            audit_action=audit_action,
            details=details,
            **fields,
        )
        self.states[step.id] = state
        if fields.get("attempts") is not None:
            self.attempts[step.id] = fields["attempts"]

    def render(self, value: Any, context: dict[str, Any], *, plan: bool = False) -> Any:
        """Render a template; what it derives from a secret input is redacted from then on."""
        rendered, derived = templating.render_tainted(value, context, self.secrets, plan=plan)
        self.redactor.add(derived)
        return rendered

    def context(self) -> dict[str, Any]:
        """What templates see: ``target``, ``inputs``, ``steps`` and ``run``."""
        target = {**self.subject.facts, **self.subject.to_json()}
        return {
            "target": target,
            "inputs": dict(self.inputs),
            "steps": {
                sid: {"state": self.states.get(sid), "output": out}
                for sid, out in self.outputs.items()
            },
            "run": {
                "id": self.id,
                "started_at": iso(self.started_at),
                "started_ts": self.started_at,
                "dry_run": self.dry_run,
                "runbook": self.runbook.id,
            },
        }

    def action_context(
        self,
        step: Step,
        store: Store,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
    ) -> ActionContext:
        """What an action of ``step`` may use while it runs."""
        return ActionContext(
            store=store,
            run_id=self.id,
            step_id=step.id,
            target={**self.subject.facts, **self.subject.to_json()},
            actor=self.actor,
            timeout=step.timeout or DEFAULT_TIMEOUT,
            transport=transport,
            started_at=self.started_at,
            secret_values=set(self.secrets.values()),
            sleep=sleep,
        )
