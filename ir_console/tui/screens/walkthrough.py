"""The runbook walkthrough: applicable runbooks, the dry-run plan first, then step by step.

The engine (``runbooks.engine``) is headless and yields typed events; it runs here in a worker
thread on its own case connection, and every event is posted to the screen as a message. When
the engine needs the responder (a gate through ``Approvals.confirm``, a step that failed for
good through ``on_failure``) the worker posts a question and waits; the screen's handler asks in
a modal (an irreversible step asks for its id to be typed; a failure offers retry, skip, roll
back or stop) and the engine persists and audits the answer. The runbook's declared inputs are
asked before a live run; secret ones are typed masked and live only in this screen's memory
(the engine redacts them from the case, the audit log and its events). When a run ends the
screen lists the audit entries it wrote.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, RichLog, Static
from textual.worker import get_current_worker

from discovery.errors import DiscoveryError
from discovery.views.page import Page
from discovery.views.rows import AuditRow
from ir_console.tui.data import when
from ir_console.tui.messages import CaseWritten, Failed
from ir_console.tui.modals import (
    ConfirmModal,
    FailureModal,
    InputsModal,
    InputValues,
)
from ir_console.tui.safety import SafetyMode
from ir_console.tui.screens.runbooks import STATE_STYLE
from ir_console.tui.state import ConsoleState, console_state
from ir_console.tui.stepoutput import output_summary, report_files
from ir_console.tui.widgets import KeyFooter, TopBar, safe

if TYPE_CHECKING:
    from runbooks.engine import Failure
    from runbooks.events import Event
    from runbooks.loader import LoadedRunbook
    from runbooks.model import Step

FAILURE_LABELS = {
    "retry": "retry the step (r)",
    "skip": "skip it and go on with the next step (s)",
    "rollback": "roll back the completed steps (b): ",
    "stop": "stop here, nothing rolled back (x)",
}
CANCELLED = object()  # what a question's wait returns when the app closes meanwhile
CHOICE_STATE = {"retry": "retrying", "skip": "skipped", "rollback": "failed", "stop": "failed"}


def _errors() -> tuple[type[Exception], ...]:
    from runbooks.errors import RunbookError

    return (RunbookError, DiscoveryError)


class EngineEvent(Message):
    """One event the engine yielded."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class Reply:
    """An answer the engine's worker waits for; given once, by a modal's callback."""

    def __init__(self) -> None:
        self._given = threading.Event()
        self.value: Any = None

    def give(self, value: Any) -> None:
        self.value = value
        self._given.set()

    def wait(self) -> Any:
        """The answer, or ``CANCELLED`` when the worker is cancelled (the app is closing)."""
        worker = get_current_worker()
        while not self._given.wait(0.1):
            if worker.is_cancelled:
                return CANCELLED
        return self.value


class GateAsked(Message):
    """The engine stopped at a gate and waits for the responder."""

    def __init__(self, step: Step, gate: str, prompt: str) -> None:
        super().__init__()
        self.step = step
        self.gate = gate
        self.prompt = prompt
        self.reply = Reply()


class FailureAsked(Message):
    """A step failed for good: the engine waits for retry, skip, rollback or stop."""

    def __init__(self, failure: Failure) -> None:
        super().__init__()
        self.failure = failure
        self.reply = Reply()


class OutcomeLoaded(Message):
    """The audit entries a finished run wrote (read through the query layer)."""

    def __init__(self, run_id: str, page: Page[AuditRow]) -> None:
        super().__init__()
        self.run_id = run_id
        self.page = page


