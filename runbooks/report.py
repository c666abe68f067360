"""The incident report: timeline, findings, actions taken and the audit head, as JSON or Markdown.

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

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
MAX_TIMELINE = 2000
MAX_CELL = 300
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
    out += ["", "## Timeline", "", "| time | what | by | subject |", "|---|---|---|---|"]
    out += [
        f"| {e['ts']} | {_cell(e['what'])} | {_cell(e.get('actor', ''))} | "
        f"{_cell(e.get('subject') or e.get('detail', ''))} |"
        for e in report["timeline"]
    ]
    return "\n".join(out) + "\n"
