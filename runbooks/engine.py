"""The runbook engine: headless, a generator of typed events, every state change persisted first.

Order of work for each step: decide ``when``; stop at a gate unless approved; write the audit entry
and the step's ``running`` state in one transaction (no audit write, no action); call the action
with a timeout; write its result before the next step starts. A failed step is retried with
backoff; when it finally fails, completed steps that define a ``rollback`` are rolled back in
reverse order, unless an interactive surface gave ``on_failure``: then the operator chooses to
retry the step, skip it, roll back or stop, and that choice is audited like an approval. ``resume`` continues a killed or stopped run and never repeats a completed step;
an irreversible step found ``running`` (killed mid-call) needs a fresh approval before it is
tried again. A dry run plans every step and calls nothing.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import secrets as _random
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from discovery.case import audit
from discovery.case.store import Store, dumps
from discovery.errors import DiscoveryError
from discovery.timeutil import iso
from discovery.views.subjects import Subject, resolve_subject
from runbooks import actions, templating
from runbooks.actions.base import DEFAULT_TIMEOUT, Action, ActionContext
from runbooks.errors import (
    ActionError,
    AuditError,
    RunbookError,
    RunbookNotFound,
    RunbookUsageError,
)
from runbooks.events import (
    Event,
    FailureDecided,
    GatePassed,
    GateReached,
    RollbackStep,
    RunFinished,
    RunStarted,
    StepFailed,
    StepPlanned,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from runbooks.loader import LoadedRunbook, from_text
from runbooks.model import Input, Runbook, Step

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

REDACTED = "[secret]"
_INPUT_REF = re.compile(r"inputs\.([a-z_][a-z0-9_]*)")
DONE_STATES = frozenset({"done", "skipped"})
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
        if gate != "irreversible" and self.yes:
            return True
        return self.confirm(step, gate, prompt) if self.confirm is not None else False


def gate_of(step: Step) -> str | None:
    """The kind of gate a step is (``approval``, ``manual``, ``irreversible``), or None."""
    if step.kind == "approval":
        return "approval"
    if step.kind == "manual":
        return "manual"
    return "irreversible" if step.irreversible else None


def resolve_inputs(
    runbook: Runbook, params: Mapping[str, str], secrets: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(all input values, the secret ones) from ``--param``, stdin secrets, env and defaults."""
    unknown = sorted(set(params) - set(runbook.inputs))
    if unknown:
        raise RunbookUsageError(
            f"runbook {runbook.id} has no input {unknown[0]!r} "
            f"(inputs: {', '.join(runbook.inputs) or 'none'})"
        )
    values: dict[str, Any] = {}
    secret_values: dict[str, str] = {}
    for name, spec in runbook.inputs.items():
        if spec.secret and name in params:
            raise RunbookUsageError(
                f"input {name!r} is a secret: give it on stdin (--secret-stdin {name})"
                + (f" or in ${spec.env}" if spec.env else "")
                + ", never on the command line"
            )
        raw: Any = params.get(name)
        if raw is None and name in secrets:
            raw = secrets[name]
        if raw is None and spec.env and os.environ.get(spec.env):
            raw = os.environ[spec.env]
        if raw is None:
            if spec.required:
                how = "--secret-stdin" if spec.secret else "--param"
                raise RunbookUsageError(
                    f"runbook {runbook.id} needs input {name!r} ({how} {name}"
                    + ("=VALUE" if not spec.secret else "")
                    + ")"
                )
            values[name] = spec.default
            continue
        value = _coerce(name, spec, raw)
        values[name] = value
        if spec.secret:
            secret_values[name] = str(value)
    return values, secret_values


def _coerce(name: str, spec: Input, raw: Any) -> Any:
    try:
        if spec.type == "integer":
            value: Any = int(raw)
        elif spec.type == "number":
            value = float(raw)
        elif spec.type == "boolean":
            if isinstance(raw, bool):
                value = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError(raw)
        else:
            value = str(raw)
    except ValueError:
        raise RunbookUsageError(f"input {name!r} must be {spec.type}, got {raw!r}") from None
    if spec.choices is not None and value not in spec.choices:
        raise RunbookUsageError(
            f"input {name!r} must be one of {', '.join(map(str, spec.choices))}, got {value!r}"
        )
    return value


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


