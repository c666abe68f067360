"""The runbook walkthrough: applicable runbooks, the dry-run plan, then step by step."""

from __future__ import annotations

from typing import Any


def offer(app: Any, kind: str, subject: str) -> None:
    """Offer the runbooks that apply to ``subject``."""
    app.notify("the runbook engine is not part of this install yet", markup=False,
               severity="warning")
