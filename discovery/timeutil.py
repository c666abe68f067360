"""Times: REAL epoch seconds inside, ISO 8601 UTC strings at the edges."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC (``2026-11-28T04:34:50Z``), or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str, now: float | None = None) -> float:
    """Parse ISO 8601 (naive means UTC), epoch seconds, or a relative age such as ``2h``/``3d``."""
    match = _RELATIVE.match(text)
    if match:
        return (now if now is not None else time.time()) - float(match[1]) * _UNITS[match[2]]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO 8601 like 2026-11-28T04:00Z, or an age like 2h)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
