"""The runbook screen reads plainly: steps that do not apply leave the plan for one line that
says why, a step that runs shows what it calls with the run's real values and then its output,
the report's path is shown (on the walkthrough and on Runs), and every dialog names its keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from ir_console.tui.app import ConsoleApp
from ir_console.tui.modals import ConfirmModal, InputsModal
from ir_console.tui.screens.runbooks import RunsScreen
from ir_console.tui.screens.walkthrough import WalkthroughScreen
from tests.ir_console.tui.conftest import press, settle
from tests.ir_console.tui.screen_text import screen_text
from tests.ir_console.tui.test_walkthrough import install, open_on_ci_token, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]  # runs a local command

READABLE = """\
id: readable-test
title: Steps that apply and steps that do not, outputs and a report
applies_to: credential
inputs:
  notify_url:
    description: a webhook to tell
  report_dir:
    default: screen-reports
steps:
  - id: block
    action: proxy.block_credential
    with:
      credential: "{{ target.id }}"
      reason: "screen test"
  - id: notify
    action: http.request
    when: "inputs.notify_url"
    skip_reason: no webhook given (input notify_url)
    with:
      url: "{{ inputs.notify_url }}"
      method: POST
  - id: page-oncall
    action: http.request
    when: "inputs.notify_url"
    skip_reason: no webhook given (input notify_url)
    with:
      url: "{{ inputs.notify_url }}"
      method: POST
  - id: legacy
    manual: Never asked.
    when: "target.kind == 'no-such-kind'"
  - id: stamp
    action: command
    with:
      argv: ["true", "blocked at {{ steps['block'].output.at_ts }}"]
  - id: check
    manual: Check the block holds.
  - id: report
    action: report.write
    with:
      directory: "{{ inputs.report_dir }}"
"""


def plan_rows(app: ConsoleApp) -> dict[str, list[str]]:
    table = app.screen.query_one("#run-plan", DataTable)
    return {
        str(row[1]): [str(c) for c in row]
        for row in (table.get_row_at(i) for i in range(table.row_count))
    }


def skipped_line(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#run-skipped", Static).render())


async def test_the_runbook_screen_reads_plainly(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the report goes under the working directory
    install(tmp_path, monkeypatch, "readable-test", READABLE)
    app = ConsoleApp(case)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_on_ci_token(pilot, app, "readable-test")
        await wait_until(pilot, lambda: app.screen.state == "planned")
        rows = plan_rows(app)
        # the steps that do not apply left the plan, gathered on one line with their reasons
        assert list(rows) == ["block", "stamp", "check", "report"]
        assert [rows[s][0] for s in rows] == ["1", "5", "6", "7"]  # numbered as in the runbook
        line = skipped_line(app)
        assert line.startswith("3 steps do not apply: ")
        assert "notify, page-oncall (no webhook given (input notify_url))" in line
        assert "legacy (when \"target.kind == 'no-such-kind'\" is false)" in line
        assert "<unknown" in rows["stamp"][4]  # the plan cannot know the block's time yet

        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, InputsModal))
        keys = str(app.screen.query_one("#modal-keys", Static).render())
        assert "enter on the last: run live" in keys and "esc: cancel" in keys
        app.screen.query_one("#yes").press()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await wait_until(pilot, lambda: "MANUAL gate" in screen_text(app), rounds=50)
        keys = str(app.screen.query_one("#modal-keys", Static).render())
        assert "y: confirm done" in keys and "esc: cancel" in keys
        await pilot.press("y")  # the key the dialog names answers it
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, WalkthroughScreen) and app.screen.state == "partial",
        )
        walkthrough = app.screen
        assert isinstance(walkthrough, WalkthroughScreen)
        rows = plan_rows(app)
        # what ran shows its real values, then what it returned
        assert "<unknown" not in rows["stamp"][4]
        at_ts = walkthrough.outputs["block"]["at_ts"]
        assert str(at_ts) in rows["stamp"][4]
        assert "at_ts:" in rows["block"][5]
        report = tmp_path / "screen-reports"
        files = sorted(str(p) for p in report.iterdir())
        assert files and all(f.startswith(str(report)) for f in files)
        assert "files: " in rows["report"][5]
        await wait_until(pilot, lambda: "Report: " in screen_text(app), rounds=50)
        outcome = str(walkthrough.query_one("#run-outcome", Static).render())
        assert "Report: " in outcome and Path(files[0]).name in outcome
        assert "3 steps do not apply" in skipped_line(app)  # as the live run found them

        await press(pilot, "escape", "8")  # the Runs screen: the live run's steps and report
        await settle(pilot, 3)
        assert isinstance(app.screen, RunsScreen)
        await wait_until(pilot, lambda: "Report: " in screen_text(app), rounds=50)
        text = screen_text(app)
        assert Path(files[0]).name in text and "at_ts:" in text
