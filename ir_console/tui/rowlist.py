"""A long list of rows drawn line by line: only the lines in view are drawn, each once.

``RowList`` is a Textual Line API widget (``ScrollView`` + ``render_line``): it keeps its rows'
cells (``Text``, already sanitized by the screen) and draws a line when Textual asks for it,
from a cache of ``Strip``s, so a page of thousands of exchanges costs what its visible lines
cost. A ``DataTable`` builds a renderable per cell and lays itself out again for every change;
opening a subject's page spent about 40% of its drawing there. The columns give way on a
narrow terminal like ``VimTable``'s (``fit_columns``: long texts cut with "…", then low-value
columns dropped; an id is never cut); the header stays on the first line; vim keys, the mouse
(a click moves the cursor, a click on the cursor's row selects it, a click on a header asks
for a sort) and enter work as on the console's other tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ir_console.tui.widgets import PADDING, Column, cell_width, fit_columns

Row = tuple[tuple[Text, ...], str | None]  # a row's cells and its key


class RowList(ScrollView, can_focus=True):
    """Rows with a fixed header, a row cursor and columns that fit the width."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowlist--header",
        "rowlist--cursor",
        "rowlist--even-row",
    }
    DEFAULT_CSS = """
    RowList {
        background: $surface;
        color: $foreground;
        width: 1fr;
        height: auto;
        max-height: 100%;
        overflow-x: hidden;
        &:focus {
            background-tint: $foreground 5%;
            & > .rowlist--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .rowlist--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .rowlist--even-row {
            background: $surface-darken-1 40%;
        }
        & > .rowlist--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .rowlist--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .rowlist--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .rowlist--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS: ClassVar = [
        Binding("enter", "select", "Open", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("home,g", "first", "Top", show=False),
        Binding("end,G", "last", "Bottom", show=False),
        Binding("pagedown,ctrl+d", "page_down", "Page down", show=False),
        Binding("pageup,ctrl+u", "page_up", "Page up", show=False),
    ]

    class Selected(Message):
        """Enter (or a click on the cursor's row) on a row."""

        def __init__(self, rows: RowList, key: str | None) -> None:
            super().__init__()
            self.rows = rows
            self.key = key

        @property
        def control(self) -> RowList:
            return self.rows

    class HeaderClicked(Message):
        """A click on a column's header (the screen may sort by it)."""

        def __init__(self, rows: RowList, label: str) -> None:
            super().__init__()
            self.rows = rows
            self.label = label

        @property
        def control(self) -> RowList:
            return self.rows

    def __init__(self, *columns: Column | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._columns = [c if isinstance(c, Column) else Column(str(c)) for c in columns]
        self._rows: list[Row] = []
        self._natural = [len(c.label) for c in self._columns]
        self._cursor = 0
        self._widths: list[int | None] = []
        self._fitted_for = -1  # the width ``_widths`` were fitted to
        self._strips: dict[tuple[int, bool], Strip] = {}  # (row, is the cursor's) -> its line
        self._styles: tuple[Style, Style, Style, Style] | None = None  # base, header, even, cursor

    # ------------------------------------------------------------ rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None when the list is empty)."""
        return self._rows[self._cursor][1] if self._rows else None

    def key_at(self, index: int) -> str | None:
        return self._rows[index][1]

    def cells_at(self, index: int) -> tuple[Text, ...]:
        """Every cell of a row, the dropped columns' too."""
        return self._rows[index][0]

    def index_of(self, key: str) -> int | None:
        for i, (_cells, row_key) in enumerate(self._rows):
            if row_key == key:
                return i
        return None

    @property
    def shown_labels(self) -> list[str]:
        """The labels of the columns shown at the list's width."""
        widths = self._fit(self.size.width)
        return [c.label for c, w in zip(self._columns, widths, strict=True) if w is not None]

    @property
    def shown_widths(self) -> list[int]:
        """The widths of the columns shown, their padding included."""
        return [w + PADDING for w in self._fit(self.size.width) if w is not None]

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row; the cursor stays on its row when the new rows hold its key
        (else it goes to the first)."""
        keep = self.cursor_key
        self._rows = list(rows)
        self._natural = [len(c.label) for c in self._columns]
        self._measure(self._rows)
        self._cursor = 0
        if keep is not None:
            self._cursor = self.index_of(keep) or 0
        self._changed()

    def add_rows(self, rows: Sequence[Row]) -> None:
        """Rows added at the end (the cursor stays where it is)."""
        self._rows += rows
        self._measure(rows)
        self._changed()

    def _measure(self, rows: Sequence[Row]) -> None:
        natural = self._natural
        for cells, _key in rows:
            for i, cell in enumerate(cells[: len(natural)]):
                width = cell_width(cell)
                if width > natural[i]:
                    natural[i] = width

    def _changed(self) -> None:
        self._strips.clear()
        self._fitted_for = -1
        self.virtual_size = Size(0, len(self._rows) + 1)  # the columns fit the width: no x scroll
        self._cursor = min(self._cursor, max(0, len(self._rows) - 1))
        self.refresh()

    # ------------------------------------------------------------ the cursor

    def move_cursor(self, row: int) -> None:
        """The cursor on ``row`` (bounded), scrolled into view."""
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row != self._cursor:
            self._strips.pop((self._cursor, True), None)
            self._strips.pop((row, True), None)
            self._cursor = row
            self.refresh()
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)  # lines below the header
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + max(1, self.scrollable_content_region.height - 1))

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - max(1, self.scrollable_content_region.height - 1))

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.Selected(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            label = self._column_at(offset.x)
            if label is not None:
                self.post_message(self.HeaderClicked(self, label))
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._rows):
            again = row == self._cursor
            self.move_cursor(row)
            if again:
                self.action_select()

    def _column_at(self, x: int) -> str | None:
        left = 0
        for column, width in zip(self._columns, self._fit(self.size.width), strict=True):
            if width is None:
                continue
            left += width + PADDING
            if x < left:
                return column.label
        return None

    # ------------------------------------------------------------ drawing

    def on_focus(self, _event: events.Focus) -> None:
        self._restyle()

    def on_blur(self, _event: events.Blur) -> None:
        self._restyle()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles = None

    def _restyle(self) -> None:
        self._strips.clear()
        self._styles = None
        self.refresh()

    def on_resize(self, _event: events.Resize) -> None:
        self._strips.clear()
        self._scroll_to_cursor()

    def _fit(self, width: int) -> list[int | None]:
        if width != self._fitted_for:
            self._widths = fit_columns(self._columns, self._natural, width)
            self._fitted_for = width
            self._strips.clear()
        return self._widths

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        widths = self._fit(width)
        if y == 0:
            key = (-1, False)
        else:
            row = round(self.scroll_y) + y - 1
            if row >= len(self._rows):
                return Strip.blank(width, self.rich_style)
            key = (row, row == self._cursor)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._draw(key[0], key[1], widths, width)
        return strip

    def _line_styles(self) -> tuple[Style, Style, Style, Style]:
        """The widget's style, and its header's, even rows' and cursor's (read once a style
        change, not for every line: each read walks the CSS)."""
        if self._styles is None:
            base = self.rich_style
            self._styles = (
                base,
                base + self.get_component_rich_style("rowlist--header"),
                base + self.get_component_rich_style("rowlist--even-row"),
                self.get_component_rich_style("rowlist--cursor"),
            )
        return self._styles

    def _draw(self, row: int, cursor: bool, widths: Sequence[int | None], width: int) -> Strip:
        """One line: the header (``row`` -1) or a row, cells cut or padded to their column."""
        plain, header, even, cursor_style = self._line_styles()
        cells: Sequence[Text | str]
        if row < 0:
            cells, base = [c.label for c in self._columns], header
        else:
            cells, base = self._rows[row][0], even if row % 2 == 0 else plain
        fill = base + cursor_style if cursor else base
        console = self.app.console
        segments: list[Segment] = []
        add = segments.append
        for cell, column_width in zip(cells, widths, strict=False):
            if column_width is None:
                continue
            text = cell if isinstance(cell, Text) else Text(cell)
            if text.cell_len > column_width:
                text = text.copy()
                text.truncate(column_width, overflow="ellipsis")
            room = column_width - text.cell_len
            justify = text.justify
            left = room if justify == "right" else room // 2 if justify == "center" else 0
            add(Segment(" " * (1 + left), fill))
            # a Text's own style is not in the segments it renders (rich adds it when it
            # renders the Text as a whole), only its spans' are
            own = base + console.get_style(text.style) if text.style else base
            for piece in text.render(console):
                style = own + piece.style if piece.style else own
                add(Segment(piece.text, style + cursor_style if cursor else style))
            add(Segment(" " * (1 + room - left), fill))
        return Strip(segments).adjust_cell_length(width, fill)
