"""The list screen every inventory view shares: filter as you type, a table, a detail pane.

Screens read the case through the app's ``ConsoleState`` (``ir_console.tui.state``) and post
messages for what the responder asks (``ir_console.tui.messages``); they never import the app.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from discovery.errors import DiscoveryError
from discovery.views.page import Page, Sort
from discovery.views.story import STORY_TYPES
from ir_console.tui.data import CaseData
from ir_console.tui.messages import (
    BlockRequested,
    CaseChanged,
    DetailLoaded,
    Failed,
    OpenGraph,
    OpenStory,
    Painted,
    RowsLoaded,
    RunbooksRequested,
    SubjectRef,
    UnblockRequested,
)
from ir_console.tui.state import ConsoleState, console_state
from ir_console.tui.widgets import Column, DetailPane, FilterInput, KeyFooter, TopBar, VimTable

# What reading the case may raise (SQLite's own errors arrive as CaseFileError).
DATA_ERRORS = (DiscoveryError,)
DETAIL_DELAY_S = 0.08
CRUMB_SEPARATOR = " › "
CRUMB = 18  # an earlier screen's name in the breadcrumb is cut to this


def copy_text(screen: Screen[Any], value: str, what: str) -> None:
    """Put ``value`` on the clipboard (the terminal's, by OSC 52) and say so."""
    screen.app.copy_to_clipboard(value)
    screen.notify(f"copied {what}: {value}", markup=False, timeout=4)


def copy_id(screen: Screen[Any], value: str) -> None:
    copy_text(screen, value, "id")


def _seen_through(app: App[Any]) -> list[Screen[Any]]:
    """The screens under the top one that show through it: each down to the first with an
    opaque background (those Textual lays out again with the top one when it is resized)."""
    under: list[Screen[Any]] = []
    for screen in reversed(app.screen_stack[:-1]):
        under.append(screen)
        if screen.styles.background.a == 1:
            break
    return under


class CaseScreen(Screen[None]):
    """A screen over the case: knows the app's data layer and reloads when the case changes."""

    TITLE_TEXT: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.loaded_version: int | None = None
        self.painted_at = 0.0  # when the data the screen last took was painted (benchmarks)
        self._shown_before = False

    def on_resize(self, event: events.Resize) -> None:
        """A screen just pushed is told its size after its first layout, and Textual then
        lays it out again and every screen under it too, at the size they already have
        (two of the five layouts of opening a page): skipped when nothing changed size."""
        if all(screen.outer_size == event.size for screen in [self, *_seen_through(self.app)]):
            event.prevent_default()  # Screen's own handler (Textual calls it after this one)
            event.stop()

    def mark_shown(self, announce: bool = False) -> None:
        """New data is in the widgets: ``painted_at`` is set once Textual has refreshed the
        screen with it (rendered the update), not when the rows were merely handed over;
        ``announce`` also tells the app (``Painted``: its first paint)."""
        self.call_after_refresh(self._painted, announce)

    def _painted(self, announce: bool) -> None:
        self.painted_at = time.perf_counter()
        if announce:
            self.post_message(Painted())

    @property
    def console(self) -> ConsoleState:
        return console_state(self.app)

    @property
    def data(self) -> CaseData:
        return self.console.data

    @property
    def crumb(self) -> str:
        """This screen's name in the breadcrumb."""
        return self.TITLE_TEXT

    def breadcrumb(self, width: int | None = None) -> str:
        """The screens that escape goes back through, oldest first, ending with this one
        (its oldest parts dropped to fit ``width``)."""
        crumbs = [s.crumb for s in self.app.screen_stack if isinstance(s, CaseScreen)]
        if not crumbs or crumbs[-1] != self.crumb:
            crumbs.append(self.crumb)
        width = width or max(20, self.app.size.width - 30)
        text = CRUMB_SEPARATOR.join(crumbs)
        if len(text) <= width:
            return text
        # too long: earlier names cut short, then the last one, then the oldest dropped
        crumbs = [c if len(c) <= CRUMB else c[: CRUMB - 1] + "…" for c in crumbs[:-1]] + crumbs[-1:]
        before = len(CRUMB_SEPARATOR.join([*crumbs[:-1], ""]))
        room = max(CRUMB, width - before)
        if len(crumbs[-1]) > room:
            crumbs[-1] = crumbs[-1][: room - 1] + "…"
        text = CRUMB_SEPARATOR.join(crumbs)
        while len(crumbs) > 1 and len(text) > width:
            crumbs = crumbs[1:]
            text = "…" + CRUMB_SEPARATOR + CRUMB_SEPARATOR.join(crumbs)
        return text

    def context_subject(self) -> SubjectRef | None:
        """The subject in view (what ``:run`` and the palette's actions apply to), if any."""
        return None

    def go_back(self) -> bool:
        """Back to the screen this one was opened from; False when it is the first."""
        stack = self.app.screen_stack
        if len(stack) > 1 and stack[-1] is self:
            self.app.pop_screen()
            return True
        return False

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Shown again: the case is read again if it changed meanwhile (the app tells only the
        screen on top). Textual styles every widget of a screen again each time it is shown
        (in Screen's own handler, which runs after this one); a screen shown for the first time
        was styled as its widgets mounted, a moment ago."""
        if not self._shown_before:
            self._shown_before = True
            event.refresh_styles = False
        if self.loaded_version is not None and self.loaded_version != self.console.case_version:
            self.reload()

    def on_case_changed(self, _message: CaseChanged) -> None:
        self.reload()

    def reload(self) -> None:
        """Reload what the screen shows (cheap, bounded queries)."""


class ListScreen(CaseScreen):
    """Filter + table + detail pane; subclasses say what to fetch and how to show it."""

    COLUMNS: ClassVar[tuple[str | Column, ...]] = ()
    AUTO_FOCUS = "#table"

    # (column header, Sort column) pairs ``s`` and header clicks sort by, in ``s``'s order
    SORTS: ClassVar[tuple[tuple[str, str], ...]] = ()
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("slash", "filter", "Filter"),
        Binding("z", "zoom", "Zoom details"),
        Binding("y", "copy_id", "Copy id"),
        Binding("s", "sort", "Sort"),
        Binding("escape", "unzoom", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0
        self.shown_generation = -1
        self.detail_key: str | None = None
        self.page: Page[Any] | None = None
        self._rows: dict[str, Any] = {}  # the page's rows by key
        self.detail: Any = None
        self._detail_timer: Timer | None = None
        self.detail_for: str | None = None  # the key the shown detail belongs to
        self.shown_at = 0.0  # when the table last took new rows (benchmarks read it)
        self.sort: Sort | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(self.TITLE_TEXT)
        yield FilterInput()
        yield VimTable(id="table")
        yield Static(Text(""), id="status-line")
        yield DetailPane(id="detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(VimTable)
        table.add_columns(*self.COLUMNS)
        table.focus()
        self.reload()

    # ------------------------------------------------------------ subclass hooks

    def fetch(self, data: CaseData, text: str) -> Page[Any]:
        raise NotImplementedError

    def row_key(self, row: Any) -> str:
        return str(row.id)

    def cells(self, row: Any) -> tuple[Text, ...]:
        raise NotImplementedError

    def fetch_detail(self, data: CaseData, key: str) -> Any:
        raise NotImplementedError

    def render_detail(self, detail: Any) -> Text:
        raise NotImplementedError

    def subject_of(self, row: Any) -> SubjectRef | None:
        """The subject a row is about (for graph, block and runbooks), if any."""
        return None

    def story_of(self, row: Any) -> SubjectRef | None:
        """The subject whose page enter opens for a row (its subject, when it has a page)."""
        subject = self.subject_of(row)
        return subject if subject is not None and subject.type in STORY_TYPES else None

    def row(self, key: str) -> Any:
        """The loaded row with this key, or None."""
        return self._rows.get(key)

    def highlighted(self) -> Any:
        """The highlighted row (as loaded), or None."""
        return None if self.detail_key is None else self.row(self.detail_key)

    def subject(self) -> SubjectRef | None:
        """The highlighted row's subject."""
        row = self.highlighted()
        return None if row is None else self.subject_of(row)

    def context_subject(self) -> SubjectRef | None:
        return self.subject()

    # ------------------------------------------------------------ loading

    @property
    def filter_text(self) -> str:
        return self.query_one(FilterInput).value

    def set_filter(self, text: str) -> None:
        """Replace the filter (used when another screen jumps here)."""
        self.query_one(FilterInput).value = text  # fires Input.Changed -> reload

    def reload(self) -> None:
        self.generation += 1
        self.loaded_version = self.console.case_version
        self._load_rows(self.filter_text, self.generation)

    @work(thread=True, exclusive=True, group="rows")
    def _load_rows(self, text: str, generation: int) -> None:
        try:
            page = self.fetch(self.data, text)
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        self.post_message(RowsLoaded(page, generation))

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(self, key: str) -> None:
        try:
            detail = self.fetch_detail(self.data, key)
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        self.post_message(DetailLoaded(key, detail))

    @on(Input.Changed, "#filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self.reload()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.query_one(VimTable).focus()

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        if message.generation < self.shown_generation:
            return
        self.shown_generation = message.generation
        self.page = message.page
        self._rows = {self.row_key(row): row for row in message.page.rows}
        table = self.query_one(VimTable)
        keep = self.detail_key
        table.clear()
        for row in message.page.rows:
            table.add_row(*self.cells(row), key=self.row_key(row))
        status = Text(f" {len(message.page.rows)} of {message.page.total}", style="dim")
        if self.sort is not None:
            label = dict((c, h) for h, c in self.SORTS).get(self.sort.column, self.sort.column)
            status.append(f"  sorted by {label}{' ↓' if self.sort.descending else ''}", style="dim")
        if message.page.truncated:
            status.append("  (first rows only: refine the filter)", style="dim")
        self.query_one("#status-line", Static).update(status)
        self.shown_at = time.perf_counter()
        self.mark_shown()
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        elif message.page.rows:
            table.move_cursor(row=0)
            self._highlight(self.row_key(message.page.rows[0]))
        else:
            self.detail_key = None
            self.detail = None
            self.query_one(DetailPane).show(Text("nothing matches", style="dim"))

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key is not None:
            self._highlight(key)

    def _highlight(self, key: str) -> None:
        if key == self.detail_key and self.detail is not None:
            return
        self.detail_key = key
        # Debounced: holding j or typing a filter loads one detail, not one per row passed.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY_S, lambda: self._load_detail(key))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        if message.key != self.detail_key:
            return
        self.detail = message.detail
        self.detail_for = message.key
        if message.detail is None:
            self.query_one(DetailPane).show(Text("no longer in the case", style="dim"))
        else:
            self.query_one(DetailPane).show(self.render_detail(message.detail))
        self.refresh_bindings()

    # ------------------------------------------------------------ actions

    def action_filter(self) -> None:
        self.query_one(FilterInput).focus()

    @on(DataTable.RowSelected)
    def _row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        """Open the highlighted row's page (its story); rows without one zoom their details."""
        row = self.highlighted()
        subject = None if row is None else self.story_of(row)
        if subject is not None:
            self.post_message(OpenStory(subject))
        else:
            self.action_zoom()

    def action_copy_id(self) -> None:
        if self.detail_key is not None:
            subject = self.subject()
            copy_id(self, subject.id if subject is not None else self.detail_key)

    def action_sort(self) -> None:
        """Sort by the next column (each column ascending, then descending, then the next)."""
        if not self.SORTS:
            return
        columns = [c for _, c in self.SORTS]
        if self.sort is None:
            self.sort = Sort(columns[0])
        elif not self.sort.descending:
            self.sort = Sort(self.sort.column, descending=True)
        else:
            i = columns.index(self.sort.column) if self.sort.column in columns else -1
            self.sort = None if i + 1 >= len(columns) else Sort(columns[i + 1])
        self.reload()

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = dict(self.SORTS).get(str(event.label))
        if column is None:
            return
        same = self.sort is not None and self.sort.column == column
        descending = same and self.sort is not None and not self.sort.descending
        self.sort = Sort(column, descending=descending)
        self.reload()

    def action_details(self) -> None:
        self.action_zoom()

    def action_zoom(self) -> None:
        pane = self.query_one(DetailPane)
        if self.maximized is pane:
            self.minimize()
            self.query_one(VimTable).focus()
        else:
            self.maximize(pane)
            pane.focus()

    def action_unzoom(self) -> None:
        """Escape: un-zoom (focus back on the list), or back to the previous screen."""
        if self.maximized is not None:
            self.minimize()
            self.query_one(VimTable).focus()
            return
        if not self.go_back():
            self.query_one(VimTable).focus()

    def action_graph(self) -> None:
        subject = self.subject()
        if subject is not None:
            self.post_message(OpenGraph(subject))

    def action_block(self) -> None:
        subject = self.subject()
        if subject is not None:
            self.post_message(BlockRequested(subject))

    def action_unblock(self) -> None:
        subject = self.subject()
        if subject is not None:
            self.post_message(UnblockRequested(subject))

    def action_runbooks(self) -> None:
        subject = self.subject()
        if subject is not None:
            self.post_message(RunbooksRequested(subject))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("graph", "block", "unblock", "runbooks"):
            return self.subject() is not None
        return True


SUBJECT_BINDINGS = [
    Binding("x", "graph", "Graph"),
    Binding("r", "runbooks", "Runbooks"),
]
BLOCK_BINDING = Binding("b", "block", "Block")
UNBLOCK_BINDING = Binding("u", "unblock", "Unblock")
