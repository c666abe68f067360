"""Plausible values at the edge: what a foreign record may say about a status, a port, a time or a
size before it becomes an ``ObservedExchange``.

A status is 100-999 (RFC 9110 15: three digits), a port 0-65535, a time finite and within
1970-01-01 to 9999-12-31 (what ISO 8601 strings and every read command can show), a size 0 to
``MAX_SIZE``. Readers call these on every value they did not compute themselves (HAR, Zeek,
mitmproxy flow files) and decide what an implausible value costs: the record (a time), the field
(a status, a port, a size).
"""

from __future__ import annotations

from typing import Final

from discovery.timeutil import plausible

MAX_SIZE: Final = 1 << 40  # 1 TiB: a body bigger than that is a broken field, not traffic


def timestamp(value: float) -> float | None:
    """``value`` when it is a time ir-console can store and show, else None."""
    return value if plausible(value) else None


def status(value: object) -> int | None:
    """An HTTP status code (100-999), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 999:
        return value
    return None


def port(value: object) -> int | None:
    """A TCP/UDP port (0-65535), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        return value
    return None


def size(value: object) -> int | None:
    """A byte count (0 to ``MAX_SIZE``), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SIZE:
        return value
    return None
