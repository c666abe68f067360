"""Secret inputs kept out of everything a run stores or shows (audit, case, events, reports)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[secret]"


class Redactor:
    """Replaces every known secret value in text and JSON-shaped data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        self.add(secrets)

    def add(self, values: Iterable[str]) -> None:
        """Also redact these values, and their URL-encoded forms (longest first, so a value
        inside another goes with it)."""
        known = set(self._values)
        for value in values:
            if value:
                known.update((value, quote(value, safe=""), quote_plus(value, safe="")))
        self._values = sorted(known, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._values:
            text = text.replace(secret, REDACTED)
        return text

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
