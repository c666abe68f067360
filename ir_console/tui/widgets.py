"""Small widgets and helpers shared by the screens; every captured string goes through ``safe``."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
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


class VimTable(DataTable[Text]):
    """A row-cursor DataTable with vim keys."""

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


class FilterInput(Input):
    """The ``/`` filter: rows narrow as you type; escape returns to the table."""

    BINDINGS: ClassVar = [Binding("escape", "leave", "Back to list", show=True)]

    def __init__(self, placeholder: str = "/ filter: words, or key:value") -> None:
        super().__init__(placeholder=placeholder, id="filter")

    def action_leave(self) -> None:
        self.screen.focus_next(VimTable)


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
