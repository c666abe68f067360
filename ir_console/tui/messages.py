"""Messages workers post to screens (handlers, never workers, touch widgets)."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from ir_console.tui.data import Page


class RowsLoaded(Message):
    """A page of rows for a list screen, for the filter ``text`` as of ``generation``."""

    def __init__(self, page: Page, generation: int) -> None:
        super().__init__()
        self.page = page
        self.generation = generation


class DetailLoaded(Message):
    """Details of the row ``key`` (None when it no longer exists)."""

    def __init__(self, key: str, detail: Any) -> None:
        super().__init__()
        self.key = key
        self.detail = detail


class CaseChanged(Message):
    """The case file changed on disk (a capture or another process committed)."""


class Failed(Message):
    """A worker failed: shown as a modal with a title, never a crash."""

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.title = title
        self.error = error
