"""Findings: by severity, with their evidence."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.text import Text

from discovery.views.page import Page
from discovery.views.rows import FindingRow
from discovery.views.subjects import SUBJECT_TYPES
from ir_console.sanitize import clean_data
from ir_console.tui.data import CaseData, when
from ir_console.tui.messages import SubjectRef
from ir_console.tui.screens.base import SUBJECT_BINDINGS, ListScreen
from ir_console.tui.widgets import SEVERITY_STYLE, Column, block_text, line, safe


class FindingsScreen(ListScreen):
    """Findings, most severe first; details show the evidence."""

    TITLE_TEXT = "Findings"
    COLUMNS = (
        "severity",
        "rule",
        Column("title", flex=True, least=24),
        Column("subject", drop=1),
    )
    SORTS = (
        ("severity", "severity"),
        ("rule", "rule"),
        ("title", "title"),
        ("subject", "subject"),
    )
    BINDINGS: ClassVar = [*SUBJECT_BINDINGS]

    def fetch(self, data: CaseData, text: str) -> Page[FindingRow]:
        return data.findings(text, sort=self.sort)

    def cells(self, row: FindingRow) -> tuple[Text, ...]:
        return (
            safe(row.severity, style=SEVERITY_STYLE.get(row.severity, "")),
            safe(row.rule, limit=28),
            safe(row.title, limit=80),
            safe(f"{row.subject_type} {row.subject_id}", limit=60),
        )

    def subject_of(self, row: FindingRow) -> SubjectRef | None:
        """The finding's subject, when the graph, the blocklist or a runbook can take it."""
        if row.subject_type in SUBJECT_TYPES:
            return SubjectRef(row.subject_type, row.subject_id)
        return None

    def fetch_detail(self, data: CaseData, key: str) -> FindingRow | None:
        return data.finding_detail(key)

    def render_detail(self, d: FindingRow) -> Text:
        out = Text()
        out.append_text(safe(d.severity.upper(), style=SEVERITY_STYLE.get(d.severity, "")))
        out.append("  ")
        out.append_text(safe(d.title, style="bold", limit=300))
        out.append("\n")
        out.append_text(line(("rule", d.rule), ("id", d.id)))
        out.append("\n")
        out.append_text(line(("subject", f"{d.subject_type} {d.subject_id}")))
        out.append("\n")
        out.append_text(line(("first seen", when(d.first_seen)), ("last seen", when(d.last_seen))))
        out.append("\n\nEvidence\n", style="bold underline")
        out.append_text(
            block_text(
                json.dumps(
                    clean_data(dict(d.evidence)), indent=2, ensure_ascii=False, sort_keys=True
                )
            )
        )
        return out
