"""Findings: by severity, with their evidence."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text

from ir_console.sanitize import clean_data
from ir_console.tui.data import CaseData, Page, when
from ir_console.tui.screens.base import SUBJECT_BINDINGS, ListScreen
from ir_console.tui.widgets import SEVERITY_STYLE, block_text, line, safe


class FindingsScreen(ListScreen):
    """Findings, most severe first; details show the evidence."""

    TITLE_TEXT = "Findings"
    COLUMNS = ("severity", "rule", "title", "subject")
    BINDINGS: ClassVar = [*SUBJECT_BINDINGS]

    def fetch(self, data: CaseData, text: str) -> Page:
        return data.findings(text)

    def cells(self, row: dict[str, Any]) -> tuple[Text, ...]:
        return (
            safe(row["severity"], style=SEVERITY_STYLE.get(row["severity"], "")),
            safe(row["rule"], limit=28),
            safe(row["title"], limit=80),
            safe(f"{row['subject_type']} {row['subject_id']}", limit=60),
        )

    def fetch_detail(self, data: CaseData, key: str) -> Any:
        detail = data.finding_detail(key)
        if detail is not None:
            ref = None
            if detail["subject_type"] in ("credential", "identity", "endpoint"):
                ref = data.resolve_subject(detail["subject_id"])
            detail["subject_ref"] = ref
        return detail

    def subject(self) -> tuple[str, str] | None:
        return self.detail.get("subject_ref") if self.detail else None

    def render_detail(self, d: dict[str, Any]) -> Text:
        out = Text()
        out.append_text(safe(d["severity"].upper(), style=SEVERITY_STYLE.get(d["severity"], "")))
        out.append("  ")
        out.append_text(safe(d["title"], style="bold", limit=300))
        out.append("\n")
        out.append_text(line(("rule", d["rule"]), ("id", d["id"])))
        out.append("\n")
        out.append_text(line(("subject", f"{d['subject_type']} {d['subject_id']}")))
        out.append("\n")
        out.append_text(
            line(("first seen", when(d["first_seen"])), ("last seen", when(d["last_seen"])))
        )
        out.append("\n\nEvidence\n", style="bold underline")
        out.append_text(
            block_text(
                json.dumps(clean_data(d["evidence"]), indent=2, ensure_ascii=False, sort_keys=True)
            )
        )
        return out
