"""The Textual console application: screens as modes, the safety badge, the case-change poll."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from discovery.errors import DiscoveryError
from ir_console.tui.data import CaseData
from ir_console.tui.messages import CaseChanged, Failed
from ir_console.tui.modals import ChoiceModal, ConfirmModal, ErrorModal
from ir_console.tui.screens.audit import AuditScreen
from ir_console.tui.screens.base import CaseScreen, ListScreen
from ir_console.tui.screens.endpoints import EndpointsScreen
from ir_console.tui.screens.findings import FindingsScreen
from ir_console.tui.screens.graph import GraphScreen
from ir_console.tui.screens.help import HelpScreen
from ir_console.tui.screens.identities import CredentialsScreen, IdentitiesScreen
from ir_console.tui.screens.live import LiveScreen
from ir_console.tui.screens.overview import OverviewScreen
from ir_console.tui.screens.runbooks import RunsScreen
from ir_console.tui.widgets import SAFETY_LABEL, safe

POLL_S = 1.0
SCREENS_BY_KEY = (
    ("1", "overview", "Overview"),
    ("2", "endpoints", "Endpoints"),
    ("3", "identities", "Identities"),
    ("4", "credentials", "Credentials"),
    ("5", "findings", "Findings"),
    ("6", "graph", "Graph explorer"),
    ("7", "live", "Live capture"),
    ("8", "runs", "Runbook runs"),
    ("9", "audit", "Audit timeline"),
)


class ConsoleApp(App[None]):
    """ir-console's terminal UI over one case file."""

    TITLE = "ir-console"
    CSS_PATH = "console.tcss"
    MODES: ClassVar = {
        "overview": OverviewScreen,
        "endpoints": EndpointsScreen,
        "identities": IdentitiesScreen,
        "credentials": CredentialsScreen,
        "findings": FindingsScreen,
        "graph": GraphScreen,
        "live": LiveScreen,
        "runs": RunsScreen,
        "audit": AuditScreen,
    }
    DEFAULT_MODE = "overview"
    BINDINGS: ClassVar = [
        *(
            Binding(key, f"app.switch_mode('{mode}')", title, show=False)
            for key, mode, title in SCREENS_BY_KEY
        ),
        Binding("question_mark", "help", "Help"),
        Binding("M", "choose_safety", "Mode"),
        Binding("q", "quit", "Quit"),
    ]

    safety: reactive[str] = reactive("read-only")

    def __init__(self, case_path: Path) -> None:
        super().__init__()
        self.case_path = Path(case_path)
        self.data = CaseData(self.case_path)
        self.case_version = 0
        self._seen_version = self.data.data_version()
        self.started_at = time.perf_counter()
        self.first_paint_at: float | None = None

    def on_mount(self) -> None:
        self.sub_title = self.case_path.name
        self.set_interval(POLL_S, self._poll_case)

    def on_unmount(self) -> None:
        self.data.close()

    # ------------------------------------------------------------ case changes

    def _poll_case(self) -> None:
        version = self.data.data_version()
        if version == self._seen_version:
            return
        self._seen_version = version
        self.case_changed()

    def case_changed(self) -> None:
        """Tell the visible screen to reload (others reload when shown again)."""
        self.case_version += 1
        if isinstance(self.screen, CaseScreen):
            self.screen.post_message(CaseChanged())

    def mark_painted(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()

    # ------------------------------------------------------------ navigation

    def jump(self, mode: str, filter_text: str) -> None:
        """Show ``mode`` with its filter set to ``filter_text``."""
        self.call_next(self._jump, mode, filter_text)

    async def _jump(self, mode: str, filter_text: str) -> None:
        await self.switch_mode(mode)
        if isinstance(self.screen, ListScreen):
            self.screen.set_filter(filter_text)

    def open_graph(self, kind: str, subject: str) -> None:
        self.call_next(self._open_graph, kind, subject)

    async def _open_graph(self, kind: str, subject: str) -> None:
        await self.switch_mode("graph")
        if isinstance(self.screen, GraphScreen):
            self.screen.show_subject(kind, subject)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def show_error(self, title: str, error: str) -> None:
        self.push_screen(ErrorModal(title, error))

    def on_failed(self, message: Failed) -> None:
        self.show_error(message.title, message.error)

    # ------------------------------------------------------------ safety mode

    def action_choose_safety(self) -> None:
        options = [
            ("read-only", Text("READ-ONLY  nothing is changed")),
            ("dry-run", Text("DRY-RUN    actions plan, call nothing")),
            ("live", Text("LIVE       actions run for real (asks to confirm)")),
        ]
        self.push_screen(
            ChoiceModal(Text("What should actions do?", style="bold"), options), self._safety_chosen
        )

    def _safety_chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        if choice != "live":
            self.safety = choice
            return
        question = Text("Switch to LIVE? Blocks and runbook actions will change real systems.")
        self.push_screen(
            ConfirmModal(question, typed="LIVE", yes="Go live"),
            lambda ok: self._set_safety("live" if ok else self.safety),
        )

    def _set_safety(self, value: str) -> None:
        self.safety = value

    # ------------------------------------------------------------ actions on subjects

    def request_block(self, kind: str, subject: str) -> None:
        """Block a credential or endpoint at the proxy, as the safety mode allows."""
        if kind not in ("credential", "endpoint"):
            self.notify("only credentials and endpoints can be blocked", markup=False)
            return
        label = f"{kind} {subject}"
        if self.safety == "read-only":
            self.notify(
                f"READ-ONLY: would block {label}; press M to change the mode",
                markup=False,
                severity="warning",
            )
            return
        if self.safety == "dry-run":
            self.notify(
                f"DRY-RUN: would add {label} to the proxy blocklist (nothing changed)", markup=False
            )
            return
        question = Text("Block ")
        question.append_text(safe(label, style="bold"))
        question.append(" at the proxy? The block is written to the audit log.")

        def answered(ok: bool | None) -> None:
            if ok:
                self._block(kind, subject)

        self.push_screen(ConfirmModal(question, yes="Block"), answered)

    @work(thread=True, group="block")
    def _block(self, kind: str, subject: str) -> None:
        try:
            if kind == "credential":
                self.data.block_credential(subject, "blocked from the console")
            else:
                key = self.data.endpoint_subject(int(subject))
                if key is None:
                    raise DiscoveryError(f"endpoint {subject} is no longer in the case")
                self.data.block_endpoint(key, "blocked from the console")
        except DiscoveryError as exc:
            self.post_message(Failed("could not block", str(exc)))
            return
        self.call_from_thread(self.notify, f"blocked {kind} {subject}", markup=False)
        self.call_from_thread(self._poll_case)

    def offer_runbooks(self, kind: str, subject: str) -> None:
        """Offer the runbooks that apply to a subject (the walkthrough)."""
        from ir_console.tui.screens import walkthrough

        walkthrough.offer(self, kind, subject)

    # ------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, mode, title in SCREENS_BY_KEY:
            yield SystemCommand(
                f"Go to {title}",
                f"show the {title.lower()} screen (key {key})",
                lambda mode=mode: self.switch_mode(mode),
            )
        for value, label in SAFETY_LABEL.items():
            yield SystemCommand(
                f"Mode: {label}",
                "what actions do from now on",
                lambda value=value: self._request_safety(value),
            )
        yield SystemCommand("Help", "keys and screens", self.action_help)

    def _request_safety(self, value: str) -> None:
        if value == "live":
            self._safety_chosen("live")
        else:
            self.safety = value
