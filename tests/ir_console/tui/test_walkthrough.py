"""The runbook walkthrough: offered from a subject, planned first, then run live with approvals
in modals (an irreversible step asks for its id), resumed after stopping at a gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, DataTable, Input, OptionList, RichLog, Static

from discovery.case import audit
from discovery.case.store import Store
from ir_console.tui.app import ConsoleApp
from ir_console.tui.modals import ChoiceModal, ConfirmModal, InputsModal
from ir_console.tui.screens.walkthrough import WalkthroughScreen
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio

CONTAIN = """\
id: contain-test-credential
title: Block a credential, then an irreversible local command
applies_to: credential
steps:
  - id: block
    action: proxy.block_credential
    with:
      credential: "{{ target.id }}"
      reason: "walkthrough test"
  - id: burn
    title: An irreversible step (a local command)
    action: command
    irreversible: true
    with:
      argv: ["true"]
"""


def plan_states(app: ConsoleApp) -> dict[str, str]:
    table = app.screen.query_one("#run-plan", DataTable)
    return {
        str(table.get_row_at(i)[1]): str(table.get_row_at(i)[3]) for i in range(table.row_count)
    }


async def wait_until(pilot: object, predicate: object, rounds: int = 300) -> None:
    """Poll (never wait for workers: the engine's worker blocks while a modal asks)."""
    for _ in range(rounds):
        await pilot.pause(0.1)  # type: ignore[attr-defined]
        if predicate():  # type: ignore[operator]
            return
    raise AssertionError("condition never became true")


async def go_live(pilot: object) -> None:
    await press(pilot, "M", "j", "j", "enter")  # type: ignore[arg-type]
    await type_text(pilot, "LIVE")  # type: ignore[arg-type]
    await press(pilot, "enter")  # type: ignore[arg-type]


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("IR_CONSOLE_RUNBOOKS", str(folder))


async def open_on_ci_token(pilot: Any, app: ConsoleApp, runbook_id: str) -> None:
    """Go live, find the CI token on the credentials screen, open ``runbook_id`` on it."""
    await settle(pilot)
    await go_live(pilot)
    await press(pilot, "4", "slash")
    await type_text(pilot, "ghp_")
    await press(pilot, "escape", "r")
    options = app.screen.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = ids.index(runbook_id)
    await press(pilot, "enter")
    assert isinstance(app.screen, WalkthroughScreen | InputsModal)


async def test_walkthrough_plans_first_then_runs_live_with_a_manual_gate(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the runbook's report goes under the working directory
    monkeypatch.delenv("IR_CONSOLE_RUNBOOKS", raising=False)
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "3", "slash")
        await type_text(pilot, "ci-bot")
        await press(pilot, "escape")
        await settle(pilot)
        await press(pilot, "r")
        assert isinstance(app.screen, ChoiceModal)
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "investigate-identity" in ids and "revoke-leaked-credential" not in ids
        options.highlighted = ids.index("investigate-identity")
        await press(pilot, "enter")
        assert isinstance(app.screen, WalkthroughScreen)
        await wait_until(pilot, lambda: app.screen.state == "planned")
        assert plan_states(app) == {"summary": "planned", "review": "planned", "report": "planned"}
        await wait_until(pilot, lambda: "manual gate" in screen_text(app), rounds=50)  # rendered
        await press(pilot, "g")  # read-only: refused, nothing runs
        with Store.open(case) as store:
            states = [
                r[0]
                for r in store.conn.execute(
                    "SELECT state FROM runbook_runs WHERE runbook_id = 'investigate-identity'"
                )
            ]
        assert states == ["planned"]
        await go_live(pilot)
        assert app.safety == "live"
        await pilot.press("g")  # the runbook declares an input: asked first, default filled in
        await wait_until(pilot, lambda: isinstance(app.screen, InputsModal))
        assert app.screen.query_one("#in-report_dir", Input).value == "ir-console-reports"
        app.screen.query_one("#yes").press()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await wait_until(pilot, lambda: "MANUAL gate" in screen_text(app), rounds=50)  # rendered
        app.screen.query_one("#yes").press()
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, WalkthroughScreen) and app.screen.state == "succeeded",
        )
        assert plan_states(app) == {"summary": "done", "review": "done", "report": "done"}
        # the live log has the run's end (read from the log itself: once the outcome panel
        # has loaded, the log may no longer be on screen)
        log = app.screen.query_one("#run-log", RichLog)
        assert any("run_finished" in line.text for line in log.lines)
    with Store.open(case) as store:
        actions = [e.action for e in audit.entries(store)]
        assert "manual.confirmed" in actions and "run.succeeded" in actions
        assert audit.verify(store).ok
    assert list((tmp_path / "ir-console-reports").iterdir())


@pytest.mark.integration
async def test_irreversible_step_needs_its_id_typed_and_the_run_resumes(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "contain-test", CONTAIN)
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on_ci_token(pilot, app, "contain-test-credential")
        await wait_until(pilot, lambda: app.screen.state == "planned")
        await wait_until(pilot, lambda: "irreversible" in screen_text(app), rounds=50)  # rendered
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        modal = app.screen
        assert modal.query_one("#yes").disabled  # approve stays disabled until the id is typed
        keys = str(modal.query_one("#modal-keys", Static).render())
        assert "type the step id, then enter" in keys and "esc: cancel" in keys
        await pilot.press("b", "u", "r")
        await pilot.pause(0.2)
        assert modal.query_one("#yes").disabled
        modal.query_one("#no", Button).focus()  # off the typed id: "y" is no answer here
        await pilot.press("y")
        await pilot.pause(0.2)
        assert app.screen is modal and modal.query_one("#yes").disabled
        await pilot.press("escape")  # decline: the run stops at the gate
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, WalkthroughScreen) and app.screen.state == "waiting",
        )
        assert plan_states(app)["block"] == "done"
        await pilot.press("u")  # resume: asked again
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("b", "u", "r", "n")
        await pilot.pause(0.2)
        assert not app.screen.query_one("#yes").disabled
        await pilot.press("enter")
        # every step done, but no enforcing proxy runs here to apply the block: partial
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, WalkthroughScreen) and app.screen.state == "partial",
        )
        assert plan_states(app)["burn"] == "done"
    with Store.open(case) as store:
        assert (
            store.conn.execute(
                "SELECT COUNT(*) FROM blocklist WHERE kind = 'credential'"
            ).fetchone()[0]
            == 1
        )
        entries = audit.entries(store)
        blocks = [
            e for e in entries if e.action == "action.started" and e.details.get("step") == "block"
        ]
        assert len(blocks) == 1  # the completed step was not repeated on resume
        assert any(
            e.action == "approval.granted" and e.details.get("step") == "burn" for e in entries
        )
