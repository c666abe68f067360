"""The Textual console application: screens as modes, the safety mode, the case-change poll.

The app owns the state screens read (``ConsoleState``: the case, the safety mode) and handles
the messages they post (``ir_console.tui.messages``): jumps between screens, the graph
explorer, blocks, runbooks, errors. Screens never import this module.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from discovery.errors import DiscoveryError, SubjectNotFound
from discovery.views.story import STORY_TYPES, Story
from ir_console.suggest import did_you_mean
from ir_console.tui.commandline import CommandError, CommandLine, parse
from ir_console.tui.data import CaseData
from ir_console.tui.messages import (
    BlockRequested,
    CaseChanged,
    CaseWritten,
    CommandRequested,
    Failed,
    JumpTo,
    Notice,
    OpenExchange,
    OpenGraph,
    OpenStory,
    Painted,
    ResumeRequested,
    RunbooksRequested,
    SearchRequested,
    SubjectRef,
    UnblockRequested,
)
from ir_console.tui.modals import ChoiceModal, ConfirmModal, ErrorModal
from ir_console.tui.safety import SafetyMode
from ir_console.tui.screens.audit import AuditScreen
from ir_console.tui.screens.base import CaseScreen, ListScreen
from ir_console.tui.screens.endpoints import EndpointsScreen
from ir_console.tui.screens.exchange import ExchangeScreen
from ir_console.tui.screens.findings import FindingsScreen
from ir_console.tui.screens.graph import GraphScreen
from ir_console.tui.screens.help import HelpScreen
from ir_console.tui.screens.identities import CredentialsScreen, IdentitiesScreen
from ir_console.tui.screens.live import LiveScreen
from ir_console.tui.screens.overview import OverviewScreen
from ir_console.tui.screens.runbooks import RunsScreen
from ir_console.tui.screens.search import SearchModal
from ir_console.tui.screens.story import StoryLoaded, StoryScreen, timeline_buckets
from ir_console.tui.screens.walkthrough import WalkthroughScreen
from ir_console.tui.widgets import safe

POLL_S = 1.0
SWITCH_INTERVAL_S = 0.0005  # see on_mount
STORY_WAIT_S = 0.5  # a subject's page waits this long for its story before showing "loading…"


class StoryRead(Message):
    """A subject's story, read for the page about to open (``error``: why it could not be)."""

    def __init__(
        self, subject: SubjectRef, token: int, version: int, story: Story | None, error: str | None
    ) -> None:
        super().__init__()
        self.subject = subject
        self.token = token
        self.version = version
        self.story = story
        self.error = error


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
BLOCKABLE = ("credential", "endpoint")
# what the palette offers on the screen it was opened from, when that screen can do it
SCREEN_ACTIONS = (
    ("open", "Open the highlighted row", "its page (its story), or its details (enter)"),
    ("copy_id", "Copy the highlighted id", "to the clipboard (y)"),
    ("copy_command", "Copy the extraction command", "tshark writing this exchange's frames (c)"),
    ("sort", "Sort by the next column", "s; a column header click sorts by it"),
    ("filter", "Filter the list", "the CLI's words: status:shadow,zombie requests:>5 -host:x (/)"),
    ("graph", "Explore in the graph", "blast radius, exposure (x)"),
    ("runbooks", "Runbooks for this subject", "plan, approvals, run (r)"),
    ("block", "Block at the proxy", "as the mode allows: READ-ONLY refuses (b)"),
    ("unblock", "Unblock at the proxy", "LIVE only, confirmed, audited (u)"),
    ("find_secret", "Find a leaked secret", "masked; fingerprinted like credentials find (f)"),
    ("more", "Load more exchanges", "the next page, in time order (n)"),
)


