"""The one sanitizer for captured text: everything from traffic is hostile.

Strips C0/C1 control characters (ESC, CSI, OSC introducers, NUL, BEL …), DEL, bidi overrides and
isolates, and lone surrogates (from undecodable bytes), before any display or headless output.
Markup is never interpreted downstream (plain strings, ``Text`` objects, ``markup=False``).
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_WHITESPACE_CONTROL = re.compile("[\t\n\r]")
MAX_CELL = 200


def clean(text: object, *, single_line: bool = True, limit: int | None = None) -> str:
    """A display-safe string: control and bidi characters removed, optionally shortened."""
    value = str(text)
    if single_line:
        value = _WHITESPACE_CONTROL.sub(" ", value)
    value = _CONTROL.sub("", value)
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 1, 0)] + "…"
    return value


def clean_data(value: Any) -> Any:
    """Sanitize every string inside a JSON-shaped value (keys too)."""
    if isinstance(value, str):
        return clean(value, single_line=False)
    if isinstance(value, bytes | bytearray | memoryview):  # a BLOB where text was expected
        return clean(bytes(value).decode("utf-8", "replace"), single_line=False)
    if isinstance(value, dict):
        return {clean(k, single_line=False): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v) for v in value]
    return value
