"""Small widgets and helpers shared by the screens; every captured string goes through ``safe``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from discovery.severity import SEVERITIES
from ir_console.sanitize import MAX_CELL, clean
from ir_console.tui.safety import SafetyMode

STATUS_STYLE = {
    "documented": "green",
    "shadow": "bold yellow",
    "zombie": "bold red",
    "orphan": "dim",
}
# one style per severity, most severe first (discovery.severity holds the names and their order)
SEVERITY_STYLE = dict(
    zip(SEVERITIES, ("bold white on red", "bold red", "yellow", "cyan", "dim"), strict=True)
)


def safe(value: Any, style: str = "", limit: int | None = MAX_CELL) -> Text:
    """Captured text as a display-safe ``Text`` (sanitized, never parsed as markup)."""
    if value is None:
        return Text("-", style="dim")
    return Text(clean(value, limit=limit), style=style, no_wrap=True, overflow="ellipsis")


def line(*parts: tuple[str, Any] | str) -> Text:
    """A line from (label, value) pairs (values sanitized) and plain strings of our own."""
    out = Text()
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            label, value = part
            out.append(f"{label}: ", style="bold")
            out.append(clean("-" if value is None else value, limit=MAX_CELL * 2))
            out.append("  ")
    return out


def block_text(value: str) -> Text:
    """A multi-line block of captured text (e.g. JSON), sanitized but keeping newlines."""
    return Text("\n".join(clean(v, limit=MAX_CELL * 2) for v in value.splitlines()))


class ModeBadge(Static):
    """READ-ONLY / DRY-RUN / LIVE: what an action would do right now."""

    def on_mount(self) -> None:
        self.watch(self.app, "safety", self._show)

    def _show(self, safety: SafetyMode) -> None:
        self.set_classes(f"badge -{safety.value}")
        self.update(Text(f" {safety.label} "))


class TopBar(Horizontal):
    """The screen's name, the case file and the safety badge."""

    def __init__(self, title: str) -> None:
        super().__init__(id="topbar")
        self._title = title

    def compose(self) -> ComposeResult:
        yield Static(Text(f" {self._title}", style="bold"), id="screen-title")
        yield Static(Text(""), id="case-name")
        yield ModeBadge(id="badge")

    def on_mount(self) -> None:
        case = getattr(self.app, "case_path", None)
        if case is not None:
            self.query_one("#case-name", Static).update(safe(case.name, style="dim"))

    def set_title(self, title: str) -> None:
        """Show ``title`` (a breadcrumb: captured labels, so sanitized, never markup)."""
        self.query_one("#screen-title", Static).update(safe(f" {title}", style="bold", limit=None))


@dataclass(frozen=True, slots=True)
class Column:
    """A table column and how it gives way on a narrow terminal. ``drop``: columns that may go,
    the highest first (0: never dropped: ids, names and the counts that explain a row).
    ``flex``: a long text (a title, a path, a host) cut with "…" down to ``least`` cells before
    any column is dropped."""

    label: str
    drop: int = 0
    flex: bool = False
    least: int = 8


PADDING = 2  # a DataTable cell's padding: one cell each side


def fit_columns(columns: Sequence[Column], natural: Sequence[int], room: int) -> list[int | None]:
    """Each column's width in a table ``room`` cells wide (None: dropped), from the widths its
    cells ask (``natural``, the header's included): flexible columns are cut to their
    ``least`` first; if that is not enough, columns are dropped one at a time (highest
    ``drop`` first, the rightmost of equals) and the flexible ones cut again from their whole
    width (a dropped column's room goes to them); at last flexible columns are cut further (to
    3 cells at most). A column neither flexible nor dropped keeps its whole width: an id is
    never cut."""
    flexible = sorted((i for i, c in enumerate(columns) if c.flex), key=lambda i: -columns[i].drop)
    droppable = sorted(
        (i for i, c in enumerate(columns) if c.drop), key=lambda i: (-columns[i].drop, -i)
    )
    dropped: set[int] = set()
    while True:
        widths: list[int | None] = [None if i in dropped else w for i, w in enumerate(natural)]
        for i in flexible:
            current, over = widths[i], _over(widths, room)
            if over > 0 and current is not None:
                widths[i] = max(min(columns[i].least, current), current - over)
        if _over(widths, room) <= 0 or len(dropped) == len(droppable):
            break
        dropped.add(droppable[len(dropped)])
    for i in flexible:
        current, over = widths[i], _over(widths, room)
        if over > 0 and current is not None:
            widths[i] = max(min(3, current), current - over)
    return widths