class ConsoleApp(App[None]):
    """ir-console's terminal UI over one case file."""

    TITLE = "ir-console"
    CSS_PATH = "console.tcss"
    ALLOW_IN_MAXIMIZED_VIEW = "KeyFooter"  # the keys stay in view over a zoomed pane
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
        Binding("colon", "command_line", "Command", show=False),
        Binding("M", "choose_safety", "Mode"),
        Binding("q", "quit", "Quit"),
    ]

    safety: reactive[SafetyMode] = reactive(SafetyMode.READ_ONLY)

    def __init__(self, case_path: Path) -> None:
        super().__init__()
        self.case_path = Path(case_path)
        self.data = CaseData(self.case_path)
        self.case_version = 0
        self._seen_version = self.data.data_version()
        self._poll_failing = False
        self.started_at = time.perf_counter()
        self.first_paint_at: float | None = None
        self._switch_interval = sys.getswitchinterval()
        self._story_token = 0
        self._story_pending: dict[int, StoryScreen | None] = {}  # read -> its page, if shown

    def on_mount(self) -> None:
        self.sub_title = self.case_path.name
        self.set_interval(POLL_S, self._poll_case)
        # Workers read the case while this thread lays the screen out: SQLite answers with the
        # GIL released, and a worker waiting to take it back would otherwise wait up to 5 ms
        # (Python's default switch interval) per row while the screen is being drawn.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)

    def on_unmount(self) -> None:
        sys.setswitchinterval(self._switch_interval)
        self.data.close()

    # ------------------------------------------------------------ case changes

    def _poll_case(self) -> None:
        try:
            version = self.data.data_version()
        except DiscoveryError as exc:
            if not self._poll_failing:  # said once, not every second until it reads again
                self._poll_failing = True
                self.show_error("could not read the case", str(exc))
            return
        self._poll_failing = False
        if version == self._seen_version:
            return
        self._seen_version = version
        self.case_version += 1
        # others reload when shown again; no screen at all while the app shuts down (a worker's
        # CaseWritten can arrive after the last screen is gone)
        if self.screen_stack and isinstance(self.screen, CaseScreen):
            self.screen.post_message(CaseChanged())

    def on_case_written(self, _message: CaseWritten) -> None:
        self._poll_case()

    def on_painted(self, message: Painted) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = message.at

    # ------------------------------------------------------------ navigation

    async def on_jump_to(self, message: JumpTo) -> None:
        await self.switch_mode(message.mode)
        if isinstance(self.screen, ListScreen):
            self.screen.set_filter(message.filter_text)

    async def on_open_graph(self, message: OpenGraph) -> None:
        await self.switch_mode("graph")
        if isinstance(self.screen, GraphScreen):
            self.screen.show_subject(message.subject)

    def on_open_story(self, message: OpenStory) -> None:
        self.open_story(message.subject)

    def open_story(self, subject: SubjectRef) -> None:
        """Show a subject's page once its story is read, so the page is laid out and drawn
        once, with its data (no "loading…" first); a read slower than ``STORY_WAIT_S``
        shows the page at once, and the page takes the story when it comes."""
        self._story_token += 1
        token = self._story_token
        # an earlier page not shown yet never will be: this one was asked for after it
        self._story_pending = {t: s for t, s in self._story_pending.items() if s is not None}
        self._story_pending[token] = None
        self._read_story(subject, timeline_buckets(self.size.width), token, self.case_version)
        self.set_timer(STORY_WAIT_S, lambda: self._story_late(token, subject))

    def _story_late(self, token: int, subject: SubjectRef) -> None:
        if token in self._story_pending and self._story_pending[token] is None:
            screen = self._story_pending[token] = StoryScreen(subject, awaited=True)
            self.push_screen(screen)

    @work(thread=True, group="story-read")
    def _read_story(self, subject: SubjectRef, buckets: int, token: int, version: int) -> None:
        try:
            story = self.data.story(subject.type, subject.id, buckets=buckets)
        except DiscoveryError as exc:
            self.post_message(StoryRead(subject, token, version, None, str(exc)))
            return
        self.post_message(StoryRead(subject, token, version, story, None))

    def on_story_read(self, message: StoryRead) -> None:
        if message.token not in self._story_pending:
            return  # another page was asked for first
        shown = self._story_pending.pop(message.token)
        if message.error is not None:
            if shown is not None and self.screen is shown:
                self.pop_screen()
            self.show_error("could not read the case", message.error)
        elif shown is None:
            self.push_screen(StoryScreen(message.subject, (message.story, message.version)))
        else:
            shown.loaded_version = message.version
            shown.post_message(StoryLoaded(message.story))

    def on_open_exchange(self, message: OpenExchange) -> None:
        self.push_screen(ExchangeScreen(message.exchange_id))

    def context_subject(self) -> SubjectRef | None:
        """The subject the responder is looking at (a page's, or the highlighted row's)."""
        screen = self.screen
        return screen.context_subject() if isinstance(screen, CaseScreen) else None

    # ------------------------------------------------------------ the command line

    def action_command_line(self) -> None:
        if isinstance(self.screen, CommandLine):
            return
        context = self.context_subject()

        def entered(text: str | None) -> None:
            if text:
                self.post_message(CommandRequested(text, context))

        self.push_screen(CommandLine(), entered)

    async def on_command_requested(self, message: CommandRequested) -> None:
        """Run a command line: switch screens, open a subject or an exchange, block, run."""
        try:
            command = parse(message.text)
        except CommandError as exc:
            self.notify(str(exc), markup=False, severity="warning")
            return
        verb, argument = command.verb, command.argument
        if command.screen is not None:
            await self.switch_mode(command.screen)
            if argument and isinstance(self.screen, ListScreen):
                self.screen.set_filter(argument)
        elif verb == "help":
            self.action_help()
        elif verb == "quit":
            self.exit()
        elif verb == "search":
            self.action_search()
        elif verb == "exchange":
            if argument.isdigit():
                self.push_screen(ExchangeScreen(int(argument)))
            else:
                self.notify("name an exchange by its number: :x 14", markup=False)
        elif verb in STORY_TYPES:
            if argument:
                self._find_subject(verb, argument, "open")
            elif message.context is not None and message.context.type == verb:
                self.open_story(message.context)
            else:
                self.notify(f"name a {verb}: :{verb} WORDS", markup=False)
        elif verb == "block":
            if argument:
                self._find_subject(None, argument, "block")
            elif message.context is not None:
                self.on_block_requested(BlockRequested(message.context))
        elif verb == "run":
            runbook_id, _, target = argument.partition(" ")
            if not runbook_id:
                self.notify("name a runbook: :run RUNBOOK [TARGET]", markup=False)
            elif target.strip():
                self._find_subject(None, target.strip(), f"run:{runbook_id}")
            elif message.context is not None:
                self._open_runbook(runbook_id, message.context)
            else:
                self.notify(
                    f"run {runbook_id} on what? open a subject first, or :run {runbook_id} TARGET",
                    markup=False,
                )

    @work(thread=True, exclusive=True, group="command")
    def _find_subject(self, kind: str | None, text: str, then: str) -> None:
        """The subjects ``text`` names (of ``kind``): exactly, else by the case-wide search."""
        found: list[tuple[SubjectRef, str]] = []
        try:
            try:
                subject = self.data.resolve(f"{kind}:{text}" if kind else text)
                if kind is None or subject.type == kind:
                    found = [(SubjectRef(subject.type, subject.id), subject.label)]
            except SubjectNotFound:
                types = (kind,) if kind else STORY_TYPES
                found = [
                    (SubjectRef(hit.type, hit.id), hit.label)
                    for hit in self.data.search(text)
                    if hit.type in types
                ]
        except DiscoveryError as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        self.call_from_thread(self._found, kind, text, found, then)

    def _found(
        self, kind: str | None, text: str, found: list[tuple[SubjectRef, str]], then: str
    ) -> None:
        if not found:
            what = kind or "subject"
            self.notify(
                f"no {what} matches {text!r}; :search {text} looks through the whole case",
                markup=False,
                severity="warning",
            )
            return
        if len(found) == 1:
            self._act(found[0][0], then)
            return
        options = []
        for subject, label in found[:40]:
            option = Text(f"{subject.type:<11}", style="dim")
            option.append_text(safe(label, limit=90))
            options.append((subject.ref, option))
        title = Text(f"{len(found)} match {text!r}: which one?", style="bold")
        self.push_screen(
            ChoiceModal(title, options),
            lambda ref: self._act(SubjectRef.parse(ref), then) if ref else None,
        )

    def _act(self, subject: SubjectRef, then: str) -> None:
        if then == "open":
            self.open_story(subject)
        elif then == "block":
            self.on_block_requested(BlockRequested(subject))
        elif then.startswith("run:"):
            self._open_runbook(then.removeprefix("run:"), subject)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_search_requested(self, _message: SearchRequested) -> None:
        self.action_search()

    def action_search(self) -> None:
        """Search the whole case; the chosen subject opens on its screen."""
        if not isinstance(self.screen, SearchModal):
            self.push_screen(SearchModal(self.data))

    def show_error(self, title: str, error: str) -> None:
        self.push_screen(ErrorModal(title, error))

    def on_failed(self, message: Failed) -> None:
        self.show_error(message.title, message.error)

    def on_notice(self, message: Notice) -> None:
        self.notify(
            message.text, markup=False, severity="warning" if message.warning else "information"
        )

    # ------------------------------------------------------------ safety mode

    def action_choose_safety(self) -> None:
        options = [(mode.value, Text(f"{mode.label:<10} {mode.meaning}")) for mode in SafetyMode]
        self.push_screen(
            ChoiceModal(Text("What should actions do?", style="bold"), options), self._safety_chosen
        )

    def _safety_chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        mode = SafetyMode(choice)
        if mode is not SafetyMode.LIVE:
            self.safety = mode
            return
        question = Text("Switch to LIVE? Blocks and runbook actions will change real systems.")
        self.push_screen(
            ConfirmModal(question, typed="LIVE", yes="Go live"),
            lambda ok: self._set_safety(SafetyMode.LIVE if ok else self.safety),
        )

    def _set_safety(self, mode: SafetyMode) -> None:
        self.safety = mode

    # ------------------------------------------------------------ actions on subjects

    def on_block_requested(self, message: BlockRequested) -> None:
        """Block a credential or endpoint at the proxy, as the safety mode allows."""
        subject = message.subject
        if subject.type not in BLOCKABLE:
            self.notify("only credentials and endpoints can be blocked", markup=False)
            return
        label = f"{subject.type} {subject.id}"
        if self.safety is SafetyMode.READ_ONLY:
            self.notify(
                f"READ-ONLY: would block {label}; press M to change the mode",
                markup=False,
                severity="warning",
            )
            return
        if self.safety is SafetyMode.DRY_RUN:
            self.notify(
                f"DRY-RUN: would add {label} to the proxy blocklist (nothing changed)", markup=False
            )
            return
        question = Text("Block ")
        question.append_text(safe(label, style="bold"))
        question.append(" at the proxy? The block is written to the audit log.")

        def answered(ok: bool | None) -> None:
            if ok:
                self._block(subject)

        self.push_screen(ConfirmModal(question, yes="Block"), answered)

    def on_unblock_requested(self, message: UnblockRequested) -> None:
        """Remove a credential's or endpoint's block, as the safety mode allows (audited)."""
        subject = message.subject
        if subject.type not in BLOCKABLE:
            self.notify("only credentials and endpoints are blocked or unblocked", markup=False)
            return
        label = f"{subject.type} {subject.id}"
        if self.safety is SafetyMode.READ_ONLY:
            self.notify(
                f"READ-ONLY: would unblock {label}; press M to change the mode",
                markup=False,
                severity="warning",
            )
            return
        if self.safety is SafetyMode.DRY_RUN:
            self.notify(
                f"DRY-RUN: would remove {label} from the proxy blocklist (nothing changed)",
                markup=False,
            )
            return
        question = Text("Unblock ")
        question.append_text(safe(label, style="bold"))
        question.append(
            "? The proxy lets it through again once it applied the change. "
            "The unblock is written to the audit log."
        )

        def answered(ok: bool | None) -> None:
            if ok:
                self._unblock(subject)

        self.push_screen(ConfirmModal(question, yes="Unblock"), answered)

    @work(thread=True, group="block")
    def _unblock(self, subject: SubjectRef) -> None:
        try:
            removed = self.data.unblock(subject.type, subject.id)
        except DiscoveryError as exc:
            self.post_message(Failed("could not unblock", str(exc)))
            return
        if not removed:
            self.post_message(Notice(f"{subject.type} {subject.id} was not blocked", True))
            return
        try:
            state = self.data.wait_until_applied()
        except DiscoveryError as exc:
            self.post_message(Failed("could not read the proxies' heartbeats", str(exc)))
            return
        self.post_message(
            Notice(f"unblocked {subject.type} {subject.id}: {state.unblock_sentence()}")
        )
        self.post_message(CaseWritten())

    @work(thread=True, group="block")
    def _block(self, subject: SubjectRef) -> None:
        try:
            if subject.type == "credential":
                self.data.block_credential(subject.id, "blocked from the console")
            else:
                self.data.block_endpoint(subject.id, "blocked from the console")
        except DiscoveryError as exc:
            self.post_message(Failed("could not block", str(exc)))
            return
        try:
            state = self.data.wait_until_applied()
        except DiscoveryError as exc:
            self.post_message(Failed("could not read the proxies' heartbeats", str(exc)))
            return
        self.post_message(
            Notice(f"blocked {subject.type} {subject.id}: {state.sentence()}", not state.enforced)
        )
        self.post_message(CaseWritten())

    def _runbooks(self) -> dict[str, Any] | None:
        """The runbooks by id (None, said in an error dialog, when they cannot be loaded)."""
        from runbooks import loader
        from runbooks.errors import RunbookError

        try:
            return dict(loader.load_all())
        except (RunbookError, DiscoveryError) as exc:
            self.show_error("could not load the runbooks", str(exc))
            return None

    def _open_runbook(self, runbook_id: str, subject: SubjectRef) -> None:
        """Open runbook ``runbook_id`` on ``subject`` at its plan (``:run``)."""
        loaded = self._runbooks()
        if loaded is None:
            return
        by_id = {r.runbook.id: r for r in loaded.values()}
        if runbook_id not in by_id:
            self.notify(
                f"no runbook {runbook_id!r}{did_you_mean(runbook_id, sorted(by_id))}",
                markup=False,
                severity="warning",
            )
            return
        chosen = by_id[runbook_id]
        if subject.type not in chosen.runbook.applies_to:
            applies = ", ".join(chosen.runbook.applies_to)
            self.notify(
                f"{runbook_id} applies to {applies}, not to a {subject.type}",
                markup=False,
                severity="warning",
            )
            return
        self.push_screen(WalkthroughScreen(chosen, subject.ref))

    def on_runbooks_requested(self, message: RunbooksRequested) -> None:
        """Offer the runbooks that apply to a subject; the chosen one opens on its plan."""
        subject = message.subject
        loaded = self._runbooks()
        if loaded is None:
            return
        applicable = [r for r in loaded.values() if subject.type in r.runbook.applies_to]
        if not applicable:
            self.notify(f"no runbook applies to a {subject.type}", markup=False)
            return
        by_id = {r.runbook.id: r for r in applicable}
        title = Text("Runbooks for ")
        title.append_text(safe(subject.ref, style="bold", limit=100))
        options = []
        for r in applicable:
            label = Text(f"{r.runbook.id}  ", style="bold")
            label.append_text(safe(r.runbook.title, limit=60))
            options.append((r.runbook.id, label))

        def chosen(runbook_id: str | None) -> None:
            if runbook_id is not None:
                self.push_screen(WalkthroughScreen(by_id[runbook_id], subject.ref))

        self.push_screen(ChoiceModal(title, options), chosen)

    def on_resume_requested(self, message: ResumeRequested) -> None:
        self.push_screen(WalkthroughScreen(None, message.target, resume_run=message.run_id))

    # ------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, mode, title in SCREENS_BY_KEY:
            yield SystemCommand(
                f"Go to {title}",
                f"show the {title.lower()} screen (key {key})",
                lambda mode=mode: self.switch_mode(mode),
            )
        yield SystemCommand(
            "Search the case",
            "hosts, endpoints, identities, credentials, findings (/ on the overview)",
            self.action_search,
        )
        for mode in SafetyMode:
            yield SystemCommand(
                f"Mode: {mode.label}",
                "what actions do from now on",
                lambda mode=mode: self._request_safety(mode),
            )
        yield SystemCommand("Help", "keys and screens", self.action_help)
        yield SystemCommand(
            "Command line",
            "open a subject, an exchange, run or block (key :)",
            self.action_command_line,
        )
        for action, title, help_text in SCREEN_ACTIONS:
            if hasattr(screen, f"action_{action}") and screen.check_action(action, ()) is not False:
                yield SystemCommand(
                    title, help_text, lambda action=action: screen.run_action(action)
                )

    def _request_safety(self, mode: SafetyMode) -> None:
        if mode is SafetyMode.LIVE:
            self._safety_chosen(mode.value)
        else:
            self.safety = mode
