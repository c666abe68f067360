"""Pictures over time, drawn as text: a subject's per-source timeline (the read side counts the
buckets: ``discovery.views.timeline``), and the case's timeline with its milestones.

Each lane is drawn on one scale shared by every lane (a source with one request is visibly
smaller than one with sixty, and an empty bucket is blank). Textual's ``Sparkline`` scales each
series between its own minimum and maximum and draws zero as the lowest bar, which would make
every source look alike; it draws the single-series pictures (requests per second on Live).
Every label is captured text: it goes through ``clean`` and into ``Text``, never markup.
"""

from __future__ import annotations

from rich.text import Text

from discovery.timeutil import iso
from discovery.views.timeline import Marker, Timeline, bars
from ir_console.sanitize import clean

OK_STYLE = "green"
REFUSED_STYLE = "bold red"
MARK_STYLE = "bold yellow"
MARK_COLUMN = "┊"
MARK_GLYPH = {"block": "▲", "unblock": "△", "revocation": "✖"}
LABEL_WIDTH = 16
COUNT_WIDTH = 12  # " 64 refused" after a lane


def span_text(seconds: float) -> str:
    """A bucket width a reader takes in at a glance (``0.1 s``, ``5 min``, ``2 h``)."""
    if seconds < 1:
        return f"{seconds:.2g} s"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _clock(ts: float, with_date: bool) -> str:
    value = iso(ts) or "-"
    return value.replace("T", " ").rstrip("Z") if with_date else value[11:19]


def _marked_columns(timeline: Timeline) -> dict[int, Marker]:
    return {
        timeline.bucket_of(m.ts): m
        for m in timeline.markers
        if timeline.start <= m.ts <= timeline.end
    }


def _lane(values: tuple[int, ...], peak: int, marked: dict[int, Marker], style: str) -> Text:
    """One lane of bars; a marker's column drawn where the lane is empty. Runs of one style
    are appended whole (one span each, not one per column: the page draws faster)."""
    glyphs = list(bars(values, peak))
    for n in marked:
        if 0 <= n < len(glyphs) and glyphs[n] == " ":
            glyphs[n] = MARK_COLUMN
    out = Text()
    run: list[str] = []
    run_style = style
    for glyph in glyphs:
        glyph_style = MARK_STYLE if glyph == MARK_COLUMN else style
        if run and glyph_style != run_style:
            out.append("".join(run), style=run_style)
            run = []
        run_style = glyph_style
        run.append(glyph)
    if run:
        out.append("".join(run), style=run_style)
    return out


def timeline_text(timeline: Timeline, label_width: int = LABEL_WIDTH) -> Text:
    """Per source: a lane of requests that succeeded and, when any were refused, a lane of
    refusals under it; the markers' columns drawn through the lanes; the time axis and a legend."""
    peak = timeline.peak
    marked = _marked_columns(timeline)
    long_span = timeline.end - timeline.start >= 86400
    out = Text()
    out.append("Activity per source", style="bold underline")
    out.append(f"  {span_text(timeline.width)} per column; ", style="dim")
    out.append("█ ok", style=OK_STYLE)
    out.append("  ")
    out.append("█ refused", style=REFUSED_STYLE)
    out.append(f"  one scale: █ = {peak}\n", style="dim")
    for lane in timeline.lanes:
        out.append(clean(lane.label, limit=label_width).ljust(label_width) + " ", style="bold")
        out.append_text(_lane(lane.ok, peak, marked, OK_STYLE))
        out.append(f" {sum(lane.ok)} ok\n", style="dim")
        if any(lane.refused):
            out.append("refused".rjust(label_width) + " ", style="dim")
            out.append_text(_lane(lane.refused, peak, marked, REFUSED_STYLE))
            out.append(f" {sum(lane.refused)} refused\n", style="dim")
    if marked:
        row = [" "] * timeline.buckets
        for column, marker in marked.items():
            row[column] = MARK_GLYPH.get(marker.what, "▲")
        out.append(" " * (label_width + 1))
        out.append("".join(row), style=MARK_STYLE)
        out.append("\n")
    start = _clock(timeline.start, long_span)
    end = _clock(timeline.end, long_span)
    gap = max(1, timeline.buckets - len(start) - len(end))
    out.append(" " * (label_width + 1))
    out.append(f"{start}{' ' * gap}{end}\n", style="dim")
    for marker in timeline.markers:
        glyph = MARK_GLYPH.get(marker.what, "▲")
        where = "" if timeline.start <= marker.ts <= timeline.end else "  (after the last request)"
        out.append(f"{glyph} {marker.what} ", style=MARK_STYLE)
        out.append(_clock(marker.ts, True), style="dim")
        if marker.detail:
            out.append("  ")
            out.append(clean(marker.detail, limit=60), style="dim")
        out.append(where + "\n", style="dim")
    return out


def milestones_text(timeline: Timeline, milestones: tuple[Marker, ...], width: int) -> Text:
    """The case's traffic as one lane of bars and its milestones under it, named in order."""
    out = Text()
    lane = timeline.lanes[0] if timeline.lanes else None
    if lane is not None:
        out.append(bars(lane.ok, timeline.peak), style=OK_STYLE)
        out.append("\n")
    row = [" "] * timeline.buckets
    for n, marker in enumerate(milestones):
        row[timeline.bucket_of(marker.ts)] = str(n + 1) if n < 9 else "+"
    out.append("".join(row), style=MARK_STYLE)
    out.append("\n")
    long_span = timeline.end - timeline.start >= 86400
    parts = Text()
    for n, marker in enumerate(milestones):
        label = f"{n + 1 if n < 9 else '+'} {marker.what} {_clock(marker.ts, long_span)}"
        if marker.detail:
            label += f" {clean(marker.detail, limit=24)}"
        if parts.cell_len and parts.cell_len + len(label) + 3 > width:
            out.append_text(parts)
            out.append("\n")
            parts = Text()
        if parts.cell_len:
            parts.append("   ")
        parts.append(label, style="dim")
    out.append_text(parts)
    return out
