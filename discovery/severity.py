"""How serious a finding is: the one ordered list of severities every layer uses.

Findings are written with these names; every reader (the CLI's ``--severity``, the console's
ordering, the report) takes their order from here, most severe first.
"""

from __future__ import annotations

from typing import Final

SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
_RANK: Final = {name: rank for rank, name in enumerate(SEVERITIES)}


def rank(severity: str) -> int:
    """0 for the most severe; a name outside the list sorts after every known one."""
    return _RANK.get(severity, len(SEVERITIES))


def at_least(severity: str) -> tuple[str, ...]:
    """The severities as serious as ``severity`` or more (``ValueError`` for an unknown name)."""
    if severity not in _RANK:
        raise ValueError(f"unknown severity {severity!r}; use {', '.join(SEVERITIES)}")
    return SEVERITIES[: _RANK[severity] + 1]
