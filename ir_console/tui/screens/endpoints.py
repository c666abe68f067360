"""Endpoints: the API inventory, filter as you type, with the template's explanation."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text

from discovery.views.page import Page
from discovery.views.rows import EndpointDetail, EndpointRow
from ir_console.sanitize import clean_data
from ir_console.tui.data import CaseData, when
from ir_console.tui.messages import SubjectRef
from ir_console.tui.screens.base import (
    BLOCK_BINDING,
    SUBJECT_BINDINGS,
    UNBLOCK_BINDING,
    ListScreen,
)
from ir_console.tui.widgets import STATUS_STYLE, Column, block_text, line, safe


def explanation_text(explanation: Any) -> Text:
    """The templating explanation (per segment: literal or parameter, and why), sanitized."""
    out = Text()
    if isinstance(explanation, list) and explanation:
        for item in explanation:
            if isinstance(item, dict):
                segment = item.get("segment", item.get("value", "?"))
                verdict = item.get("kind", item.get("decision", item.get("type", "")))
                reason = item.get("reason", item.get("why", ""))
                out.append("  ")
                out.append_text(safe(segment, style="bold", limit=80))
                out.append("  → ")
                out.append_text(safe(verdict or "-", limit=40))
                if reason:
                    out.append("  ")
                    out.append_text(safe(reason, style="dim", limit=160))
                out.append("\n")
            else:
                out.append("  ")
                out.append_text(safe(item, limit=200))
                out.append("\n")
        return out
    if isinstance(explanation, dict) and explanation:
        return block_text(json.dumps(clean_data(explanation), indent=2, ensure_ascii=False))
    out.append("  (no explanation recorded)\n", style="dim")
    return out


class EndpointsScreen(ListScreen):
    """Every endpoint seen, with its status badge; details explain the template."""

    TITLE_TEXT = "Endpoints"
    COLUMNS = (
        "status",
        "method",
        Column("host", flex=True, least=14, drop=1),
        Column("template", flex=True, least=16),
        "requests",
        Column("last seen", drop=2),
    )
    SORTS = (
        ("requests", "requests"),
        ("last seen", "last_seen"),
        ("status", "status"),
        ("method", "method"),
        ("host", "host"),
        ("template", "template"),
    )
    BINDINGS: ClassVar = [*SUBJECT_BINDINGS, BLOCK_BINDING, UNBLOCK_BINDING]

    def fetch(self, data: CaseData, text: str) -> Page[EndpointRow]:
        return data.endpoints(text, sort=self.sort)

    def subject_of(self, row: EndpointRow) -> SubjectRef:
        return SubjectRef("endpoint", row.key)

    def story_of(self, row: EndpointRow) -> SubjectRef:
        return SubjectRef("endpoint", f"#{row.id}")  # opened by row id, whatever its bytes

    def cells(self, row: EndpointRow) -> tuple[Text, ...]:
        status = row.status + (" ⛔" if row.blocked else "")
        return (
            safe(status, style=STATUS_STYLE.get(row.status, "")),
            safe(row.method, limit=10),
            safe(row.host, limit=40),
            safe(row.template, limit=80),
            Text(str(row.requests), justify="right"),
            Text(when(row.last_seen)),
        )

    def fetch_detail(self, data: CaseData, key: str) -> EndpointDetail | None:
        return data.endpoint_detail(int(key))

    def render_detail(self, d: EndpointDetail) -> Text:
        e = d.endpoint
        out = Text()
        out.append_text(safe(e.status.upper(), style=STATUS_STYLE.get(e.status, "")))
        if e.blocked:
            out.append("  BLOCKED AT THE PROXY", style="bold red")
        out.append("  ")
        out.append_text(safe(f"{e.method} {e.host}{e.template}", style="bold", limit=300))
        out.append("\n")
        out.append_text(
            line(
                ("requests", e.requests),
                ("first seen", when(e.first_seen)),
                ("last seen", when(e.last_seen)),
            )
        )
        out.append("\n")
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(e.statuses.items()))
        out.append_text(line(("responses", statuses or "-")))
        if e.protocol and d.grpc is None:  # an API operation carried by the path (GraphQL)
            outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(e.outcomes.items()))
            out.append_text(
                line(
                    ("protocol", e.protocol),
                    ("operation", e.operation or "-"),
                    ("outcomes", outcomes or "-"),
                )
            )
        if d.grpc is not None:
            out.append("\n")
            out.append_text(line(("gRPC service", d.grpc.service), ("method", d.grpc.method)))
            outcomes = ", ".join(f"{name}: {n}" for name, n in d.grpc.outcomes)
            out.append("\n")
            out.append_text(line(("gRPC outcomes", outcomes or "-")))
        if d.sensitive:
            out.append_text(
                line(
                    (
                        "sensitive data",
                        ", ".join(f"{k}×{v}" for k, v in sorted(d.sensitive.items())),
                    )
                )
            )
        out.append("\n\nWhy this template\n", style="bold underline")
        out.append_text(explanation_text(d.explanation))
        out.append(f"\nCallers ({len(d.callers)})\n", style="bold underline")
        for c in d.callers:
            out.append("  ")
            out.append_text(safe(f"{c.credential_id} {c.kind or ''} {c.redacted or ''}", limit=80))
            out.append_text(safe(f"  {c.identity or '-'}", style="dim", limit=80))
            out.append(f"  {c.requests} req, {c.successes} ok, {c.clients} client(s)\n")
        out.append("\nSample evidence\n", style="bold underline")
        for x in d.samples:
            out.append(f"  {when(x.ts)}  ")
            out.append_text(safe(f"{x.client_ip or '-'} {x.method} {x.raw_path}", limit=120))
            out.append(f"  → {x.status if x.status is not None else '-'}  ")
            out.append_text(safe(f"{x.source}: {x.evidence}", style="dim", limit=60))
            out.append("  ua ")
            out.append_text(safe(x.user_agent, style="dim", limit=60))
            out.append("\n")
        if d.findings:
            out.append("\nFindings\n", style="bold underline")
            for f in d.findings:
                out.append_text(safe(f"  {f.severity} {f.rule}: {f.title}", limit=160))
                out.append("\n")
        return out
