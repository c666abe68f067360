"""The incident report: timeline, findings, actions taken and the audit head, as JSON, Markdown or
one self-contained HTML page; the case's traffic over time drawn as a text chart (Markdown) or an
inline SVG (HTML), from the read side's buckets (``discovery.views.timeline``).

Everything in it is already redacted in the case (no raw secret is stored); captured strings are
still hostile, so the Markdown form strips control characters, writes ``&``, ``<`` and ``>`` as
HTML entities (no tag, comment or autolink from traffic survives a Markdown renderer) and escapes
the Markdown syntax that works inside a line (emphasis, links, code, tables).
"""

from __future__ import annotations

import html
import re
import time
from typing import Any

from discovery.case import audit, blocklist
from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views import captures, queries, traffic
from discovery.views.runs import run_steps, runs_in_order
from discovery.views.timeline import bars, case_timeline

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
MAX_TIMELINE = 2000
MAX_CELL = 300
ACTIVITY_BUCKETS = 72
# inline Markdown syntax: escapes, code, emphasis, links/images, tables, strikethrough; an
# underscore inside a word (``shadow_endpoint_access``) never makes emphasis and is kept as is
_MARKDOWN = re.compile(r"([\\`*\[\]|~!]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def build(store: Store) -> dict[str, Any]:
    """The report as a JSON-shaped dict."""
    verification = audit.verify(store)
    runs = [
        {
            "run": run.id,
            "runbook": run.runbook_id,
            "target": run.target,
            "dry_run": run.dry_run,
            "state": run.state,
            "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at),
            "outcome": run.outcome,
            "operator": run.operator,
            "steps": [
                {
                    "step": s.step_id,
                    "state": s.state,
                    "attempts": s.attempts,
                    "error": s.error,
                    "output": s.output,
                }
                for s in run_steps(store, run.id)
            ],
        }
        for run in runs_in_order(store)
    ]
    timeline: list[dict[str, Any]] = [
        {
            "ts": iso(i.started_at),
            "what": "input ingested",
            "detail": f"{i.path} ({i.format}, sha256 {i.sha256})",
        }
        for i in traffic.inputs(store)
    ]
    entries = audit.entries(store)
    for entry in entries[-MAX_TIMELINE:]:
        timeline.append(
            {
                "ts": iso(entry.ts),
                "what": entry.action,
                "actor": entry.actor,
                "subject": entry.subject,
                "seq": entry.seq,
            }
        )
    timeline.sort(key=lambda e: str(e["ts"]))
    over_time = case_timeline(store, ACTIVITY_BUCKETS)
    activity = None
    if over_time is not None:
        activity = {
            **over_time.to_json(),
            "start_epoch": over_time.timeline.start,
            "end_epoch": over_time.timeline.end,
            "milestones": [{**m.to_json(), "epoch": m.ts} for m in over_time.milestones],
        }
    return {
        "generated_at": iso(time.time()),
        "case": str(store.path),
        "traffic": traffic.traffic(store).to_json(),
        "captures": [c.as_dict() for c in captures.captures(store)],
        "findings": queries.findings(store),
        "blocklist": [
            {
                "kind": b.kind,
                "subject": b.subject,
                "reason": b.reason,
                "created_at": iso(b.created_at),
                "by": b.created_by,
            }
            for b in blocklist.blocks(store)
        ],
        "actions": runs,
        "timeline": timeline,
        "activity": activity,
        "audit": {
            "head": verification.head,
            "entries": verification.entries,
            "ok": verification.ok,
            "first_bad": verification.first_bad,
            "reason": verification.reason,
        },
    }


def _cell(value: object) -> str:
    """Text from the case as inert Markdown (one line, no control characters, no markup)."""
    text = _CONTROL.sub("", " ".join(str("" if value is None else value).split()))[:MAX_CELL]
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def _code(value: object) -> str:
    """Text for a code span: no backtick to end it, no control character (a code span shows
    its text literally, escapes included)."""
    text = _CONTROL.sub("", " ".join(str("" if value is None else value).split()))[:MAX_CELL]
    return text.replace("`", "'")


def _captures(rows: list[dict[str, Any]]) -> list[str]:
    """The captures section: each capture and whether it lost packets (a lossy one is named
    first, loudly: its exchanges are incomplete)."""
    if not rows:
        return []
    lossy = [r for r in rows if r["lossy"]]
    out = ["## Captures", ""]
    if lossy:
        out += [
            f"**{len(lossy)} of {len(rows)} captures lost packets**: traffic they carried "
            "is missing from this report.",
            "",
        ]
    out += ["| capture | started | packets | lost | state |", "|---|---|---|---|---|"]
    for r in rows:
        lost = (
            f"**LOSSY: {r['lost']} of {r['received'] or r['packets'] + r['lost']}** "
            f"(kernel {r['dropped']['kernel']}, queue {r['dropped']['queue']}, "
            f"unread {r['dropped']['unread']})"
            if r["lossy"]
            else "none"
        )
        out.append(
            f"| {_cell(r['name'])} | {r['started_at']} | {r['packets']} | {lost} | "
            f"{_cell(r['state'])} |"
        )
    return [*out, ""]


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    out = [
        "# Incident report",
        "",
        f"- Case: `{_code(report['case'])}`",
        f"- Generated: {report['generated_at']}",
        f"- Traffic: {report['traffic']['exchanges']} exchanges, "
        f"{report['traffic']['first_seen']} to {report['traffic']['last_seen']}",
        f"- Audit head: `{report['audit']['head']}` ({report['audit']['entries']} entries, "
        + (
            "chain verifies"
            if report["audit"]["ok"]
            else f"CHAIN BROKEN at entry {report['audit']['first_bad']}: "
            f"{_cell(report['audit']['reason'])}"
        )
        + ")",
        "",
    ]
    out += _captures(report.get("captures", []))
    out += [
        "## Findings",
        "",
    ]
    if report["findings"]:
        out += ["| severity | rule | subject | title |", "|---|---|---|---|"]
        out += [
            f"| {_cell(f['severity'])} | {_cell(f['rule'])} | "
            f"{_cell(f['subject']['type'])} {_cell(f['subject']['id'])} | {_cell(f['title'])} |"
            for f in report["findings"]
        ]
    else:
        out.append("No findings.")
    out += ["", "## Actions taken", ""]
    if not report["actions"]:
        out.append("No runbook was run.")
    for run in report["actions"]:
        kind = "dry run" if run["dry_run"] else "run"
        out += [
            f"### {_cell(run['runbook'])} on {_cell(run['target'])} ({kind} {run['run']})",
            "",
            f"State: **{_cell(run['state'])}**, {_cell(run['outcome'])}; started "
            f"{run['started_at']} by {_cell(run['operator'])}.",
            "",
            "| step | state | attempts | error |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {_cell(s['step'])} | {_cell(s['state'])} | {s['attempts']} | "
            f"{_cell(s['error'] or '')} |"
            for s in run["steps"]
        ]
        out.append("")
    out += ["## Blocklist", ""]
    out += [
        f"- {_cell(b['kind'])} {_cell(b['subject'])} since {b['created_at']} "
        f"({_cell(b['reason'] or 'no reason')})"
        for b in report["blocklist"]
    ] or ["Nothing blocked."]
    if report.get("activity"):
        out += [
            "",
            "## Traffic over time",
            "",
            "```text",
            *activity_text(report["activity"]),
            "```",
        ]
    out += ["", "## Timeline", "", "| time | what | by | subject |", "|---|---|---|---|"]
    out += [
        f"| {e['ts']} | {_cell(e['what'])} | {_cell(e.get('actor', ''))} | "
        f"{_cell(e.get('subject') or e.get('detail', ''))} |"
        for e in report["timeline"]
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- traffic over time


def activity_text(activity: dict[str, Any]) -> list[str]:
    """The case's traffic over time as lines of text: one bar per bucket, the milestones
    numbered under the bars, the time axis, then the milestones named in order."""
    counts = [int(n) for n in activity["lanes"][0]["ok"]] if activity["lanes"] else []
    peak = max(counts, default=0)
    buckets = len(counts)
    start, end = float(activity["start_epoch"]), float(activity["end_epoch"])
    width = (end - start) / buckets if buckets else 1.0
    marks = [" "] * buckets
    legend = []
    for n, m in enumerate(activity["milestones"]):
        glyph = str(n + 1) if n < 9 else "+"
        at = min(max(int((float(m["epoch"]) - start) / width) if width > 0 else 0, 0), buckets - 1)
        if buckets:
            marks[at] = glyph
        detail = f" {_code(m['detail'])}" if m.get("detail") else ""
        legend.append(f"{glyph} {m['ts']} {_code(m['what'])}{detail}")
    axis = activity["start"] or ""
    gap = max(1, buckets - len(axis) - len(activity["end"] or ""))
    return [
        bars(counts, peak),
        "".join(marks),
        f"{axis}{' ' * gap}{activity['end'] or ''}",
        f"(one column = {activity['bucket_seconds']:.3g} s; the highest bar = {peak} requests)",
        "",
        *legend,
    ]


def activity_svg(activity: dict[str, Any], width: int = 720, height: int = 140) -> str:
    """The case's traffic over time as an inline SVG (bars, milestone lines with their names in
    titles and a numbered legend); every text from the case is escaped."""
    counts = [int(n) for n in activity["lanes"][0]["ok"]] if activity["lanes"] else []
    peak = max(counts, default=0) or 1
    buckets = max(len(counts), 1)
    start, end = float(activity["start_epoch"]), float(activity["end_epoch"])
    plot_h = height - 30
    column = width / buckets
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="requests over time">',
        f'<rect x="0" y="0" width="{width}" height="{plot_h}" fill="#f6f8fa"/>',
    ]
    for i, n in enumerate(counts):
        if n <= 0:
            continue
        h = max(1.0, n / peak * (plot_h - 4))
        parts.append(
            f'<rect x="{i * column:.2f}" y="{plot_h - h:.2f}" width="{max(column - 0.5, 0.5):.2f}" '
            f'height="{h:.2f}" fill="#2da44e"><title>{n} requests</title></rect>'
        )
    for n, m in enumerate(activity["milestones"]):
        x = (float(m["epoch"]) - start) / (end - start) * width if end > start else 0.0
        x = min(max(x, 1.0), width - 1.0)
        name = html.escape(f"{n + 1}. {m['what']} {m['ts']} {m.get('detail') or ''}".strip())
        parts.append(
            f'<line x1="{x:.2f}" y1="0" x2="{x:.2f}" y2="{plot_h}" stroke="#cf222e" '
            f'stroke-dasharray="3,2"><title>{name}</title></line>'
            f'<text x="{x + 2:.2f}" y="12" font-size="11" fill="#cf222e">{n + 1}</text>'
        )
    parts.append(
        f'<text x="0" y="{height - 8}" font-size="11">{html.escape(str(activity["start"]))}</text>'
        f'<text x="{width}" y="{height - 8}" font-size="11" text-anchor="end">'
        f"{html.escape(str(activity['end']))}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


_HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;"
    "text-align:left;vertical-align:top}code{background:#f6f8fa}"
)


def _h(value: object) -> str:
    """Text from the case as inert HTML (no control character, every markup character escaped)."""
    text = _CONTROL.sub("", " ".join(str("" if value is None else value).split()))[:MAX_CELL]
    return html.escape(text, quote=True)


def _table(head: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    out = ["<table><tr>", *(f"<th>{_h(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{_h(v)}</td>" for v in row), "</tr>"]
    out.append("</table>")
    return "".join(out)


def html_report(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (no script, no external resource)."""
    audit_state = (
        "chain verifies"
        if report["audit"]["ok"]
        else f"CHAIN BROKEN at entry {report['audit']['first_bad']}: {report['audit']['reason']}"
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>Incident report</title><style>{_HTML_STYLE}</style></head><body>",
        "<h1>Incident report</h1><ul>",
        f"<li>Case: <code>{_h(report['case'])}</code></li>",
        f"<li>Generated: {_h(report['generated_at'])}</li>",
        f"<li>Traffic: {_h(report['traffic']['exchanges'])} exchanges, "
        f"{_h(report['traffic']['first_seen'])} to {_h(report['traffic']['last_seen'])}</li>",
        f"<li>Audit head: <code>{_h(report['audit']['head'])}</code> "
        f"({_h(report['audit']['entries'])} entries, {_h(audit_state)})</li></ul>",
    ]
    if report.get("activity"):
        activity = report["activity"]
        out += ["<h2>Traffic over time</h2>", activity_svg(activity), "<ol>"]
        out += [
            f"<li>{_h(m['ts'])} {_h(m['what'])} {_h(m.get('detail') or '')}</li>"
            for m in activity["milestones"]
        ]
        out.append("</ol>")
    out.append("<h2>Findings</h2>")
    out.append(
        _table(
            ("severity", "rule", "subject", "title"),
            [
                (
                    f["severity"],
                    f["rule"],
                    f"{f['subject']['type']} {f['subject']['id']}",
                    f["title"],
                )
                for f in report["findings"]
            ],
        )
        if report["findings"]
        else "<p>No findings.</p>"
    )
    out.append("<h2>Actions taken</h2>")
    if not report["actions"]:
        out.append("<p>No runbook was run.</p>")
    for run in report["actions"]:
        kind = "dry run" if run["dry_run"] else "run"
        out.append(
            f"<h3>{_h(run['runbook'])} on {_h(run['target'])} ({kind} {_h(run['run'])})</h3>"
            f"<p>State: <strong>{_h(run['state'])}</strong>, {_h(run['outcome'])}; started "
            f"{_h(run['started_at'])} by {_h(run['operator'])}.</p>"
        )
        out.append(
            _table(
                ("step", "state", "attempts", "error"),
                [(s["step"], s["state"], s["attempts"], s["error"] or "") for s in run["steps"]],
            )
        )
    out.append("<h2>Blocklist</h2>")
    out.append(
        _table(
            ("kind", "subject", "since", "reason"),
            [
                (b["kind"], b["subject"], b["created_at"], b["reason"] or "")
                for b in report["blocklist"]
            ],
        )
        if report["blocklist"]
        else "<p>Nothing blocked.</p>"
    )
    out.append("<h2>Timeline</h2>")
    out.append(
        _table(
            ("time", "what", "by", "subject"),
            [
                (e["ts"], e["what"], e.get("actor", ""), e.get("subject") or e.get("detail", ""))
                for e in report["timeline"]
            ],
        )
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
