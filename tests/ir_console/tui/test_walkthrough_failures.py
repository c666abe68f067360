"""The walkthrough when a step fails (retry, skip, roll back, stop in a modal, decided through the
engine), its outcome view (the audit entries the run wrote), and the runbook's inputs asked
before a live run (a secret typed masked never reaches the case file). Real parts: commands, the
case's blocklist, an Authlib RFC 7009 endpoint on loopback."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList

from discovery.case import audit, blocklist
from discovery.case.store import Store
from ir_console.tui.app import ConsoleApp
from ir_console.tui.modals import FailureModal, InputsModal
from ir_console.tui.screens.walkthrough import WalkthroughScreen
from runbooks.runs import run_log
from tests.ir_console.tui.screen_text import screen_text
from tests.ir_console.tui.test_walkthrough import (
    install,
    open_on_ci_token,
    plan_states,
    wait_until,
)
from tests.runbooks.actions.oauth_server import CLIENT_ID, CLIENT_SECRET, oauth_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]  # integration: starts processes

# ``check`` fails until FLAG exists; ``broken`` always fails (``false``)
FAILING = """\
id: failing-test
title: Block, then a check that fails until a flag exists, then a step that always fails
applies_to: credential
steps:
  - id: block
    action: proxy.block_credential
    with:
      credential: "{{ target.id }}"
      reason: "walkthrough failure test"
    rollback:
      action: proxy.unblock_credential
      with:
        credential: "{{ target.id }}"
  - id: check
    action: command
    with:
      argv: ["test", "-e", "FLAG"]
  - id: broken
    action: command
    with:
      argv: ["false"]
  - id: after
    action: command
    with:
      argv: ["true"]
"""

REVOKE = f"""\
id: revoke-test-oauth
title: Revoke a token at an RFC 7009 endpoint, then echo it (the output is redacted)
applies_to: credential
inputs:
  endpoint:
    description: the RFC 7009 revocation endpoint
  client_secret:
    secret: true
  token:
    description: the leaked token
    secret: true
steps:
  - id: revoke
    action: oauth.revoke
    with:
      endpoint: "{{{{ inputs.endpoint }}}}"
      token: "{{{{ inputs.token }}}}"
      token_type_hint: access_token
      client_id: {CLIENT_ID}
      client_secret: "{{{{ inputs.client_secret }}}}"
  - id: echo
    action: command
    with:
      argv: ["echo", "{{{{ inputs.token }}}}"]
