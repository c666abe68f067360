"""Activity over time: bucketed counts per source, with the moments that matter marked.

A ``Timeline`` is what a chart needs and nothing more: a start, a bucket width, one ``Lane`` per
source (requests that succeeded and requests that were refused, per bucket) and ``Marker``s
(a block, an unblock, a revocation, the first shadow call). The console draws it as bars in the
terminal, ``report`` as a text chart (Markdown) and an SVG (HTML): the buckets are counted here,
in SQLite, once, so every surface shows the same picture.

Succeeded means answered 2xx/3xx and not blocked; refused means blocked at the proxy or answered
4xx/5xx (``traffic.uses_since`` counts the same way); an exchange with no response (an opaque TLS
connection, a request the capture ended inside) is in neither lane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso

# SQL: one exchange's outcome (the lanes)
OK_SQL = "(e.blocked = 0 AND e.status BETWEEN 200 AND 399)"
REFUSED_SQL = "(e.blocked = 1 OR e.status >= 400)"
MAX_BUCKETS = 400
MAX_LANES = 8  # sources drawn one by one; the others share the last lane
OTHERS = "(others)"
# the runbook actions that revoke or deactivate a credential at its provider
REVOKING = ("revoke", "deactivate_access_key", "delete_access_key")
BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Lane:
    """One source's requests per bucket: those that succeeded and those refused."""

    label: str
    ok: tuple[int, ...]
    refused: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.ok) + sum(self.refused)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "ok": list(self.ok), "refused": list(self.refused)}


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment on the timeline: ``what`` happened (block, unblock, revocation, ...)."""

    ts: float
    what: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ts": iso(self.ts), "what": self.what, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Timeline:
    """Counts per bucket of ``width`` seconds from ``start``, one lane per source."""

    start: float
    width: float
    buckets: int
    lanes: tuple[Lane, ...]
    markers: tuple[Marker, ...] = ()

    @property
    def end(self) -> float:
        return self.start + self.width * self.buckets

    @property
    def peak(self) -> int:
        """The largest count of any lane in any bucket (one scale for every lane)."""
        return max((max((*lane.ok, *lane.refused), default=0) for lane in self.lanes), default=0)

    def bucket_of(self, ts: float) -> int:
        """The bucket a time falls in (clamped to the timeline)."""
        if self.width <= 0:
            return 0
        return min(max(int((ts - self.start) / self.width), 0), self.buckets - 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "bucket_seconds": self.width,
            "lanes": [lane.to_json() for lane in self.lanes],
            "markers": [m.to_json() for m in self.markers],
        }


def bucket_width(start: float, end: float, buckets: int) -> float:
    """Seconds per bucket so that ``buckets`` buckets cover ``start``..``end`` (a time at
    ``end`` falls in the last bucket)."""
    span = max(end - start, 0.0)
    return span / max(buckets, 1) if span > 0 else 1.0


def subject_markers(store: Store, kind: str, subject_id: str) -> tuple[Marker, ...]:
    """Blocks, unblocks and revocations of a credential or endpoint, from the audit log."""
    refs = (subject_id, f"{kind}:{subject_id}")
    markers = [
        Marker(ts, action.split(".", 1)[0], actor or "")
        for ts, action, actor in store.conn.execute(
            "SELECT ts, action, actor FROM audit_log WHERE subject IN (?, ?) AND action IN (?, ?) "
            "ORDER BY seq LIMIT 200",
            (*refs, f"block.{kind}", f"unblock.{kind}"),
        )
    ]
    if kind == "credential":
        markers += [
            Marker(ts, "revocation", str(action))
            for ts, action in store.conn.execute(
                "SELECT ts, json_extract(details, '$.action') FROM audit_log "
                "WHERE subject IN (?, ?) AND action = 'action.succeeded' ORDER BY seq LIMIT 200",
                refs,
            )
            if any(word in str(action) for word in REVOKING)
        ]
    return tuple(sorted(markers, key=lambda m: m.ts))


# ---------------------------------------------------------------- the case as a whole


@dataclass(frozen=True, slots=True)
class CaseTimeline:
    """The case's traffic per bucket and its milestones (first sighting, first shadow call,
    blocks, revocations, last use)."""

    timeline: Timeline
    milestones: tuple[Marker, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.timeline.to_json(), "milestones": [m.to_json() for m in self.milestones]}


def case_timeline(store: Store, buckets: int = 60) -> CaseTimeline | None:
    """The whole case over ``buckets`` buckets, or None for a case without traffic.

    The per-bucket counts are one range count on the time index per bucket (the index alone
    is read; no table row)."""
    conn = store.conn
    first = conn.execute("SELECT MIN(ts) FROM exchanges").fetchone()[0]
    last = conn.execute("SELECT MAX(ts) FROM exchanges").fetchone()[0]
    if first is None or last is None:
        return None
    buckets = max(1, min(buckets, MAX_BUCKETS))
    width = bucket_width(first, last, buckets)
    edges = [first + i * width for i in range(buckets)] + [math.inf]  # the last includes MAX
    counts = [
        int(
            conn.execute(
                "SELECT COUNT(*) FROM exchanges WHERE ts >= ? AND ts < ?", (edges[i], edges[i + 1])
            ).fetchone()[0]
        )
        for i in range(buckets)
    ]
    milestones = [Marker(first, "first sighting")]
    shadow = conn.execute(
        "SELECT MIN(first_seen) FROM endpoints WHERE status IN ('shadow', 'zombie') "
        "AND first_seen IS NOT NULL"
    ).fetchone()[0]
    if shadow is not None:
        milestones.append(Marker(shadow, "first shadow call"))
    for ts, subject in conn.execute(
        "SELECT ts, subject FROM audit_log WHERE action IN "
        "('block.credential', 'block.endpoint') ORDER BY seq LIMIT 50"
    ):
        milestones.append(Marker(ts, "block", str(subject or "")))
    for ts, action, subject in conn.execute(
        "SELECT ts, json_extract(details, '$.action'), subject FROM audit_log "
        "WHERE action = 'action.succeeded' ORDER BY seq LIMIT 500"
    ):
        if any(word in str(action) for word in REVOKING):
            milestones.append(Marker(ts, "revocation", str(subject or "")))
    milestones.append(Marker(last, "last use"))
    milestones.sort(key=lambda m: m.ts)
    lane = Lane("all", tuple(counts), (0,) * buckets)
    timeline = Timeline(first, width, buckets, (lane,), tuple(milestones))
    return CaseTimeline(timeline, tuple(milestones))


# ---------------------------------------------------------------- drawing as text


def bars(values: Sequence[int], peak: int) -> str:
    """One text bar per value on a shared scale: a space for zero, at least the lowest bar
    for any request (a single request is never invisible), the full block at ``peak``."""
    out = []
    for value in values:
        if value <= 0 or peak <= 0:
            out.append(" ")
        else:
            out.append(BARS[min(len(BARS) - 1, max(0, math.ceil(value / peak * len(BARS)) - 1))])
    return "".join(out)


def marker_row(timeline: Timeline, glyph: str = "▲") -> str:
    """A line under the bars with ``glyph`` in the bucket of every marker."""
    row = [" "] * timeline.buckets
    for marker in timeline.markers:
        if timeline.start <= marker.ts <= timeline.end:
            row[timeline.bucket_of(marker.ts)] = glyph
    return "".join(row)
