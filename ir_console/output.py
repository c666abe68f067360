"""Headless output: one JSON document on stdout, or a plain aligned table; messages on stderr.

Plain text on purpose: importing rich's table costs ~100 ms, and the read commands must start fast.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from ir_console.sanitize import MAX_CELL, clean, clean_data


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout (strings sanitized; never raw control bytes)."""
    sys.stdout.write(json.dumps(clean_data(data), indent=2, ensure_ascii=False) + "\n")


def emit_json_line(data: Any) -> None:
    """Write one JSON Lines record to stdout and flush."""
    sys.stdout.write(json.dumps(clean_data(data), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table_width() -> int | None:
    """Columns a table must fit at a terminal (``COLUMNS`` or its size); None when stdout is
    not a terminal, so scripts and ``grep`` always see whole cells."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((160, 24)).columns


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "") -> None:
    """Write an aligned table; cells sanitized and shortened to fit the terminal."""
    if not rows:
        if empty:
            message(empty)
        return
    cells = [[clean("" if c is None else c, limit=MAX_CELL) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    total = table_width()
    # shrink the widest columns until the table fits (a pipe gets whole cells)
    while total and sum(widths) + 2 * (len(widths) - 1) > total and max(widths) > 12:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    out = sys.stdout
    out.write("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    out.write("\n")
    for row in cells:
        parts = []
        for cell, width in zip(row, widths, strict=True):
            if len(cell) > width:
                cell = cell[: width - 1] + "…"
            parts.append(cell.ljust(width))
        out.write("  ".join(parts).rstrip() + "\n")


def message(text: str) -> None:
    """A human message on stderr (sanitized)."""
    sys.stderr.write(clean(text, single_line=False) + "\n")
