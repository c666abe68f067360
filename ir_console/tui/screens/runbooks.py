"""Runbook runs: every run in the case, its steps and state; resume an interrupted run."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding

from ir_console.tui.data import CaseData, Page, when
from ir_console.tui.screens.base import ListScreen
from ir_console.tui.widgets import line, safe

STATE_STYLE = {
    "succeeded": "green",
    "done": "green",
    "failed": "bold red",
    "waiting": "bold yellow",
    "running": "cyan",
    "planned": "dim",
    "skipped": "dim",
    "rolled_back": "magenta",
}


class RunsScreen(ListScreen):
    """Runs, newest first; details list the steps."""

    TITLE_TEXT = "Runbook runs"
    COLUMNS = ("state", "runbook", "target", "mode", "started")
    BINDINGS: ClassVar = [Binding("u", "resume", "Resume run")]

    def fetch(self, data: CaseData, text: str) -> Page:
        return data.runbook_runs(text)

    def cells(self, row: dict[str, Any]) -> tuple[Text, ...]:
        return (
            safe(row["state"], style=STATE_STYLE.get(row["state"], "")),
            safe(row["runbook_id"], limit=30),
            safe(row["target"], limit=50),
            Text("dry-run" if row["dry_run"] else "live"),
            Text(when(row["started_at"])),
        )

    def fetch_detail(self, data: CaseData, key: str) -> Any:
        page = self.page
        run = next((r for r in page.rows if r["id"] == key), None) if page else None
        if run is None:
            return None
        return {**run, "steps": data.run_steps(key)}

    def render_detail(self, d: dict[str, Any]) -> Text:
        out = Text()
        out.append_text(safe(f"{d['runbook_id']} on {d['target']}", style="bold", limit=200))
        out.append("\n")
        out.append_text(
            line(
                ("run", d["id"]),
                ("state", d["state"]),
                ("mode", "dry-run" if d["dry_run"] else "live"),
            )
        )
        out.append("\n")
        out.append_text(
            line(
                ("started", when(d["started_at"])),
                ("finished", when(d["finished_at"])),
                ("outcome", d["outcome"]),
            )
        )
        out.append("\n\nSteps\n", style="bold underline")
        for s in d["steps"]:
            out.append(f"  {s['idx'] + 1:>2}. ")
            out.append_text(safe(f"{s['state']:<10}", style=STATE_STYLE.get(s["state"], "")))
            out.append_text(safe(s["step_id"], limit=60))
            if s["attempts"]:
                out.append(f"  attempts {s['attempts']}", style="dim")
            if s["error"]:
                out.append("  ")
                out.append_text(safe(s["error"], style="red", limit=160))
            out.append("\n")
        return out

    def action_resume(self) -> None:
        d = self.detail
        if not d or d["state"] not in ("waiting", "running") or d["dry_run"]:
            self.notify(
                "only a live run that stopped at a gate or was interrupted can resume", markup=False
            )
            return
        from ir_console.tui.screens.walkthrough import resume_run

        resume_run(self.console, d["id"], d["target"])
