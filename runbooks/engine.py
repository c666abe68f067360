"""The runbook engine: headless, a generator of typed events, every state change persisted first.

Order of work for each step: decide ``when``; stop at a gate unless approved; write the audit entry
and the step's ``running`` state in one transaction (no audit write, no action); call the action
with a timeout; write its result before the next step starts. A failed step is retried with
backoff; when it finally fails, completed steps that define a ``rollback`` are rolled back in
reverse order, unless an interactive surface gave ``on_failure``: then the operator chooses to
retry the step, skip it, roll back or stop, and that choice is audited like an approval.
``resume`` continues a killed or stopped run and never repeats a completed step; an irreversible
step found ``running`` (killed mid-call) needs a fresh approval before it is tried again. A dry
run plans every step and calls nothing.

The pieces live beside it: ``states`` (every state and allowed change), ``runstore`` (every row
read and written), ``inputs``, ``gates``, ``calls`` (an action called with its timeout) and
``redaction``.
"""

from __future__ import annotations

import functools
import getpass
import secrets as _random
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from discovery.errors import DiscoveryError
from discovery.views.subjects import Subject, resolve_subject
from runbooks import actions, planning, templating
from runbooks.actions.base import Action, ActionContext
from runbooks.active import ActiveRun
from runbooks.calls import call_with_timeout
from runbooks.errors import ActionError, RunbookError, RunbookUsageError
from runbooks.events import (
    Event,
    FailureDecided,
    GatePassed,
    GateReached,
    RunFinished,
    RunStarted,
    StepFailed,
    StepPlanned,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from runbooks.gates import FAILURE_CHOICES, Approvals, Failure, gate_of, resume_hint
from runbooks.inputs import missing_secrets, resolve_inputs, step_args, with_vault
from runbooks.loader import LoadedRunbook, from_text
from runbooks.model import Runbook, Step
from runbooks.outcome import conclude
from runbooks.redaction import REDACTED, Redactor
from runbooks.rollback import roll_back
from runbooks.runstore import RunStore, driving, new_driver
from runbooks.states import DONE_STEP_STATES, RunState, StepState

if TYPE_CHECKING:
    import httpx

    from discovery.case.store import Store

__all__ = ["REDACTED", "Approvals", "Engine", "Failure", "gate_of", "resolve_inputs"]

S = StepState


class Engine:
    """Runs runbooks against one open case; ``start`` and ``resume`` yield events."""

    def __init__(
        self,
        store: Store,
        *,
        approvals: Approvals | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        operator: str | None = None,
        secrets: Mapping[str, str] | None = None,
        on_failure: Callable[[Failure], str] | None = None,
    ) -> None:
        """``on_failure`` (interactive surfaces) picks one of a ``Failure``'s choices; without
        it a failed step rolls back the completed steps and the run fails."""
        self.store = store
        self.runs = RunStore(store)
        self.on_failure = on_failure
        self.approvals = approvals or Approvals()
        self.transport = transport
        self.sleep = sleep
        self.operator = operator or _whoami()
        self.secrets = dict(secrets or {})

    # ------------------------------------------------------------------ public

    def start(
        self,
        loaded: LoadedRunbook,
        target: str,
        params: Mapping[str, str] | None = None,
        *,
        dry_run: bool = False,
    ) -> Iterator[Event]:
        """Start a run of ``loaded`` on ``target`` (resolved in the case) and drive it."""
        runbook = loaded.runbook
        subject = resolve_subject(self.store, target)
        if subject.type not in runbook.applies_to:
            raise RunbookUsageError(
                f"runbook {runbook.id} applies to {', '.join(runbook.applies_to)}, "
                f"not to the {subject.type} {subject.id!r}"
            )
        self._check_approvals(runbook)
        run = self._open(loaded, subject, target, params or {}, dry_run=dry_run)
        with driving(run.driver):
            yield from self._start(run, dry_run)

    def _start(self, run: ActiveRun, dry_run: bool) -> Iterator[Event]:
        runbook, subject = run.runbook, run.subject
        first = S.PLANNED if dry_run else S.PENDING
        run.states = {s.id: first for s in runbook.steps}
        self.runs.create(
            run_id=run.id,
            runbook_id=runbook.id,
            runbook_sha256=run.loaded.sha256,
            runbook_source=run.loaded.text,
            target=run.target_text,
            subject=subject.ref,
            public_inputs={k: v for k, v in run.inputs.items() if k not in run.secrets},
            secret_names=list(run.secrets),
            dry_run=dry_run,
            started_at=run.started_at,
            operator=self.operator,
            actor=run.actor,
            driver=run.driver,
            steps=[(s.id, first) for s in runbook.steps],
        )
        yield RunStarted(run.id, runbook.id, subject.to_json(), dry_run)
        if dry_run:
            yield from self._plan(run)
        else:
            yield from self._drive(run)

    def resume(self, run_id: str) -> Iterator[Event]:
        """Continue a run that stopped at a gate or was killed; completed steps are not repeated."""
        run = self._load(run_id)
        with driving(run.driver):
            # the steps as they are once this driver holds the run, not as _load saw them
            for step_id, state, attempts, output in self.runs.claim(
                run.id, run.driver, run.actor, run.subject.ref
            ):
                run.states[step_id] = state
                run.attempts[step_id] = attempts
                run.outputs[step_id] = output
            yield RunStarted(run.id, run.runbook.id, run.subject.to_json(), False, resumed=True)
            yield from self._drive(run)

    def _check_approvals(self, runbook: Runbook) -> None:
        """An approval for a step the runbook does not have is a typo: refuse it."""
        known = {s.id for s in runbook.steps}
        unknown = sorted(self.approvals.steps - known)
        if unknown:
            raise RunbookUsageError(
                f"--approve {unknown[0]}: runbook {runbook.id} has no such step "
                f"(steps: {', '.join(s.id for s in runbook.steps)})"
            )

    def _load(self, run_id: str) -> ActiveRun:
        stored = self.runs.load(run_id)
        loaded = from_text(stored.runbook_source, f"run {run_id} ({stored.runbook_id})", "run")
        if loaded.sha256 != stored.runbook_sha256:
            raise RunbookUsageError(f"run {run_id}: stored runbook text does not match its hash")
        self._check_approvals(loaded.runbook)
        params = {k: str(v) for k, v in stored.params.items() if v is not None}
        subject = resolve_subject(self.store, stored.target)
        return self._open(
            loaded, subject, stored.target, params, run_id=run_id, started_at=stored.started_at
        )

    def _open(
        self,
        loaded: LoadedRunbook,
        subject: Subject,
        target: str,
        params: Mapping[str, str],
        *,
        run_id: str | None = None,
        started_at: float | None = None,
        dry_run: bool = False,
    ) -> ActiveRun:
        """A run with its inputs resolved (secrets from the operator, the env or the vault)."""
        secrets = with_vault(self.store, loaded.runbook, subject, self.secrets)
        inputs, secret_values = resolve_inputs(loaded.runbook, params, secrets)
        return ActiveRun(
            run_id or "r-" + _random.token_hex(6),
            loaded,
            target,
            subject,
            inputs,
            secret_values,
            dry_run,
            time.time() if started_at is None else started_at,
            Redactor(secret_values.values()),
            self.runs,
            new_driver(),
        )

    # ------------------------------------------------------------------ dry run

    def _plan(self, run: ActiveRun) -> Iterator[Event]:
        for step in run.runbook.steps:
            context = run.context()
            text, gate, skipped = planning.dry_run_line(
                step,
                context,
                functools.partial(self._plan_text, run, step, context),
                self.approvals.steps,
                functools.partial(planning.skip_reason, run, step, context, plan=True),
            )
            self._save_plan(run, step, S.SKIPPED if skipped else S.PLANNED, text)
            shown = run.redactor.text(text)
            why = shown.removeprefix("skipped: ") if skipped else None
            yield StepPlanned(run.id, step.id, step.kind, shown, gate, why)
        yield self._finish(run, RunState.PLANNED, "dry run: nothing was called")

    def _plan_text(self, run: ActiveRun, step: Step, context: dict[str, Any]) -> str:
        return planning.plan_text(run, step, context, self._action_context(run, step))

    def _live_plan(self, run: ActiveRun, step: Step, action: Action[Any], args: Any) -> str:
        """What the step calls, in the action's words, with the run's real values."""
        try:
            text = str(action.plan(args, self._action_context(run, step)))
        except (RunbookError, DiscoveryError) as exc:  # the plan line only; the call decides
            text = f"{step.action_name}: {exc}"
        return run.redactor.text(text)

    def _save_plan(self, run: ActiveRun, step: Step, state: StepState, text: str) -> None:
        self.runs.save_plan(run.id, run.driver, step.id, state, run.redactor.text(text))
        run.states[step.id] = state

    # ------------------------------------------------------------------ live run

    def _drive(self, run: ActiveRun) -> Iterator[Event]:
        for step in run.runbook.steps:
            state = run.states.get(step.id, S.PENDING)
            if state in DONE_STEP_STATES:
                continue
            if step.when and state != S.APPROVED:
                try:
                    cond = templating.evaluate(step.when, run.context())
                except RunbookError as exc:
                    after = yield from self._fail(run, step, str(exc), run.attempts.get(step.id, 0))
                    if after == "skip":
                        continue
                    return
                if not cond:
                    reason = run.redactor.text(
                        planning.skip_reason(run, step, run.context(), plan=False)
                    )
                    run.set_step(step, S.SKIPPED, "step.skipped", {"reason": reason})
                    yield StepSkipped(run.id, step.id, reason)
                    continue
            gate = gate_of(step)
            if gate is not None and state != S.APPROVED:
                prompt = self._prompt(run, step, gate, interrupted=state == S.RUNNING)
                if not self.approvals.grants(step, gate, prompt):
                    yield from self._stop_at_gate(run, step, gate, prompt)
                    return
                action_name = "manual.confirmed" if gate == "manual" else "approval.granted"
                new_state = S.APPROVED if step.kind == "action" else S.DONE
                confirmed = None if step.kind == "action" else {"confirmed_by": self.operator}
                run.set_step(
                    step,
                    new_state,
                    action_name,
                    {"gate": gate, "prompt": prompt},
                    actor=self.operator,
                    output=confirmed,
                )
                yield GatePassed(run.id, step.id, gate, self.operator)
                if confirmed is not None:
                    run.outputs[step.id] = confirmed
                    yield StepSucceeded(run.id, step.id, confirmed)
                    continue
            ok = yield from self._run_action(run, step)
            if not ok:
                return
        end = conclude(
            run.runbook,
            run.states,
            run.outputs,
            self.runs.skipped_after_failure(run.id),
        )
        yield self._finish(run, end.state, end.outcome)

    def _prompt(self, run: ActiveRun, step: Step, gate: str, *, interrupted: bool) -> str:
        context = run.context()
        plan = self._plan_text(run, step, context) if step.kind == "action" else ""
        text = planning.prompt_text(run, step, context, plan, interrupted=interrupted)
        return " ".join(run.redactor.text(text).split())

    def _stop_at_gate(self, run: ActiveRun, step: Step, gate: str, prompt: str) -> Iterator[Event]:
        how = resume_hint(run.id, step, gate)
        run.set_step(step, S.WAITING, "gate.reached", {"gate": gate, "prompt": prompt})
        yield GateReached(run.id, step.id, gate, prompt, how)
        yield self._finish(
            run, RunState.WAITING, f"stopped at {gate} gate {step.id!r}: run `{how}`"
        )

    def _run_action(self, run: ActiveRun, step: Step) -> Generator[Event, None, bool]:
        action = actions.get(step.action_name)
        attempt = run.attempts.get(step.id, 0)
        missing = missing_secrets(run.runbook, run.inputs, step)
        if missing:
            after = yield from self._fail(run, step, f"step {step.id!r} {missing}", attempt)
            return after == "skip"
        try:
            args = action.parse(run.render(step_args(step), run.context()))
        except RunbookError as exc:
            after = yield from self._fail(run, step, str(exc), attempt)
            return after == "skip"
        public_args = run.redactor.data(args.model_dump(mode="json"))
        live_plan = self._live_plan(run, step, action, args)  # the same on every attempt
        while True:
            attempt += 1
            run.set_step(
                step,
                S.RUNNING,
                "action.started",
                {"action": action.name, "args": public_args, "attempt": attempt},
                attempts=attempt,
                started=True,
            )
            yield StepStarted(run.id, step.id, step.kind, attempt, live_plan)
            try:
                output = call_with_timeout(action, args, self._action_context(run, step))
                if step.verify:
                    verdict = templating.evaluate(step.verify, {**run.context(), "output": output})
                    if not verdict:
                        raise ActionError(f"verify {step.verify.strip()!r} is false")
            except (RunbookError, DiscoveryError) as exc:
                error = run.redactor.text(str(exc))
                retry = attempt < step.retry.attempts
                delay = step.retry.delay(attempt) if retry else None
                run.set_step(
                    step,
                    S.RETRYING if retry else S.FAILED,
                    "action.failed",
                    {"action": action.name, "attempt": attempt, "error": error, "retry_in": delay},
                    error=error,
                )
                yield StepFailed(run.id, step.id, error, attempt, delay)
                if delay is not None:
                    self.sleep(delay)
                    continue
                after = yield from self._decide(run, step, error, attempt, retryable=True)
                if after == "retry":
                    continue
                return after == "skip"
            clean = run.redactor.data(output)
            run.outputs[step.id] = clean
            run.set_step(
                step,
                S.DONE,
                "action.succeeded",
                {"action": action.name, "attempt": attempt, "output": clean},
                output=clean,
                finished=True,
            )
            yield StepSucceeded(run.id, step.id, clean)
            return True

    def _fail(
        self, run: ActiveRun, step: Step, error: str, attempt: int
    ) -> Generator[Event, None, str]:
        """A step that failed before its action was called (calling again would not help)."""
        error = run.redactor.text(error)
        run.set_step(step, S.FAILED, "step.failed", {"error": error}, error=error)
        yield StepFailed(run.id, step.id, error, attempt, None)
        return (yield from self._decide(run, step, error, attempt, retryable=False))

    def _decide(
        self, run: ActiveRun, step: Step, error: str, attempt: int, *, retryable: bool
    ) -> Generator[Event, None, str]:
        """What follows a step that failed for good: ``retry``, ``skip`` or ``end`` (finished).

        The operator's choice is audited (``failure.CHOICE``, by the operator) with the step's
        new state before the engine acts on it; nobody asked means ``rollback``.
        """
        rollbacks = tuple(
            s.id
            for s in reversed(run.runbook.steps)
            if run.states.get(s.id) == S.DONE and s.rollback
        )
        choice = "rollback"
        if self.on_failure is not None:
            choices = tuple(
                c
                for c in FAILURE_CHOICES
                if (c != "retry" or retryable) and (c != "rollback" or rollbacks)
            )
            choice = self.on_failure(Failure(step, error, attempt, choices, rollbacks))
            if choice not in choices:
                raise RunbookUsageError(
                    f"step {step.id!r} failed: {choice!r} is not one of {', '.join(choices)}"
                )
            state = {"retry": S.RETRYING, "skip": S.SKIPPED}.get(choice, S.FAILED)
            run.set_step(
                step,
                state,
                f"failure.{choice}",
                {
                    "error": error,
                    "attempt": attempt,
                    "rollbacks": list(rollbacks) if choice == "rollback" else [],
                },
                actor=self.operator,
                error=error,
            )
            yield FailureDecided(run.id, step.id, choice, self.operator)
        if choice in ("retry", "skip"):
            return choice
        if choice == "rollback":
            yield from roll_back(run, step, self._action_context)
        outcome = f"step {step.id!r} failed: {error}"
        if choice == "stop":
            outcome += " (stopped by the operator, nothing rolled back)"
        yield self._finish(run, RunState.FAILED, outcome)
        return "end"

    def _finish(self, run: ActiveRun, state: RunState, outcome: str) -> RunFinished:
        outcome = run.redactor.text(outcome)
        self.runs.finish(run.id, run.driver, state, outcome, run.actor, run.subject.ref)
        return RunFinished(run.id, run.runbook.id, state.value, outcome, dict(run.states))

    # ------------------------------------------------------------------ helpers

    def _action_context(self, run: ActiveRun, step: Step) -> ActionContext:
        return run.action_context(step, self.store, self.transport, self.sleep)


def _whoami() -> str:
    try:
        return "operator:" + getpass.getuser()
    except (KeyError, OSError):
        return "operator:unknown"
