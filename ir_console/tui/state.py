"""What a screen may read of the console it runs in, without importing the app module.

The app implements this protocol; a screen asks ``console_state(self.app)`` for the case and the
safety mode, and posts messages (``ir_console.tui.messages``) for everything it wants done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from textual.app import App

from ir_console.tui.data import CaseData
from ir_console.tui.safety import SafetyMode


@runtime_checkable
class ConsoleState(Protocol):
    """The console's case and state, as screens read them."""

    @property
    def data(self) -> CaseData:
        """The case, read through ``discovery.views``."""

    @property
    def case_path(self) -> Path: ...

    @property
    def case_version(self) -> int:
        """Counts the case changes seen; a screen reloads when it showed an older one."""

    @property
    def safety(self) -> SafetyMode: ...


def console_state(app: App[object]) -> ConsoleState:
    """The console state of ``app`` (a screen outside the console is a programming error)."""
    if not isinstance(app, ConsoleState):
        raise TypeError(f"{type(app).__name__} is not an ir-console console")
    return app