"""


def failure_modal(app: ConsoleApp) -> bool:
    return isinstance(app.screen, FailureModal)


def choices(app: ConsoleApp) -> list[str | None]:
    options = app.screen.query_one(OptionList)
    return [options.get_option_at_index(i).id for i in range(options.option_count)]


def finished(app: ConsoleApp, state: str) -> bool:
    return isinstance(app.screen, WalkthroughScreen) and app.screen.state == state


def run_entries(case: Path, run_id: str) -> list[Any]:
    with Store.open(case) as store:
        return [e for e in audit.entries(store) if e.details.get("run") == run_id]


async def test_a_failed_step_is_retried_then_another_is_skipped(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "flag"
    install(tmp_path, monkeypatch, "failing", FAILING.replace("FLAG", str(flag)))
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on_ci_token(pilot, app, "failing-test")
        await wait_until(pilot, lambda: app.screen.state == "planned")
        assert "(rollback: proxy.unblock_credential)" in screen_text(app)
        await pilot.press("g")  # no declared inputs: the live run starts at once
        await wait_until(pilot, lambda: failure_modal(app))
        text = screen_text(app)
        assert "Step check failed (attempt 1)" in text and "exited 1" in text
        assert choices(app) == ["retry", "skip", "rollback", "stop"]
        assert "roll back the completed steps (b): block" in text
        flag.touch()  # the responder fixes what the check looks for, then retries
        await pilot.press("r")
        await wait_until(pilot, lambda: failure_modal(app) and "Step broken" in screen_text(app))
        await pilot.press("s")
        # a step skipped after failing (and a block no proxy enforces): partial, not succeeded
        await wait_until(pilot, lambda: finished(app, "partial"))
        assert plan_states(app) == {
            "block": "done",
            "check": "done",
            "broken": "skipped",
            "after": "done",
        }
        run_id = app.screen.run_id
        assert run_id is not None
    entries = run_entries(case, run_id)
    decisions = [
        (e.action, e.details["step"], e.actor) for e in entries if e.action.startswith("failure.")
    ]
    assert decisions == [
        ("failure.retry", "check", "console"),
        ("failure.skip", "broken", "console"),
    ]
    checks = [
        e.details["attempt"]
        for e in entries
        if e.action == "action.started" and e.details["step"] == "check"
    ]
    assert checks == [1, 2]  # the retry called the step again
    with Store.open(case) as store:
        assert len(blocklist.blocks(store)) == 1  # nothing rolled back
        assert (
            store.conn.execute(
                "SELECT state FROM runbook_steps WHERE run_id = ? AND step_id = 'broken'", (run_id,)
            ).fetchone()[0]
            == "skipped"
        )
        assert audit.verify(store).ok


async def test_a_failed_step_rolls_back_the_completed_steps(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "failing", FAILING.replace("FLAG", str(tmp_path / "never")))
    app = ConsoleApp(case)
    async with app.run_test(size=(80, 24)) as pilot:  # the smallest supported terminal
        await open_on_ci_token(pilot, app, "failing-test")
        await wait_until(pilot, lambda: app.screen.state == "planned")
        await pilot.press("g")
        await wait_until(pilot, lambda: failure_modal(app))
        with Store.open(case) as store:
            assert len(blocklist.blocks(store)) == 1  # blocked before the check failed
        await pilot.press("b")
        await wait_until(pilot, lambda: finished(app, "failed"))
        assert plan_states(app) == {
            "block": "rolled_back",
            "check": "failed",
            "broken": "pending",
            "after": "pending",
        }
        run_id = app.screen.run_id
    entries = run_entries(case, run_id)
    actions = [e.action for e in entries]
    assert actions.index("failure.rollback") < actions.index("rollback.started")
    assert "rollback.succeeded" in actions
    with Store.open(case) as store:
        assert blocklist.blocks(store) == []


async def test_the_outcome_lists_the_audit_entries_the_run_wrote(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "failing", FAILING.replace("FLAG", str(tmp_path / "never")))
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_on_ci_token(pilot, app, "failing-test")
        await wait_until(pilot, lambda: app.screen.state == "planned")
        await pilot.press("g")
        await wait_until(pilot, lambda: failure_modal(app))
        await pilot.press("escape")  # escape stops: nothing retried, nothing rolled back
        screen = app.screen
        await wait_until(
            pilot,
            lambda: (
                finished(app, "failed") and screen.query_one("#run-audit", DataTable).row_count > 0
            ),
        )
        run_id = screen.run_id
        assert run_id is not None
        table = screen.query_one("#run-audit", DataTable)
        assert table.display
        shown = [
            (int(str(table.get_row_at(i)[0])), str(table.get_row_at(i)[3]))
            for i in range(table.row_count)
        ]
        text = screen_text(app)
        assert "nothing rolled back" in text
        assert f"audit entries written by run {run_id}" in text
    with Store.open(case) as store:
        expected = [(e["seq"], e["action"]) for e in run_log(store, run_id)]
    assert shown == expected  # every entry, in order, the blocklist's own included
    actions = [a for _, a in shown]
    assert actions[0] == "run.started" and actions[-1] == "run.failed"
    assert {"block.credential", "action.failed", "failure.stop"} <= set(actions)


async def test_inputs_are_asked_before_a_live_run_and_a_typed_secret_never_reaches_the_case(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "revoke", REVOKE)
    token = "attyped" + secrets.token_hex(12)
    app = ConsoleApp(case)
    with oauth_server() as server:
        server.issue(token)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_on_ci_token(pilot, app, "revoke-test-oauth")
            await wait_until(pilot, lambda: app.screen.state == "planned")
            assert "needs the secret input" in screen_text(app)
            await pilot.press("g")
            await wait_until(pilot, lambda: isinstance(app.screen, InputsModal))
            modal = app.screen
            secret_field = modal.query_one("#in-token", Input)
            assert secret_field.password  # typed masked
            modal.query_one("#in-endpoint", Input).value = server.revocation_url
            modal.query_one("#in-client_secret", Input).value = CLIENT_SECRET
            secret_field.focus()
            await pilot.press(*token)  # typed key by key, as a responder would
            await pilot.pause(0.2)
            assert token not in screen_text(app)  # masked on screen
            await pilot.press("enter")  # enter on the last field submits
            await wait_until(pilot, lambda: finished(app, "succeeded"), rounds=200)
            assert token not in screen_text(app)
            run_id = app.screen.run_id
        assert server.tokens[token].revoked  # the typed secret did reach the provider
        assert server.revocations[0]["token"] == token
    files = [p for p in case.parent.iterdir() if p.name.startswith(case.name)]
    assert any(p.name == case.name for p in files)
    for path in files:
        data = path.read_bytes()
        assert token.encode() not in data, f"{path.name} holds the typed secret"
        assert CLIENT_SECRET.encode() not in data, f"{path.name} holds the typed client secret"
    with Store.open(case) as store:
        started = next(
            e
            for e in audit.entries(store)
            if e.action == "run.started" and e.details["run"] == run_id
        )
        assert started.details["inputs"] == {"endpoint": server.revocation_url}
        assert started.details["secret_inputs"] == ["client_secret", "token"]
        echo = store.conn.execute(
            "SELECT output FROM runbook_steps WHERE run_id = ? AND step_id = 'echo'", (run_id,)
        ).fetchone()[0]
        assert "[secret]" in echo


REQUIRED = """\
id: required-test
title: A runbook that cannot be planned without its input
applies_to: credential
inputs:
  ticket:
    description: the incident ticket
    required: true
  count:
    type: integer
    default: 1
steps:
  - id: note
    action: command
    with:
      argv: ["echo", "{{ inputs.ticket }}"]
"""


async def test_a_required_input_is_asked_before_the_plan_and_checked(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "required", REQUIRED)
    app = ConsoleApp(case)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_on_ci_token(pilot, app, "required-test")
        assert isinstance(app.screen, InputsModal)  # before any plan
        modal = app.screen
        assert modal.query_one("#in-count", Input).value == "1"  # the default, filled in
        modal.query_one("#yes").press()
        await pilot.pause(0.2)
        assert app.screen is modal and "ticket is required" in screen_text(app)
        modal.query_one("#in-count", Input).value = "many"
        modal.query_one("#in-ticket", Input).value = "INC-42"
        modal.query_one("#yes").press()
        await pilot.pause(0.2)
        assert app.screen is modal and "must be integer" in screen_text(app)
        modal.query_one("#in-count", Input).value = "2"
        modal.query_one("#yes").press()
        await wait_until(pilot, lambda: app.screen.state == "planned")
        assert "INC-42" in screen_text(app)
        assert app.screen.params == {"ticket": "INC-42", "count": "2"}