class EngineDone(Message):
    """The engine's generator ended (``error`` when it raised one of our errors)."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error


class WalkthroughScreen(Screen[None]):
    """One runbook on one target: its plan, then its live run with a log."""

    BINDINGS: ClassVar = [
        Binding("g", "go", "Run live"),
        Binding("d", "plan", "Plan again"),
        Binding("i", "inputs", "Inputs"),
        Binding("u", "resume", "Resume"),
        Binding("escape", "close", "Close"),
        Binding("j", "log_down", "Down", show=False),
        Binding("k", "log_up", "Up", show=False),
    ]

    def __init__(
        self, loaded: LoadedRunbook | None, target: str, resume_run: str | None = None
    ) -> None:
        super().__init__()
        self.loaded = loaded
        self.target = target
        self.run_id: str | None = resume_run
        self.busy = False
        self.state: str | None = None
        self.outcome = ""
        self.events: list[Event] = []
        self.params: dict[str, str] = {}
        self._secrets: dict[str, str] = {}  # typed by the responder; memory only
        self.not_applicable: dict[str, str] = {}  # step id -> why it does not apply
        self.outputs: dict[str, dict[str, Any]] = {}  # step id -> what it returned

    @property
    def console(self) -> ConsoleState:
        return console_state(self.app)

    def compose(self) -> ComposeResult:
        name = self.loaded.runbook.id if self.loaded else "resume"
        yield TopBar(f"Runbook {name}")
        yield Static(self._header(), id="run-header")
        yield DataTable(id="run-plan", cursor_type="row")
        yield Static(Text(""), id="run-skipped")
        yield RichLog(id="run-log", wrap=True, markup=False, highlight=False)
        yield Static(Text(""), id="run-outcome")
        yield DataTable(id="run-audit", cursor_type="row")
        yield KeyFooter()

    def _header(self) -> Text:
        out = Text()
        if self.loaded is not None:
            out.append_text(safe(self.loaded.runbook.title, style="bold", limit=100))
            out.append("  on ")
        out.append_text(safe(self.target, style="bold", limit=100))
        return out

    def on_mount(self) -> None:
        table = self.query_one("#run-plan", DataTable)
        for column in ("#", "step", "kind", "state", "plan", "output"):
            table.add_column(column, key=column)
        audit_table = self.query_one("#run-audit", DataTable)
        for column in ("seq", "time", "actor", "action", "step", "details"):
            audit_table.add_column(column, key=column)
        self._show_outcome(False)
        self.query_one("#run-skipped", Static).display = False
        if self.run_id is not None:
            self.action_resume()
        elif self._needs_inputs():
            self.action_inputs()  # the plan cannot be made without them
        else:
            self.action_plan()

    def _needs_inputs(self) -> bool:
        """Whether a required input has no value, default, variable or vault (a plan fails)."""
        if self.loaded is None:
            return False
        return any(
            spec.required
            and spec.default is None
            and not spec.vault
            and name not in self.params
            and name not in self._secrets
            and not (spec.env and os.environ.get(spec.env))
            for name, spec in self.loaded.runbook.inputs.items()
        )

    def _show_outcome(self, shown: bool) -> None:
        self.query_one("#run-outcome", Static).display = shown
        self.query_one("#run-audit", DataTable).display = shown

    # ------------------------------------------------------------ driving the engine

    def _start(self, how: str) -> None:
        if self.busy:
            self.notify("the runbook is still running", markup=False)
            return
        self.busy = True
        self.refresh_bindings()
        self._drive(how)

    @work(thread=True, exclusive=True, group="engine")
    def _drive(self, how: str) -> None:
        from discovery.case.store import Store
        from runbooks.engine import Approvals, Engine

        try:
            with Store.open(self.console.case_path, create=False) as store:
                engine = Engine(
                    store,
                    approvals=Approvals(confirm=self._confirm),
                    operator="console",
                    secrets=dict(self._secrets),
                    on_failure=self._on_failure,
                )
                if how == "resume":
                    assert self.run_id is not None
                    events = engine.resume(self.run_id)
                else:
                    assert self.loaded is not None
                    events = engine.start(
                        self.loaded, self.target, dict(self.params), dry_run=how == "plan"
                    )
                for event in events:
                    self.post_message(EngineEvent(event))
        except _errors() as exc:
            self.post_message(EngineDone(str(exc)))
            return
        self.post_message(EngineDone())

    def _confirm(self, step: Step, gate: str, prompt: str) -> bool:
        """Called by the engine (worker thread) at a gate: ask and wait for the answer."""
        message = GateAsked(step, gate, prompt)
        self.post_message(message)
        return message.reply.wait() is True  # closing: the run stops at the gate

    def _on_failure(self, failure: Failure) -> str:
        """Called by the engine (worker thread) when a step failed for good."""
        from runbooks.errors import RunbookUsageError

        message = FailureAsked(failure)
        self.post_message(message)
        choice = message.reply.wait()
        if choice is CANCELLED:  # nobody chose: record no choice, the run stays resumable
            raise RunbookUsageError(
                f"the console closed before a choice for step "
                f"{failure.step.id!r}; resume the run to go on"
            )
        return str(choice)

    def on_gate_asked(self, message: GateAsked) -> None:
        question = Text(f"{message.gate.upper()} gate: step ", style="bold")
        question.append_text(safe(message.step.id, style="bold"))
        question.append("\n\n")
        question.append_text(safe(message.prompt, limit=600))
        typed = message.step.id if message.gate == "irreversible" else None
        yes = "Confirm done" if message.gate == "manual" else "Approve"
        self.app.push_screen(
            ConfirmModal(question, typed=typed, yes=yes), lambda ok: message.reply.give(bool(ok))
        )

    def on_failure_asked(self, message: FailureAsked) -> None:
        failure = message.failure
        title = Text("Step ", style="bold")
        title.append_text(safe(failure.step.id, style="bold"))
        title.append(f" failed (attempt {failure.attempt})", style="bold red")
        title.append("\n\n")
        title.append_text(safe(failure.error, limit=600))
        title.append("\n\nWhat now?")
        options = []
        for choice in failure.choices:
            label = Text(FAILURE_LABELS[choice])
            if choice == "rollback":
                label.append_text(safe(", ".join(failure.rollbacks), style="bold", limit=200))
            options.append((choice, label))
        self.app.push_screen(
            FailureModal(title, options), lambda choice: message.reply.give(choice or "stop")
        )

    # ------------------------------------------------------------ events

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        self.events.append(event)
        self.run_id = event.run_id
        data = event.to_json()
        name = data.pop("event")
        data.pop("run_id", None)
        log = self.query_one(RichLog)
        line = Text(f"{name:<15}", style="bold")
        step = data.pop("step", None)
        if step:
            line.append_text(safe(step, style="cyan", limit=40))
            line.append("  ")
        for key in (
            "plan",
            "error",
            "prompt",
            "reason",
            "choice",
            "outcome",
            "state",
            "gate",
            "how",
        ):
            if data.get(key):
                line.append(f"{key}: ", style="dim")
                line.append_text(safe(data[key], limit=400))
                line.append("  ")
        log.write(line)
        if name == "run_started" and not data.get("resumed"):
            table = self.query_one("#run-plan", DataTable)
            for row_key in list(table.rows):  # a new run: the plan stays, all steps pending
                table.update_cell(row_key, "state", safe("pending", style="dim"))
                table.update_cell(row_key, "output", Text(""))
            self.outputs = {}
            self._show_outcome(False)
        elif name == "step_planned" and data.get("skipped"):
            self._not_applicable(step, str(data["skipped"]))
        elif name == "step_skipped":  # its ``when`` is false in the live run
            self._not_applicable(step, str(data.get("reason", "")))
        elif name == "step_planned":
            self._set_row(step, event, "planned", data.get("plan", ""))
        elif name in (
            "step_started",
            "step_succeeded",
            "step_failed",
            "step_skipped",
            "gate_reached",
            "gate_passed",
            "rollback_step",
            "failure_decided",
        ):
            state = {
                "step_started": "running",
                "step_succeeded": "done",
                "failure_decided": CHOICE_STATE.get(data.get("choice", ""), "failed"),
                "step_failed": "failed" if data.get("retry_in") is None else "retrying",
                "step_skipped": "skipped",
                "gate_reached": "waiting",
                "gate_passed": "approved",
                "rollback_step": "rolled_back" if data.get("ok") else "rollback_failed",
            }[name]
            # a step that runs shows what it calls with the run's real values, then its output
            plan = data.get("plan") if name == "step_started" else None
            self._set_row(step, event, state, plan or None)
            if name == "step_succeeded" and step:
                self.outputs[step] = dict(getattr(event, "output", {}) or {})
                self._set_output(step, output_summary(self.outputs[step]))
        elif name == "run_finished":
            self.state = data.get("state")
            self.query_one("#run-header", Static).update(
                self._header()
                + Text(
                    f"   run {event.run_id}: {self.state}",
                    style=STATE_STYLE.get(self.state or "", ""),
                )
            )
            self.outcome = data.get("outcome", "")
            self._load_outcome(event.run_id)

    @work(thread=True, group="outcome")
    def _load_outcome(self, run_id: str) -> None:
        try:
            page = self.console.data.run_audit(run_id)
        except DiscoveryError as exc:
            self.post_message(EngineDone(f"could not read the run's audit entries: {exc}"))
            return
        self.post_message(OutcomeLoaded(run_id, page))

    def on_outcome_loaded(self, message: OutcomeLoaded) -> None:
        """The outcome view: the run's result and every audit entry it wrote, in order."""
        page = message.page
        head = Text("Outcome: ", style="bold")
        head.append_text(safe(self.outcome, limit=300))
        files = report_files(self.outputs.values())
        if files:
            head.append("\nReport: ", style="bold")
            head.append_text(safe(", ".join(files), limit=400))
        head.append(
            f"\n{page.total} audit entries written by run {message.run_id}"
            + (f" (first {len(page.rows)} shown)" if page.truncated else ""),
            style="dim",
        )
        self.query_one("#run-outcome", Static).update(head)
        table = self.query_one("#run-audit", DataTable)
        table.clear()
        for row in page.rows:
            details = dict(row.details) if isinstance(row.details, dict) else {}
            details.pop("run", None)
            step = details.pop("step", None)
            table.add_row(
                Text(str(row.seq)),
                Text(when(row.ts)),
                safe(row.actor, limit=30),
                safe(row.action, style="bold"),
                safe(step or "", limit=30),
                safe(json.dumps(details, sort_keys=True, default=str), limit=160),
                key=str(row.seq),
            )
        self._show_outcome(True)

    def _set_row(self, step: str | None, event: Event, state: str, plan: str | None) -> None:
        if not step:
            return
        table = self.query_one("#run-plan", DataTable)
        state_text = safe(state, style=STATE_STYLE.get(state, ""))
        if step in self.not_applicable:  # it runs after all (its condition turned true)
            del self.not_applicable[step]
            self._show_not_applicable()
        if step in table.rows:
            table.update_cell(step, "state", state_text)
            if plan is not None:
                table.update_cell(step, "plan", safe(plan, limit=200))
            return
        kind = getattr(event, "kind", "")
        table.add_row(
            Text(str(self._number(step, len(table.rows) + 1))),
            safe(step, limit=30),
            safe(kind),
            state_text,
            safe(plan or "", limit=200),
            Text(""),
            key=step,
        )

    def _number(self, step: str, otherwise: int) -> int:
        """The step's place in its runbook (rows of steps that do not apply are left out)."""
        if self.loaded is not None:
            ids = [s.id for s in self.loaded.runbook.steps]
            if step in ids:
                return ids.index(step) + 1
        return otherwise

    def _set_output(self, step: str, summary: str) -> None:
        table = self.query_one("#run-plan", DataTable)
        if step in table.rows:
            table.update_cell(step, "output", safe(summary, style="green", limit=160))

    def _not_applicable(self, step: str | None, reason: str) -> None:
        """A step that does not apply leaves the plan: it is named, with its reason, on the
        one line under it that gathers every such step (by reason)."""
        if not step:
            return
        table = self.query_one("#run-plan", DataTable)
        if step in table.rows:
            table.remove_row(step)
        self.not_applicable[step] = reason
        self._show_not_applicable()

    def _show_not_applicable(self) -> None:
        by_reason: dict[str, list[str]] = {}
        for step, reason in self.not_applicable.items():
            by_reason.setdefault(reason, []).append(step)
        out = Text()
        if by_reason:
            count = len(self.not_applicable)
            out.append(
                f"{count} step{'s' if count != 1 else ''} do{'es' if count == 1 else ''}"
                " not apply: ",
                style="dim",
            )
        for n, (reason, steps) in enumerate(by_reason.items()):
            if n:
                out.append("; ", style="dim")
            out.append_text(safe(", ".join(steps), style="bold", limit=200))
            out.append(" (", style="dim")
            out.append_text(safe(reason, style="dim", limit=200))
            out.append(")", style="dim")
        widget = self.query_one("#run-skipped", Static)
        widget.update(out)
        widget.display = bool(by_reason)

    def on_engine_done(self, message: EngineDone) -> None:
        self.busy = False
        self.refresh_bindings()
        if message.error:
            self.query_one(RichLog).write(
                safe(f"error: {message.error}", style="bold red", limit=600)
            )
            self.post_message(Failed("the runbook could not go on", message.error))
        self.post_message(CaseWritten())

    # ------------------------------------------------------------ actions

    def action_plan(self) -> None:
        if self.loaded is not None:
            self._start("plan")

    def action_inputs(self, then: str = "plan") -> None:
        """Ask for the runbook's declared inputs, then plan (or run live) with them."""
        if self.loaded is None or self.busy:
            return

        def given(values: InputValues | None) -> None:
            if values is None:
                return
            self.params = dict(values.params)
            self._secrets = dict(values.secrets)
            self._start(then)

        self.app.push_screen(
            InputsModal(
                self.loaded.runbook,
                self.params,
                self._secrets,
                yes="Run live" if then == "live" else "Plan",
            ),
            given,
        )

    def action_go(self) -> None:
        safety = self.console.safety
        if safety is not SafetyMode.LIVE:
            self.notify(
                f"{safety.label}: the runbook is only planned; press M for LIVE",
                markup=False,
                severity="warning",
            )
            if safety is SafetyMode.DRY_RUN:
                self.action_plan()
            return
        if self.loaded is None:
            return
        if self.loaded.runbook.inputs:
            self.action_inputs("live")
        else:
            self._start("live")

    def action_resume(self) -> None:
        if self.run_id is None or self.state not in (None, "waiting", "running"):
            self.notify("nothing to resume: start a live run with g", markup=False)
            return
        if self.console.safety is not SafetyMode.LIVE:
            self.notify(
                "resuming runs actions: press M for LIVE first", markup=False, severity="warning"
            )
            return
        self._start("resume")

    def action_close(self) -> None:
        if self.busy:
            self.notify("the runbook is still running", markup=False)
            return
        self.dismiss(None)

    def action_log_down(self) -> None:
        self.query_one(RichLog).scroll_down()

    def action_log_up(self) -> None:
        self.query_one(RichLog).scroll_up()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("go", "plan", "resume", "inputs") and self.busy:
            return None  # shown disabled while the engine runs
        if action == "go" and self.console.safety is not SafetyMode.LIVE:
            return None
        if action == "inputs":
            return self.loaded is not None and bool(self.loaded.runbook.inputs)
        return True
