"""Ingest counters: what a reader or the wire layer read, skipped (by reason) and warned about.

Shared vocabulary below every layer (docs/architecture.md): the wire layer fills it in, the
sources hand it back, ingest prints it and the case keeps it with the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

Progress = Callable[[int], None]  # called with bytes consumed so far
# the count (in ``IngestStats.counts``) of packets a capture file says its capture dropped
CAPTURE_DROPS = "packets dropped while capturing (pcapng interface statistics)"


@dataclass
class IngestStats:
    """Counters a reader fills in; printed as the ingest summary."""

    packets: int = 0
    flows: int = 0
    exchanges: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # events that lose nothing but belong in the summary (out-of-order segments, evicted flows)
    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    max_warnings: int = 50
    # bytes of the input up to the end of its last whole record (a frame, a log line, a flow):
    # where a later read of the grown file goes on; None for formats read only as a whole (HAR)
    consumed: int | None = None

    def skip(self, reason: str, warning: str | None = None) -> None:
        """Count a skipped part by reason; keep the first warnings verbatim."""
        self.skipped[reason] += 1
        if warning and len(self.warnings) < self.max_warnings:
            self.warnings.append(warning)

    def warn(self, warning: str) -> None:
        if len(self.warnings) < self.max_warnings:
            self.warnings.append(warning)

    def as_dict(self) -> dict[str, object]:
        return {
            "packets": self.packets,
            "flows": self.flows,
            "exchanges": self.exchanges,
            "skipped": dict(self.skipped),
            "counts": dict(self.counts),
            "warnings": list(self.warnings),
        }
