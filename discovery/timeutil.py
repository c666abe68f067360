"""Times: REAL epoch seconds inside, ISO 8601 UTC strings at the edges."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from typing import Final

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# the times ir-console stores and shows: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z
MIN_TS: Final = 0.0
MAX_TS: Final = 253_402_300_799.0


def plausible(ts: float) -> bool:
    """Whether an epoch time is finite and within ``MIN_TS``..``MAX_TS``."""
    return math.isfinite(ts) and MIN_TS <= ts <= MAX_TS


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC (``2026-11-28T04:34:50Z``), or None (also for a time no
    ISO 8601 string can show: a case written by an older version may hold one)."""
    if ts is None or not plausible(ts):
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