def _over(widths: Sequence[int | None], room: int) -> int:
    """How many cells the shown columns need beyond ``room``."""
    return sum(w + PADDING for w in widths if w is not None) - room


def cell_width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


class VimTable(DataTable[Text]):
    """A row-cursor DataTable with vim keys, whose columns fit its width.

    Columns declared as ``Column`` give way when the table is narrower than its rows (``fit_columns``:
    long texts cut with "…", then low-value columns dropped), so at 80 columns every row reads
    whole instead of being clipped at the right edge; the table keeps every row's cells and
    lays them out again when its width or its rows change (the cursor stays on its row)."""

    BINDINGS: ClassVar = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("ctrl+d", "page_down", "Page down", show=False),
        Binding("ctrl+u", "page_up", "Page up", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._specs: list[Column] = []
        self._all_rows: list[tuple[tuple[Any, ...], str | None]] = []
        self._natural: list[int] = []
        self._widths: list[int | None] | None = None  # None: every column, as wide as it asks
        self._fit_queued = False

    def add_columns(self, *labels: Any) -> list[Any]:
        """Declare the columns (``Column``s, or plain labels that never give way)."""
        self._specs = [c if isinstance(c, Column) else Column(str(c)) for c in labels]
        self._natural = [len(c.label) for c in self._specs]
        self._widths = None
        return super().add_columns(*(c.label for c in self._specs))

    def add_row(
        self, *cells: Any, height: int | None = 1, key: str | None = None, label: Any = None
    ) -> Any:
        if not self._specs:
            return super().add_row(*cells, height=height, key=key, label=label)
        self._all_rows.append((cells, key))
        self._measure(cells)
        self._queue_fit()
        return super().add_row(*self._shown(cells), height=height, key=key, label=label)

    def set_rows(self, rows: Sequence[tuple[tuple[Any, ...], str | None]]) -> None:
        """Replace every row at once (``(cells, key)`` pairs): the columns are fitted to the
        table's width from the cells before any row is handed over, so each row is built
        once and the table is laid out once (``add_row`` row by row lays the columns out
        again after the rows are in, building every row twice)."""
        if not self._specs:
            super().clear()
            for cells, key in rows:
                super().add_row(*cells, key=key)
            return
        self._all_rows = list(rows)
        self._natural = [len(c.label) for c in self._specs]
        for cells, _key in self._all_rows:
            self._measure(cells)
        room = self.size.width - self.styles.scrollbar_size_vertical
        if room <= 0:  # not laid out yet: fitted once it is
            super().clear()
            for cells, key in self._all_rows:
                super().add_row(*self._shown(cells), key=key)
            self._queue_fit()
            return
        self._lay_out(fit_columns(self._specs, self._natural, room))

    def _measure(self, cells: tuple[Any, ...]) -> None:
        """Widen the columns' natural widths to ``cells``."""
        natural = self._natural
        for i, cell in enumerate(cells[: len(natural)]):
            natural[i] = max(natural[i], cell_width(cell))

    def _lay_out(self, widths: list[int | None]) -> None:
        """Columns at ``widths`` (None: dropped), then every row the table keeps, handed over."""
        self._widths = widths
        super().clear(columns=True)
        for spec, width in zip(self._specs, widths, strict=True):
            if width is not None:
                self.add_column(spec.label, width=width, key=spec.label)
        for cells, key in self._all_rows:
            super().add_row(*self._shown(cells), key=key)

    def clear(self, columns: bool = False) -> VimTable:
        self._all_rows = []
        if columns:
            self._specs, self._natural, self._widths = [], [], None
        else:
            self._natural = [len(c.label) for c in self._specs]
        super().clear(columns)
        return self

    def _shown(self, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        if self._widths is None:
            return cells
        return tuple(c for c, w in zip(cells, self._widths, strict=False) if w is not None)

    def on_resize(self, _event: events.Resize) -> None:
        self._queue_fit()

    def _queue_fit(self) -> None:
        if self._specs and not self._fit_queued:
            self._fit_queued = True
            self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Lay the columns out for the table's width (the rows it holds are kept)."""
        self._fit_queued = False
        room = self.size.width - self.styles.scrollbar_size_vertical
        if room <= 0 or not self._specs:
            return
        widths = fit_columns(self._specs, self._natural, room)
        if self._widths is None and widths == self._natural:
            return  # it all fits as it is
        if widths == self._widths:
            return
        cursor = None
        if self.row_count:
            cursor = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        self._lay_out(widths)
        if cursor is not None and cursor in self.rows:
            self.move_cursor(row=self.get_row_index(cursor), animate=False)


@dataclass(frozen=True, slots=True)
class FooterItem:
    """One key the footer shows: where it is drawn (``start``, ``end``) and what it presses."""

    key: str
    start: int
    end: int
    enabled: bool


class KeyFooter(Widget):
    """The keys that apply now, drawn as one line by one widget: Textual's ``Footer`` mounts a
    widget per key and mounts them all again whenever the bindings change (focus, a page
    opening), about a third of the CPU time of opening a subject's page. Looks like it (the
    command palette's key on the right); a click on a key presses it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyfooter--key",
        "keyfooter--description",
        "keyfooter--palette-edge",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .keyfooter--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .keyfooter--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .keyfooter--palette-edge {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._line: Text | None = None  # drawn for the bindings in force; None: draw again
        self._items: list[FooterItem] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def bindings_changed(self, _screen: Screen[Any]) -> None:
        self._line = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line = None

    def render(self) -> Text:
        if self._line is None:
            self._line = self._draw(self.size.width)
        return self._line

    def on_resize(self, _event: events.Resize) -> None:
        self._line = None

    def _draw(self, width: int) -> Text:
        key_style = self.get_component_rich_style("keyfooter--key")
        description_style = self.get_component_rich_style("keyfooter--description")
        app = self.app
        bindings = self.screen.active_bindings
        shown: dict[str, tuple[Binding, bool]] = {}  # one key per action, as Footer does
        for _node, binding, enabled, _tooltip in bindings.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (binding, enabled)
        palette = Text()
        palette_key = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in bindings:
            _node, binding, enabled, _tooltip = bindings[app.COMMAND_PALETTE_BINDING]
            palette_key = binding.key
            palette.append("▏", style=self.get_component_rich_style("keyfooter--palette-edge"))
            palette.append(app.get_key_display(binding), style=key_style)
            palette.append(f" {binding.description} ", style=description_style)
        room = max(0, width - palette.cell_len)
        line = Text(no_wrap=True, end="")
        items: list[FooterItem] = []
        for binding, enabled in shown.values():
            start = line.cell_len
            dim = Style() if enabled else Style(dim=True)
            line.append(f" {app.get_key_display(binding)} ", style=key_style + dim)
            if binding.description:
                line.append(f"{binding.description} ", style=description_style + dim)
            items.append(FooterItem(binding.key, start, min(line.cell_len, room), enabled))
        line.truncate(room, pad=True)
        if palette_key is not None:
            items.append(FooterItem(palette_key, room, width, True))
            line.append_text(palette)
        self._items = [item for item in items if item.start < item.end]
        return line

    def on_click(self, event: events.Click) -> None:
        for item in self._items:
            if item.start <= event.x < item.end:
                if item.enabled:
                    self.app.simulate_key(item.key.split(",")[0])
                else:
                    self.app.bell()
                return


class FilterInput(Input):
    """The ``/`` filter: rows narrow as you type; escape returns to the table."""

    BINDINGS: ClassVar = [Binding("escape", "leave", "Back to list", show=True)]

    def __init__(self, placeholder: str = "/ filter: words, or key:value") -> None:
        super().__init__(placeholder=placeholder, id="filter")

    def action_leave(self) -> None:
        self.screen.focus_next("VimTable, RowList")


class DetailPane(VerticalScroll):
    """A scrollable pane showing one item's details (Text only)."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Text("select a row to see its details", style="dim"), id="detail-body")

    def show(self, content: Text) -> None:
        self.query_one("#detail-body", Static).update(content)
        self.scroll_home(animate=False)