@dataclass
class _Run:
    """The engine's view of one run while it executes."""

    id: str
    loaded: LoadedRunbook
    target_text: str
    subject: Subject
    inputs: dict[str, Any]
    secrets: dict[str, str]
    dry_run: bool
    started_at: float
    states: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def runbook(self) -> Runbook:
        return self.loaded.runbook


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
        secrets = self._with_vault(runbook, subject)
        inputs, secret_values = resolve_inputs(runbook, params or {}, secrets)
        run = _Run(
            "r-" + _random.token_hex(6),
            loaded,
            target,
            subject,
            inputs,
            secret_values,
            dry_run,
            time.time(),
        )
        run.states = {s.id: ("planned" if dry_run else "pending") for s in runbook.steps}
        public = {k: v for k, v in inputs.items() if k not in secret_values}
        with self._write() as conn:
            audit.append(
                self.store,
                self._actor(run),
                "run.planned" if dry_run else "run.started",
                subject.ref,
                {
                    "run": run.id,
                    "runbook": runbook.id,
                    "runbook_sha256": loaded.sha256,
                    "inputs": public,
                    "secret_inputs": sorted(secret_values),
                    "dry_run": dry_run,
                },
                in_transaction=True,
            )
            conn.execute(
                "INSERT INTO runbook_runs(id, runbook_id, runbook_sha256, target, params, dry_run, "
                "state, started_at, runbook_source, actor, driver) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run.id,
                    runbook.id,
                    loaded.sha256,
                    target,
                    dumps(public),
                    int(dry_run),
                    "planned" if dry_run else "running",
                    run.started_at,
                    loaded.text,
                    self.operator,
                    _DRIVER,
                ),
            )
            conn.executemany(
                "INSERT INTO runbook_steps(run_id, idx, step_id, state) VALUES (?,?,?,?)",
                [(run.id, i, s.id, run.states[s.id]) for i, s in enumerate(runbook.steps)],
            )
        yield RunStarted(run.id, runbook.id, subject.to_json(), dry_run)
        if dry_run:
            yield from self._plan(run)
        else:
            yield from self._drive(run)

    def resume(self, run_id: str) -> Iterator[Event]:
        """Continue a run that stopped at a gate or was killed; completed steps are not repeated."""
        run = self._load(run_id)
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, driver FROM runbook_runs WHERE id = ?", (run.id,)
            ).fetchone()
            if row[0] == "running" and _driver_alive(row[1]):
                raise RunbookUsageError(
                    f"run {run.id} is being driven right now by process {row[1]}; "
                    "resume it when that process has stopped"
                )
            audit.append(
                self.store,
                self._actor(run),
                "run.resumed",
                run.subject.ref,
                {"run": run.id, "states": run.states},
                in_transaction=True,
            )
            conn.execute(
                "UPDATE runbook_runs SET state = 'running', finished_at = NULL, "
                "driver = ? WHERE id = ?",
                (_DRIVER, run.id),
            )
        yield RunStarted(run.id, run.runbook.id, run.subject.to_json(), False, resumed=True)
        yield from self._drive(run)

    def _with_vault(self, runbook: Runbook, subject: Subject) -> dict[str, str]:
        """The operator's secrets, plus the vault's for ``vault: true`` inputs not given."""
        secrets = dict(self.secrets)
        wanted = [
            name
            for name, spec in runbook.inputs.items()
            if spec.vault and name not in secrets and not (spec.env and os.environ.get(spec.env))
        ]
        if not wanted or subject.type != "credential":
            return secrets
        from runbooks.secretvault import SecretVault

        vault = SecretVault.from_env(self.store)
        kept = vault.get(subject.id) if vault is not None else None
        if kept is not None:
            for name in wanted:
                secrets[name] = kept
        return secrets

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction of audit entry + state; a failed write stops the run before acting."""
        try:
            with self.store.transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise AuditError(
                f"the audit log or run state could not be written ({exc}); nothing was done"
            ) from exc

    def _check_approvals(self, runbook: Runbook) -> None:
        """An approval for a step the runbook does not have is a typo: refuse it."""
        known = {s.id for s in runbook.steps}
        unknown = sorted(self.approvals.steps - known)
        if unknown:
            raise RunbookUsageError(
                f"--approve {unknown[0]}: runbook {runbook.id} has no such step "
                f"(steps: {', '.join(s.id for s in runbook.steps)})"
            )

    # ------------------------------------------------------------------ loading

    def _load(self, run_id: str) -> _Run:
        row = self.store.conn.execute(
            "SELECT runbook_id, runbook_sha256, target, params, dry_run, state, started_at, "
            "runbook_source FROM runbook_runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise RunbookNotFound(f"no run {run_id!r} in this case")
        if row[4]:
            raise RunbookUsageError(f"run {run_id} was a dry run: start a live run instead")
        if row[5] not in ("running", "waiting"):
            raise RunbookUsageError(f"run {run_id} is {row[5]}: nothing to resume")
        if not row[7]:
            raise RunbookUsageError(f"run {run_id} has no stored runbook text: cannot resume")
        loaded = from_text(row[7], f"run {run_id} ({row[0]})", "run")
        if loaded.sha256 != row[1]:
            raise RunbookUsageError(f"run {run_id}: stored runbook text does not match its hash")
        self._check_approvals(loaded.runbook)
        params = {k: str(v) for k, v in json.loads(row[3]).items() if v is not None}
        subject = resolve_subject(self.store, row[2])
        secrets = self._with_vault(loaded.runbook, subject)
        inputs, secret_values = resolve_inputs(loaded.runbook, params, secrets)
        run = _Run(run_id, loaded, row[2], subject, inputs, secret_values, False, float(row[6]))
        for step_id, state, attempts, output in self.store.conn.execute(
            "SELECT step_id, state, attempts, output FROM runbook_steps WHERE run_id = ? "
            "ORDER BY idx",
            (run_id,),
        ):
            run.states[step_id] = state
            run.attempts[step_id] = int(attempts)
            run.outputs[step_id] = json.loads(output)
        return run

    # ------------------------------------------------------------------ dry run

    def _plan(self, run: _Run) -> Iterator[Event]:
        for index, step in enumerate(run.runbook.steps):
            context = self._context(run)
            gate = gate_of(step)
            prefix = ""
            if step.when:
                cond = templating.evaluate(step.when, context, plan=True)
                if templating.is_unknown(cond):
                    prefix = f"if {step.when.strip()}: "
                elif not cond:
                    text = f"skipped: when {step.when.strip()!r} is false"
                    self._save_plan(run, index, step, "skipped", text)
                    yield StepPlanned(run.id, step.id, step.kind, text, None)
                    continue
            text = prefix + self._plan_text(run, step, context)
            if gate == "irreversible":
                granted = step.id in self.approvals.steps
                text += (
                    " [irreversible: approved with --approve]"
                    if granted
                    else f" [irreversible: stops here unless --approve {step.id}]"
                )
            elif gate is not None:
                text += f" [{gate} gate]"
            if step.rollback is not None:
                text += f" (rollback: {step.rollback.action})"
            self._save_plan(run, index, step, "planned", text)
            yield StepPlanned(run.id, step.id, step.kind, self._redact(run, text), gate)
        yield self._finish(run, "planned", "dry run: nothing was called")

    def _plan_text(self, run: _Run, step: Step, context: dict[str, Any]) -> str:
        action = actions.get(step.action_name)
        raw = self._step_args(step)
        rendered = templating.render(raw, context, plan=True)
        missing = self._missing_secrets(run, step)
        if missing:
            return f"{action.name}: {missing}"
        try:
            args = action.parse(rendered)
        except ActionError:
            return f"{action.name} with {json.dumps(rendered, default=str, sort_keys=True)}"
        return str(action.plan(args, self._action_context(run, step)))

    def _missing_secrets(self, run: _Run, step: Step) -> str | None:
        """Say which secret inputs this step uses that the operator has not given, if any."""
        used = set(_INPUT_REF.findall(json.dumps(self._step_args(step))))
        missing = [
            name
            for name in sorted(used)
            if name in run.runbook.inputs
            and run.runbook.inputs[name].secret
            and run.inputs.get(name) is None
        ]
        if not missing:
            return None
        hints = []
        for name in missing:
            env = run.runbook.inputs[name].env
            hints.append(f"--secret-stdin {name}" + (f" or ${env}" if env else ""))
        return f"needs the secret input {', '.join(missing)} ({'; '.join(hints)})"

    def _save_plan(self, run: _Run, index: int, step: Step, state: str, text: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE runbook_steps SET state = ?, output = ? WHERE run_id = ? AND step_id = ?",
                (state, dumps({"plan": self._redact(run, text)}), run.id, step.id),
            )
        run.states[step.id] = state

    # ------------------------------------------------------------------ live run

    def _drive(self, run: _Run) -> Iterator[Event]:
        for step in run.runbook.steps:
            state = run.states.get(step.id, "pending")
            if state in DONE_STATES:
                continue
            context = self._context(run)
            if step.when and state != "approved":
                try:
                    cond = templating.evaluate(step.when, context)
                except RunbookError as exc:
                    after = yield from self._fail(run, step, str(exc), run.attempts.get(step.id, 0))
                    if after == "skip":
                        continue
                    return
                if not cond:
                    reason = f"when {step.when.strip()!r} is false"
                    self._set_step(run, step, "skipped", "step.skipped", {"reason": reason})
                    yield StepSkipped(run.id, step.id, reason)
                    continue
            gate = gate_of(step)
            if gate is not None and state != "approved":
                prompt = self._prompt(run, step, gate, interrupted=state == "running")
                if not self.approvals.grants(step, gate, prompt):
                    yield from self._stop_at_gate(run, step, gate, prompt)
                    return
                action_name = "manual.confirmed" if gate == "manual" else "approval.granted"
                new_state = "approved" if step.kind == "action" else "done"
                self._set_step(
                    run,
                    step,
                    new_state,
                    action_name,
                    {"gate": gate, "prompt": prompt},
                    actor=self.operator,
                )
                yield GatePassed(run.id, step.id, gate, self.operator)
                if step.kind != "action":
                    yield StepSucceeded(run.id, step.id, {"confirmed_by": self.operator})
                    continue
            ok = yield from self._run_action(run, step)
            if not ok:
                return
        yield self._finish(run, "succeeded", "all steps done")

    def _prompt(self, run: _Run, step: Step, gate: str, *, interrupted: bool) -> str:
        if step.kind == "manual":
            text = str(templating.render(step.manual or "", self._context(run), plan=True))
        elif step.kind == "approval":
            text = str(templating.render(step.approval or "", self._context(run), plan=True))
        else:
            text = self._plan_text(run, step, self._context(run))
            if interrupted:
                text = (
                    "INTERRUPTED while running (it may have completed; check before "
                    "approving again): " + text
                )
        return " ".join(self._redact(run, text).split())

    def _stop_at_gate(self, run: _Run, step: Step, gate: str, prompt: str) -> Iterator[Event]:
        how = (
            f"ir-console runbook resume {run.id} --approve {step.id}"
            if gate == "irreversible"
            else f"ir-console runbook resume {run.id} --yes"
        )
        self._set_step(run, step, "waiting", "gate.reached", {"gate": gate, "prompt": prompt})
        yield GateReached(run.id, step.id, gate, prompt, how)
        yield self._finish(run, "waiting", f"stopped at {gate} gate {step.id!r}: run `{how}`")

    def _run_action(self, run: _Run, step: Step) -> Generator[Event, None, bool]:
        action = actions.get(step.action_name)
        attempt = run.attempts.get(step.id, 0)
        missing = self._missing_secrets(run, step)
        if missing:
            after = yield from self._fail(run, step, f"step {step.id!r} {missing}", attempt)
            return after == "skip"
        try:
            args = action.parse(templating.render(self._step_args(step), self._context(run)))
        except RunbookError as exc:
            after = yield from self._fail(run, step, str(exc), attempt)
            return after == "skip"
        public_args = self._redact_data(run, args.model_dump(mode="json"))
        while True:
            attempt += 1
            self._set_step(
                run,
                step,
                "running",
                "action.started",
                {"action": action.name, "args": public_args, "attempt": attempt},
                attempts=attempt,
                started=True,
            )
            yield StepStarted(run.id, step.id, step.kind, attempt)
            ctx = self._action_context(run, step)
            try:
                output = _call_with_timeout(action, args, ctx)
                if step.verify:
                    verdict = templating.evaluate(
                        step.verify, {**self._context(run), "output": output}
                    )
                    if not verdict:
                        raise ActionError(f"verify {step.verify.strip()!r} is false")
            except (RunbookError, DiscoveryError) as exc:
                error = self._redact(run, str(exc))
                retry = attempt < step.retry.attempts
                delay = step.retry.delay(attempt) if retry else None
                self._set_step(
                    run,
                    step,
                    "retrying" if retry else "failed",
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
            clean = self._redact_data(run, output)
            run.outputs[step.id] = clean
            self._set_step(
                run,
                step,
                "done",
                "action.succeeded",
                {"action": action.name, "attempt": attempt, "output": clean},
                output=clean,
                finished=True,
            )
            yield StepSucceeded(run.id, step.id, clean)
            return True

    def _fail(self, run: _Run, step: Step, error: str, attempt: int) -> Generator[Event, None, str]:
        """A step that failed before its action was called (calling again would not help)."""
        error = self._redact(run, error)
        self._set_step(run, step, "failed", "step.failed", {"error": error}, error=error)
        yield StepFailed(run.id, step.id, error, attempt, None)
        return (yield from self._decide(run, step, error, attempt, retryable=False))

    def _decide(
        self, run: _Run, step: Step, error: str, attempt: int, *, retryable: bool
    ) -> Generator[Event, None, str]:
        """What follows a step that failed for good: ``retry``, ``skip`` or ``end`` (finished).

        The operator's choice is audited (``failure.CHOICE``, by the operator) with the step's
        new state before the engine acts on it; nobody asked means ``rollback``.
        """
        rollbacks = tuple(
            s.id
            for s in reversed(run.runbook.steps)
            if run.states.get(s.id) == "done" and s.rollback
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
            state = {"retry": "retrying", "skip": "skipped"}.get(choice, "failed")
            self._set_step(
                run,
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
            yield from self._rollback(run, step)
        outcome = f"step {step.id!r} failed: {error}"
        if choice == "stop":
            outcome += " (stopped by the operator, nothing rolled back)"
        yield self._finish(run, "failed", outcome)
        return "end"

    def _rollback(self, run: _Run, failed: Step) -> Iterator[Event]:
        """Undo completed steps that define a rollback, newest first."""
        done = [s for s in run.runbook.steps if run.states.get(s.id) == "done" and s.rollback]
        for step in reversed(done):
            call = step.rollback
            assert call is not None
            action = actions.get(call.action)
            context = {**self._context(run), "output": run.outputs.get(step.id, {})}
            try:
                args = action.parse(templating.render(dict(call.with_), context))
                public_args = self._redact_data(run, args.model_dump(mode="json"))
                self._set_step(
                    run,
                    step,
                    "rolling_back",
                    "rollback.started",
                    {"action": action.name, "args": public_args, "because": failed.id},
                )
                ctx = self._action_context(run, step)
                output = _call_with_timeout(action, args, ctx)
            except (RunbookError, DiscoveryError) as exc:
                error = self._redact(run, str(exc))
                self._set_step(
                    run,
                    step,
                    "rollback_failed",
                    "rollback.failed",
                    {"action": action.name, "error": error},
                    error=error,
                )
                yield RollbackStep(run.id, step.id, action.name, False, error)
                continue
            self._set_step(
                run,
                step,
                "rolled_back",
                "rollback.succeeded",
                {"action": action.name, "output": self._redact_data(run, output)},
            )
            yield RollbackStep(run.id, step.id, action.name, True)

    def _finish(self, run: _Run, state: str, outcome: str) -> RunFinished:
        outcome = self._redact(run, outcome)
        with self._write() as conn:
            audit.append(
                self.store,
                self._actor(run),
                f"run.{state}",
                run.subject.ref,
                {"run": run.id, "outcome": outcome},
                in_transaction=True,
            )
            conn.execute(
                "UPDATE runbook_runs SET state = ?, outcome = ?, finished_at = ? WHERE id = ?",
                (state, outcome, None if state == "waiting" else time.time(), run.id),
            )
        return RunFinished(run.id, run.runbook.id, state, outcome, dict(run.states))

    # ------------------------------------------------------------------ helpers

    def _set_step(
        self,
        run: _Run,
        step: Step,
        state: str,
        audit_action: str,
        details: dict[str, Any],
        *,
        actor: str | None = None,
        attempts: int | None = None,
        output: dict[str, Any] | None = None,
        error: str | None = None,
        started: bool = False,
        finished: bool = False,
    ) -> None:
        """Audit first, then the step's new state, in one transaction."""
        now = time.time()
        with self._write() as conn:
            audit.append(
                self.store,
                actor or self._actor(run),
                audit_action,
                run.subject.ref,
                {"run": run.id, "step": step.id, **details},
                in_transaction=True,
            )
            conn.execute(
                "UPDATE runbook_steps SET state = ?, attempts = COALESCE(?, attempts), "
                "output = COALESCE(?, output), error = ?, "
                "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
                "WHERE run_id = ? AND step_id = ?",
                (
                    state,
                    attempts,
                    None if output is None else dumps(output),
                    error,
                    started,
                    now,
                    finished,
                    now,
                    run.id,
                    step.id,
                ),
            )
            if state == "waiting":
                conn.execute("UPDATE runbook_runs SET state = 'waiting' WHERE id = ?", (run.id,))
        run.states[step.id] = state
        if attempts is not None:
            run.attempts[step.id] = attempts

    def _context(self, run: _Run) -> dict[str, Any]:
        target = {**run.subject.facts, **run.subject.to_json()}
        return {
            "target": target,
            "inputs": dict(run.inputs),
            "steps": {
                sid: {"state": run.states.get(sid), "output": out}
                for sid, out in run.outputs.items()
            },
            "run": {
                "id": run.id,
                "started_at": iso(run.started_at),
                "started_ts": run.started_at,
                "dry_run": run.dry_run,
                "runbook": run.runbook.id,
            },
        }

    def _step_args(self, step: Step) -> dict[str, Any]:
        if step.kind == "manual":
            return {"instructions": step.manual}
        if step.kind == "approval":
            return {"prompt": step.approval}
        return dict(step.with_)

    def _action_context(self, run: _Run, step: Step) -> ActionContext:
        return ActionContext(
            store=self.store,
            run_id=run.id,
            step_id=step.id,
            target=self._context(run)["target"],
            actor=self._actor(run),
            timeout=step.timeout or DEFAULT_TIMEOUT,
            transport=self.transport,
            started_at=run.started_at,
            secret_values=set(run.secrets.values()),
            sleep=self.sleep,
        )

    def _actor(self, run: _Run) -> str:
        return f"runbook:{run.id}"

    def _redact(self, run: _Run, text: str) -> str:
        for secret in run.secrets.values():
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def _redact_data(self, run: _Run, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(run, value)
        if isinstance(value, dict):
            return {k: self._redact_data(run, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_data(run, v) for v in value]
        return value


def _call_with_timeout(action: Action[Any], args: Any, ctx: ActionContext) -> dict[str, Any]:
    """Run an action in a daemon thread; ActionError when it outlives ``timeout`` seconds.

    Actions also pass the timeout to their own I/O (HTTP clients, subprocesses), so an abandoned
    thread ends soon after; the engine does not wait for it.
    """
    box: dict[str, Any] = {}
    name, timeout = action.name, ctx.timeout

    def target() -> None:
        try:
            box["value"] = action.run(args, ctx)
        except (RunbookError, DiscoveryError) as exc:
            box["error"] = exc
        except Exception as exc:  # an action's bug becomes a failed step, logged
            log.exception("action %s raised an unexpected error", name)
            box["error"] = ActionError(f"{name}: unexpected {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=target, name=f"action-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ActionError(f"{name}: timed out after {timeout:g}s")
    if "error" in box:
        raise box["error"]
    value = box.get("value")
    if not isinstance(value, dict):
        raise ActionError(f"{name}: returned {type(value).__name__}, not an output mapping")
    return value


_DRIVER = f"{socket.gethostname()} {os.getpid()}"


def _driver_alive(driver: str | None) -> bool:
    """Whether the process recorded as driving a run still lives (only knowable on this host)."""
    if not driver:
        return False
    host, _, pid = driver.rpartition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process: its earlier generator was abandoned
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _whoami() -> str:
    try:
        return "operator:" + getpass.getuser()
    except (KeyError, OSError):
        return "operator:unknown"
