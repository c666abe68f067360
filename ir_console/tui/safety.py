"""What actions do right now: the console's safety mode, shown by the badge on every screen."""

from __future__ import annotations

from enum import StrEnum


class SafetyMode(StrEnum):
    """READ-ONLY (the default) refuses actions; DRY-RUN plans them; LIVE runs them."""

    READ_ONLY = "read-only"
    DRY_RUN = "dry-run"
    LIVE = "live"

    @property
    def label(self) -> str:
        """The badge's text: ``READ-ONLY``, ``DRY-RUN``, ``LIVE``."""
        return self.value.upper()

    @property
    def meaning(self) -> str:
        """One line saying what actions do in this mode."""
        return _MEANING[self]


_MEANING = {
    SafetyMode.READ_ONLY: "nothing is changed",
    SafetyMode.DRY_RUN: "actions plan, call nothing",
    SafetyMode.LIVE: "actions run for real (asks to confirm)",
}
