"""Runbook runs: every run in the case, its steps and state; resume an interrupted run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding

from discovery.views.page import Page
from discovery.views.rows import RunRow, StepRow
from ir_console.tui.data import CaseData, when
from ir_console.tui.messages import ResumeRequested
from ir_console.tui.screens.base import ListScreen
from ir_console.tui.stepoutput import output_summary, report_files
from ir_console.tui.widgets import Column, line, safe

STATE_STYLE = {
    "succeeded": "green",
    "partial": "bold yellow",
    "unverified": "yellow",
    "done": "green",
    "failed": "bold red",
    "waiting": "bold yellow",
    "running": "cyan",
    "planned": "dim",
    "skipped": "dim",
    "rolled_back": "magenta",
}


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run and its steps."""

    run: RunRow
    steps: tuple[StepRow, ...]


class RunsScreen(ListScreen):
    """Runs, newest first; details list the steps."""

    TITLE_TEXT = "Runbook runs"
    COLUMNS = (
        "state",
        Column("runbook", flex=True, least=16),
        Column("target", flex=True, least=14),
        Column("mode", drop=1),
        Column("started", drop=2),
    )
    BINDINGS: ClassVar = [Binding("u", "resume", "Resume run")]

    def fetch(self, data: CaseData, text: str) -> Page[RunRow]:
        return data.runbook_runs(text)

    def cells(self, row: RunRow) -> tuple[Text, ...]:
        return (
            safe(row.state, style=STATE_STYLE.get(row.state, "")),
            safe(row.runbook_id, limit=30),
            safe(row.target, limit=50),
            Text("dry-run" if row.dry_run else "live"),
            Text(when(row.started_at)),
        )

    def fetch_detail(self, data: CaseData, key: str) -> RunDetail | None:
        run: RunRow | None = self.row(key)
        if run is None:
            return None
        return RunDetail(run, data.run_steps(key))

    def render_detail(self, d: RunDetail) -> Text:
        run = d.run
        out = Text()
        out.append_text(safe(f"{run.runbook_id} on {run.target}", style="bold", limit=200))
        out.append("\n")
        out.append_text(
            line(
                ("run", run.id),
                ("state", run.state),
                ("mode", "dry-run" if run.dry_run else "live"),
            )
        )
        out.append("\n")
        out.append_text(
            line(
                ("started", when(run.started_at)),
                ("finished", when(run.finished_at)),
                ("outcome", run.outcome),
            )
        )
        files = report_files(s.output for s in d.steps if isinstance(s.output, dict))
        if files:
            out.append("\nReport: ", style="bold")
            out.append_text(safe(", ".join(files), limit=400))
        out.append("\n\nSteps\n", style="bold underline")
        for s in d.steps:
            out.append(f"  {s.idx + 1:>2}. ")
            out.append_text(safe(f"{s.state:<10}", style=STATE_STYLE.get(s.state, "")))
            out.append_text(safe(s.step_id, limit=60))
            if s.attempts:
                out.append(f"  attempts {s.attempts}", style="dim")
            if s.error:
                out.append("  ")
                out.append_text(safe(s.error, style="red", limit=160))
            summary = output_summary(s.output if isinstance(s.output, dict) else {})
            if summary:
                out.append("\n      ")
                out.append_text(
                    safe(summary, style="dim" if s.state in ("planned", "skipped") else "green")
                )
            out.append("\n")
        return out

    def action_resume(self) -> None:
        d = self.detail
        if (
            not isinstance(d, RunDetail)
            or d.run.state not in ("waiting", "running")
            or d.run.dry_run
        ):
            self.notify(
                "only a live run that stopped at a gate or was interrupted can resume", markup=False
            )
            return
        self.post_message(ResumeRequested(d.run.id, d.run.target))
