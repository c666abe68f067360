"""Screens post messages up and the app acts on them (recorded with ``run_test``'s message hook);
subjects are named the CLI's way (an ambiguous name is refused); the case-wide search."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message

from discovery.case.store import Store
from ir_console.tui.app import ConsoleApp
from ir_console.tui.messages import (
    BlockRequested,
    JumpTo,
    OpenGraph,
    RunbooksRequested,
    SearchRequested,
    SubjectRef,
)
from ir_console.tui.modals import ChoiceModal
from ir_console.tui.safety import SafetyMode
from ir_console.tui.screens.search import SearchModal
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio


def credential_id(case: Path, redacted: str) -> str:
    with Store.open(case, create=False) as store:
        return str(
            store.conn.execute(
                "SELECT id FROM credentials WHERE redacted = ?", (redacted,)
            ).fetchone()[0]
        )


async def test_subject_keys_post_messages_the_app_handles(case: Path) -> None:
    seen: list[Message] = []
    app = ConsoleApp(case)
    payments = credential_id(case, "sk_live_…9fQ2")
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        assert app.safety is SafetyMode.READ_ONLY
        await press(pilot, "4", "slash")
        await type_text(pilot, "sk_live")
        await press(pilot, "escape", "b")  # read-only: asked for, refused by the app
        await press(pilot, "r")
        assert isinstance(app.screen, ChoiceModal)  # the runbooks that apply, offered
        await press(pilot, "escape", "x")
        assert app.current_mode == "graph"
        await press(pilot, "2", "slash")
        await type_text(pilot, "status:zombie")
        await press(pilot, "escape", "x")
    wanted = SubjectRef("credential", payments)
    posted = list({id(m): m for m in seen}.values())  # a message bubbling up is seen twice
    asked = [
        (type(m), m.subject)
        for m in posted
        if isinstance(m, BlockRequested | OpenGraph | RunbooksRequested)
    ]
    assert asked == [
        (BlockRequested, wanted),
        (RunbooksRequested, wanted),
        (OpenGraph, wanted),
        (OpenGraph, SubjectRef("endpoint", "api.example.com GET /v0/export")),
    ]


async def test_the_graph_explorer_refuses_an_ambiguous_name(case: Path) -> None:
    """A name that is both a host and an identity: the console says so, as the CLI does, instead
    of guessing one."""
    with Store.open(case, create=False) as store:
        store.conn.execute(
            "INSERT INTO identities(id, name, source, first_seen, last_seen) "
            "VALUES ('register:api', 'api.example.com', 'register', 0, 0)"
        )
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "6", "slash")
        await type_text(pilot, "api.example.com")
        await press(pilot, "enter")
        text = screen_text(app)
        assert "is ambiguous" in text and "host:api.example.com" in text, text
        await press(pilot, "slash", "ctrl+a", "ctrl+k")
        await type_text(pilot, "host:api.example.com")
        await press(pilot, "enter")
        text = screen_text(app)
        assert "exposure: who reaches this host" in text
        assert "pk_par…ZZZZ" in text and "sk_live_…9fQ2" in text


async def test_search_the_case_and_open_a_result(case: Path) -> None:
    seen: list[Message] = []
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await press(pilot, "slash")  # on the overview: the case-wide search
        assert isinstance(app.screen, SearchModal)
        await type_text(pilot, "export")
        text = screen_text(app)
        assert "api.example.com GET /v0/export [zombie]" in text
        await press(pilot, "enter", "enter")  # to the results, open the first
        await settle(pilot)
        assert app.current_mode == "endpoints"
        assert "/v0/export" in screen_text(app)
    assert any(isinstance(m, SearchRequested) for m in seen)
    jumps = [m for m in seen if isinstance(m, JumpTo)]
    assert jumps and jumps[-1].mode == "endpoints"
    assert "template:/v0/export" in jumps[-1].filter_text


def test_a_case_write_reported_while_the_app_closes_is_ignored(case: Path) -> None:
    """A CaseWritten handled after the screens are gone (a runbook's last write racing the
    exit) reads the case and stops there: no ScreenStackError out of the closing app."""
    from ir_console.tui.messages import CaseWritten

    app = ConsoleApp(case)  # never run: no screen on its stack, as at the end of a run
    with Store.open(case, create=False) as store:  # another connection commits a change
        store.conn.execute("INSERT INTO meta(key, value) VALUES ('poll-test', '1')")
        store.conn.commit()
    version = app.case_version
    app.on_case_written(CaseWritten())
    assert app.case_version == version + 1  # the change was seen
    app.data.close()
