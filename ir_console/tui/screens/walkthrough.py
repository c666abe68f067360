"""The runbook walkthrough: applicable runbooks, the dry-run plan first, then step by step.

The engine (``runbooks.engine``) is headless and yields typed events; it runs here in a worker
thread on its own case connection, and every event is posted to the screen as a message. Gates
reach the responder through ``Approvals.confirm``: the worker blocks while a modal asks (an
irreversible step asks for its id to be typed). Retries and rollback are the runbook's own
(``retry:``, ``rollback:``): the log shows them as they happen.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static

from discovery.errors import DiscoveryError
from ir_console.tui.modals import ChoiceModal, ConfirmModal
from ir_console.tui.screens.runbooks import STATE_STYLE
from ir_console.tui.widgets import TopBar, safe

if TYPE_CHECKING:
    from ir_console.tui.app import ConsoleApp
    from runbooks.events import Event
    from runbooks.loader import LoadedRunbook
    from runbooks.model import Step


def _errors() -> tuple[type[Exception], ...]:
    from runbooks.errors import RunbookError

    return (RunbookError, DiscoveryError)


def target_ref(app: ConsoleApp, kind: str, subject: str) -> str | None:
    """The subject named the way the engine resolves it (``TYPE:ID``)."""
    if kind == "endpoint":
        key = app.data.endpoint_subject(int(subject))
        return f"endpoint:{key}" if key else None
    return f"{kind}:{subject}"


def offer(app: ConsoleApp, kind: str, subject: str) -> None:
    """Offer the runbooks that apply to ``subject``; the chosen one opens on its plan."""
    from runbooks import loader

    try:
        applicable = [r for r in loader.load_all().values() if kind in r.runbook.applies_to]
    except _errors() as exc:
        app.show_error("could not load the runbooks", str(exc))
        return
    if not applicable:
        app.notify(f"no runbook applies to a {kind}", markup=False)
        return
    ref = target_ref(app, kind, subject)
    if ref is None:
        app.notify(f"{kind} {subject} is no longer in the case", markup=False)
        return
    by_id = {r.runbook.id: r for r in applicable}
    title = Text("Runbooks for ")
    title.append_text(safe(ref, style="bold", limit=100))
    options = []
    for r in applicable:
        label = Text(f"{r.runbook.id}  ", style="bold")
        label.append_text(safe(r.runbook.title, limit=60))
        options.append((r.runbook.id, label))

    def chosen(runbook_id: str | None) -> None:
        if runbook_id is not None:
            app.push_screen(WalkthroughScreen(by_id[runbook_id], ref))

    app.push_screen(ChoiceModal(title, options), chosen)


class EngineEvent(Message):
    """One event the engine yielded."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


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
        Binding("u", "resume", "Resume"),
        Binding("escape", "close", "Close"),
        Binding("j", "log_down", "Down", show=False),
        Binding("k", "log_up", "Up", show=False),
    ]

    def __init__(self, loaded: LoadedRunbook | None, target: str,
                 resume_run: str | None = None) -> None:
        super().__init__()
        self.loaded = loaded
        self.target = target
        self.run_id: str | None = resume_run
        self.busy = False
        self.state: str | None = None
        self.events: list[Event] = []

    @property
    def console(self) -> ConsoleApp:
        from ir_console.tui.app import ConsoleApp

        assert isinstance(self.app, ConsoleApp)
        return self.app

    def compose(self) -> ComposeResult:
        name = self.loaded.runbook.id if self.loaded else "resume"
        yield TopBar(f"Runbook {name}")
        yield Static(self._header(), id="run-header")
        yield DataTable(id="run-plan", cursor_type="row")
        yield RichLog(id="run-log", wrap=True, markup=False, highlight=False)
        yield Footer()

    def _header(self) -> Text:
        out = Text()
        if self.loaded is not None:
            out.append_text(safe(self.loaded.runbook.title, style="bold", limit=100))
            out.append("  on ")
        out.append_text(safe(self.target, style="bold", limit=100))
        return out

    def on_mount(self) -> None:
        table = self.query_one("#run-plan", DataTable)
        for column in ("#", "step", "kind", "state", "plan"):
            table.add_column(column, key=column)
        if self.run_id is not None:
            self.action_resume()
        else:
            self.action_plan()

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
        from discovery.store import Store
        from runbooks.engine import Approvals, Engine

        try:
            with Store.open(self.console.case_path, create=False) as store:
                engine = Engine(store, approvals=Approvals(confirm=self._confirm),
                                operator="console")
                if how == "resume":
                    assert self.run_id is not None
                    events = engine.resume(self.run_id)
                else:
                    assert self.loaded is not None
                    events = engine.start(self.loaded, self.target, {},
                                          dry_run=how == "plan")
                for event in events:
                    self.post_message(EngineEvent(event))
        except _errors() as exc:
            self.post_message(EngineDone(str(exc)))
            return
        self.post_message(EngineDone())

    def _confirm(self, step: Step, gate: str, prompt: str) -> bool:
        """Called by the engine (worker thread) at a gate: ask in a modal and wait."""
        answered = threading.Event()
        result = [False]

        def ask() -> None:
            question = Text(f"{gate.upper()} gate: step ", style="bold")
            question.append_text(safe(step.id, style="bold"))
            question.append("\n\n")
            question.append_text(safe(prompt, limit=600))
            typed = step.id if gate == "irreversible" else None
            yes = "Confirm done" if gate == "manual" else "Approve"

            def done(ok: bool | None) -> None:
                result[0] = bool(ok)
                answered.set()

            self.app.push_screen(ConfirmModal(question, typed=typed, yes=yes), done)

        self.app.call_from_thread(ask)
        answered.wait()
        return result[0]

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
        for key in ("plan", "error", "prompt", "reason", "outcome", "state", "gate", "how"):
            if data.get(key):
                line.append(f"{key}: ", style="dim")
                line.append_text(safe(data[key], limit=400))
                line.append("  ")
        log.write(line)
        if name == "run_started" and not data.get("resumed"):
            table = self.query_one("#run-plan", DataTable)
            for key in list(table.rows):  # a new run: the plan stays, every step pending
                table.update_cell(key, "state", safe("pending", style="dim"))
        elif name == "step_planned":
            self._set_row(step, event, "planned", data.get("plan", ""))
        elif name in ("step_started", "step_succeeded", "step_failed", "step_skipped",
                      "gate_reached", "gate_passed", "rollback_step"):
            state = {"step_started": "running", "step_succeeded": "done",
                     "step_failed": "failed" if data.get("retry_in") is None else "retrying",
                     "step_skipped": "skipped", "gate_reached": "waiting",
                     "gate_passed": "approved",
                     "rollback_step": "rolled_back" if data.get("ok") else "rollback_failed",
                     }[name]
            self._set_row(step, event, state, None)
        elif name == "run_finished":
            self.state = data.get("state")
            self.query_one("#run-header", Static).update(
                self._header() + Text(f"   run {event.run_id}: {self.state}",
                                      style=STATE_STYLE.get(self.state or "", "")))

    def _set_row(self, step: str | None, event: Event, state: str, plan: str | None) -> None:
        if not step:
            return
        table = self.query_one("#run-plan", DataTable)
        state_text = safe(state, style=STATE_STYLE.get(state, ""))
        if step in table.rows:
            table.update_cell(step, "state", state_text)
            if plan is not None:
                table.update_cell(step, "plan", safe(plan, limit=200))
            return
        kind = getattr(event, "kind", "")
        table.add_row(Text(str(len(table.rows) + 1)), safe(step, limit=30), safe(kind),
                      state_text, safe(plan or "", limit=200), key=step)

    def on_engine_done(self, message: EngineDone) -> None:
        self.busy = False
        self.refresh_bindings()
        if message.error:
            self.query_one(RichLog).write(safe(f"error: {message.error}", style="bold red",
                                               limit=600))
            self.console.show_error("the runbook could not go on", message.error)
        self.console.case_changed()

    # ------------------------------------------------------------ actions

    def action_plan(self) -> None:
        if self.loaded is not None:
            self._start("plan")

    def action_go(self) -> None:
        safety = self.console.safety
        if safety != "live":
            self.notify(f"{safety.upper()}: the runbook is only planned; press M for LIVE",
                        markup=False, severity="warning")
            if safety == "dry-run":
                self.action_plan()
            return
        if self.loaded is None:
            return
        self._start("live")

    def action_resume(self) -> None:
        if self.run_id is None or self.state not in (None, "waiting", "running"):
            self.notify("nothing to resume: start a live run with g", markup=False)
            return
        if self.console.safety != "live":
            self.notify("resuming runs actions: press M for LIVE first", markup=False,
                        severity="warning")
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
        if action in ("go", "plan", "resume") and self.busy:
            return None  # shown disabled while the engine runs
        if action == "go" and self.console.safety != "live":
            return None
        return True


def resume_run(app: ConsoleApp, run_id: str, target: str) -> None:
    """Open the walkthrough on an interrupted or waiting run and resume it."""
    app.push_screen(WalkthroughScreen(None, target, resume_run=run_id))
