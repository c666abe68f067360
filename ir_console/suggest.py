""" "Did you mean": the closest of the names a command, option or console line knows."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The known name ``word`` most likely meant, or None: the one it begins (``shadow_ep``),
    else the closest spelling (a typo, a missing letter)."""
    names = sorted(set(choices))
    lowered = word.lower()
    begun = [n for n in names if lowered and n.lower().startswith(lowered)]
    if begun:
        return begun[0]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest choice, or nothing."""
    close = closest(word, choices)
    return f' (did you mean "{close}"?)' if close else ""
