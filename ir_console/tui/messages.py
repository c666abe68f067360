"""Messages of the console: screens and their workers post them; handlers act on them.

Workers never touch widgets: they post what they found (``RowsLoaded``, ``DetailLoaded``,
``Failed``, ``Notice``). Screens never call the app: they post what the responder asked for
(``JumpTo``, ``OpenGraph``, ``BlockRequested``, ``UnblockRequested``, ``RunbooksRequested``,
``ResumeRequested``) and
what they did (``CaseWritten``, ``Painted``); the app handles those (messages bubble from a
screen to the app).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from discovery.views.page import Page


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """A subject of the case named the CLI's way: its type and canonical id (a credential id,
    an identity id, ``HOST METHOD TEMPLATE``, a host, a client address)."""

    type: str
    id: str

    @property
    def ref(self) -> str:
        """``TYPE:ID``: what ``discovery.views.subjects.resolve_subject`` and runbooks take."""
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, ref: str) -> SubjectRef:
        kind, _, ident = ref.partition(":")
        return cls(kind, ident)


class RowsLoaded(Message):
    """A page of rows for a list screen, for the filter as of ``generation``."""

    def __init__(self, page: Page[Any], generation: int) -> None:
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


class CaseWritten(Message):
    """A screen wrote to the case (a runbook ran): look for changes now."""


class Failed(Message):
    """Something failed: shown as a modal with a title, never a crash."""

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.title = title
        self.error = error


class Notice(Message):
    """A short notice for the responder (a toast)."""

    def __init__(self, text: str, warning: bool = False) -> None:
        super().__init__()
        self.text = text
        self.warning = warning


class Painted(Message):
    """A screen showed the case for the first time (the benchmark's first paint)."""

    def __init__(self) -> None:
        super().__init__()
        self.at = time.perf_counter()


class JumpTo(Message):
    """Show the screen ``mode`` with its filter set to ``filter_text``."""

    def __init__(self, mode: str, filter_text: str) -> None:
        super().__init__()
        self.mode = mode
        self.filter_text = filter_text


class OpenGraph(Message):
    """Explore a subject in the graph explorer."""

    def __init__(self, subject: SubjectRef) -> None:
        super().__init__()
        self.subject = subject


class BlockRequested(Message):
    """Block a credential or an endpoint at the proxy (as the safety mode allows)."""

    def __init__(self, subject: SubjectRef) -> None:
        super().__init__()
        self.subject = subject


class UnblockRequested(Message):
    """Remove a credential's or an endpoint's block at the proxy (as the safety mode allows)."""

    def __init__(self, subject: SubjectRef) -> None:
        super().__init__()
        self.subject = subject


class RunbooksRequested(Message):
    """Offer the runbooks that apply to a subject."""

    def __init__(self, subject: SubjectRef) -> None:
        super().__init__()
        self.subject = subject


class ResumeRequested(Message):
    """Open the walkthrough on an interrupted or waiting run and resume it."""

    def __init__(self, run_id: str, target: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.target = target


class SearchRequested(Message):
    """Open the case-wide search."""


class OpenStory(Message):
    """Open a subject's page (its story) over the current screen."""

    def __init__(self, subject: SubjectRef) -> None:
        super().__init__()
        self.subject = subject


class OpenExchange(Message):
    """Open one exchange over the current screen."""

    def __init__(self, exchange_id: int) -> None:
        super().__init__()
        self.exchange_id = exchange_id


class CommandRequested(Message):
    """Run a ``:`` command line (``cred globex``, ``endpoint /v2/admin``, ``run ID``...)."""

    def __init__(self, text: str, context: SubjectRef | None = None) -> None:
        super().__init__()
        self.text = text
        self.context = context
