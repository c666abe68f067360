"""Snapshots of the main screens at 80x24 and 120x40 (deterministic case, redacted secrets)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from ir_console.tui.app import ConsoleApp
from tests.ir_console.tui.casebuilder import RAW_SECRETS
from tests.ir_console.tui.conftest import settle

SIZES = [(80, 24), (120, 40)]
SNAPSHOTS = Path(__file__).parent / "__snapshots__"

# screen name -> keys pressed once the overview has painted
SCREENS = {
    "overview": (),
    "endpoints": ("2", "j"),
    "endpoint_details": ("2", "j", "enter"),
    "identities": ("3",),
    "credentials": ("4", "j", "j"),
    "findings": ("5",),
    "graph": ("4", "x"),
    "help": ("question_mark",),
}


def run_keys(keys: tuple[str, ...]) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare: Any, case: Path, screen: str, size: tuple[int, int]) -> None:
    app = ConsoleApp(case)
    assert snap_compare(app, terminal_size=size, run_before=run_keys(SCREENS[screen]))


def test_snapshots_hold_no_raw_secret() -> None:
    files = list(SNAPSHOTS.rglob("*.svg"))
    assert len(files) >= len(SCREENS) * len(SIZES)
    redacted_shown = 0
    for path in files:
        text = path.read_text()
        for raw in RAW_SECRETS.values():
            assert raw not in text, f"{path.name} holds a raw secret"
            assert raw[-12:] not in text, f"{path.name} holds part of a raw secret"
        redacted_shown += "sk_live_…9fQ2" in text
    assert redacted_shown  # the credential is on screen, in its redacted form only
