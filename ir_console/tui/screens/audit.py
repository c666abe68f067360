"""Audit timeline: every block, approval and action, newest first; verify the hash chain."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from discovery.views.page import Page
from discovery.views.rows import AuditRow
from ir_console.sanitize import clean_data
from ir_console.tui.data import CaseData, when
from ir_console.tui.messages import Failed, Notice
from ir_console.tui.screens.base import DATA_ERRORS, ListScreen
from ir_console.tui.widgets import Column, block_text, line, safe


class AuditScreen(ListScreen):
    """The hash-chained audit log as a timeline."""

    TITLE_TEXT = "Audit timeline"
    COLUMNS = (
        "#",
        "time",
        Column("actor", flex=True, least=10, drop=1),
        "action",
        Column("subject", flex=True, least=16),
    )
    BINDINGS: ClassVar = [Binding("v", "verify", "Verify chain")]

    def row_key(self, row: AuditRow) -> str:
        return str(row.seq)

    def fetch(self, data: CaseData, text: str) -> Page[AuditRow]:
        return data.audit_entries(text)

    def cells(self, row: AuditRow) -> tuple[Text, ...]:
        return (
            Text(str(row.seq), justify="right"),
            Text(when(row.ts)),
            safe(row.actor, limit=20),
            safe(row.action, limit=32),
            safe(row.subject, limit=70),
        )

    def fetch_detail(self, data: CaseData, key: str) -> AuditRow | None:
        row: AuditRow | None = self.row(key)  # the list holds every field shown
        return row

    def render_detail(self, d: AuditRow) -> Text:
        out = Text()
        out.append_text(line(("entry", d.seq), ("time", when(d.ts)), ("actor", d.actor)))
        out.append("\n")
        out.append_text(line(("action", d.action), ("subject", d.subject)))
        out.append("\n")
        out.append_text(line(("hash", d.hash)))
        out.append("\n\nDetails\n", style="bold underline")
        out.append_text(
            block_text(
                json.dumps(clean_data(d.details), indent=2, ensure_ascii=False, sort_keys=True)
            )
        )
        return out

    def action_verify(self) -> None:
        self._verify()

    @work(thread=True, exclusive=True, group="verify")
    def _verify(self) -> None:
        try:
            result = self.data.audit_verify()
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not verify the audit log", str(exc)))
            return
        if result.ok:
            self.post_message(
                Notice(f"audit chain intact: {result.entries} entries, head {result.head[:16]}…")
            )
        else:
            self.post_message(Failed("the audit chain is broken", str(result.reason)))
