"""The console's masked find box (f on Credentials) and unblock (u), on a real case file."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.case import audit, blocklist
from discovery.case.store import Store
from ir_console.tui.app import ConsoleApp
from ir_console.tui.modals import ConfirmModal, SecretModal
from ir_console.tui.screens.base import ListScreen
from tests.ir_console.tui.casebuilder import RAW_SECRETS
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text
from tests.ir_console.tui.test_screens import table_rows

pytestmark = pytest.mark.anyio


def credential_of(case: Path, redacted_tail: str) -> str:
    with Store.open(case) as store:
        row = store.conn.execute(
            "SELECT id FROM credentials WHERE redacted LIKE ?", (f"%{redacted_tail}",)
        ).fetchone()
    return str(row[0])


def notices(app: ConsoleApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def test_a_leaked_secret_typed_in_the_find_box_is_never_shown_and_jumps_to_it(
    case: Path,
) -> None:
    secret = RAW_SECRETS["ci"]
    expected = credential_of(case, "1234")
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "4", "f")
        assert isinstance(app.screen, SecretModal)
        # pasted the way a responder copies it from a leak: header name, scheme and all
        await type_text(pilot, f"Authorization: Bearer {secret}")
        typed = screen_text(app)
        assert secret not in typed and secret[:12] not in typed and "•" in typed
        await press(pilot, "enter")
        await settle(pilot, 3)
        assert isinstance(app.screen, ListScreen) and app.current_mode == "credentials"
        assert app.screen.filter_text == f"id:{expected}"
        rows = table_rows(app)
        assert len(rows) == 1 and expected in rows[0]
        assert f"SEEN: {expected}" in notices(app)
        shown = screen_text(app) + notices(app)
        assert secret not in shown and secret[4:16] not in shown

        # a secret the case never saw: said so, the list stays where it was
        await press(pilot, "f")
        await type_text(pilot, "ghp_" + "Q" * 36)
        await press(pilot, "enter")
        await settle(pilot, 3)
        assert "not seen in this case" in notices(app)
        assert app.screen.filter_text == f"id:{expected}"
        assert "Q" * 36 not in screen_text(app) + notices(app)


async def test_unblock_from_the_console_only_when_live_confirmed_and_audited(case: Path) -> None:
    credential = credential_of(case, "1234")
    with Store.open(case) as store:
        blocklist.block_credential(store, credential, "leaked", actor="cli")
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "4", "slash")
        await type_text(pilot, f"id:{credential}")
        await press(pilot, "escape")
        assert "⛔" in table_rows(app)[0]
        await press(pilot, "u")  # READ-ONLY: refused
        assert "READ-ONLY: would unblock" in notices(app)
        await press(pilot, "M", "j", "enter", "u")  # DRY-RUN: planned only
        assert "DRY-RUN: would remove" in notices(app)
        with Store.open(case) as store:
            assert [b.subject for b in blocklist.blocks(store)] == [credential]
        await press(pilot, "M", "j", "j", "enter")
        await type_text(pilot, "LIVE")
        await press(pilot, "enter")
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmModal)
        app.screen.query_one("#no").press()  # cancelled: still blocked
        await settle(pilot)
        with Store.open(case) as store:
            assert [b.subject for b in blocklist.blocks(store)] == [credential]
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmModal)
        app.screen.query_one("#yes").press()
        await settle(pilot, 3)
        with Store.open(case) as store:
            assert blocklist.blocks(store) == []
            last = audit.entries(store)[-1]
            assert (last.action, last.subject, last.actor) == (
                "unblock.credential",
                credential,
                "console",
            )
        assert f"unblocked credential {credential}: no enforcing proxy is running" in notices(app)
        assert "⛔" not in table_rows(app)[0]
