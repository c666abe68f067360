"""Sensitive data in body prefixes: kinds and counts only, never the values."""

from __future__ import annotations

import re

_EMAIL = re.compile(rb"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")


def scan_bodies(*bodies: bytes) -> tuple[tuple[str, int], ...]:
    """Count sensitive-data kinds in the given body prefixes."""
    counts: dict[str, int] = {}
    for body in bodies:
        if not body:
            continue
        emails = len(_EMAIL.findall(body))
        if emails:
            counts["email"] = counts.get("email", 0) + emails
    return tuple(sorted(counts.items()))
