"""Fixtures for the console tests: a deterministic case on disk and a pilot helper."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.ir_console.tui.casebuilder import build_case


@pytest.fixture
def case(tmp_path: Path) -> Path:
    return build_case(tmp_path / "case.db")


@pytest.fixture
def hostile_case(tmp_path: Path) -> Path:
    return build_case(tmp_path / "case.db", hostile=True)


async def settle(pilot: Pilot[object], rounds: int = 2) -> None:
    """Let workers finish and their messages be handled."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def press(pilot: Pilot[object], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot, 1)


async def type_text(pilot: Pilot[object], text: str) -> None:
    """Type into the focused widget, one keystroke at a time, then let the screen settle."""
    await pilot.press(*("space" if c == " " else c for c in text))
    await settle(pilot)


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio through anyio's pytest plugin (installed with httpx)."""
    return "asyncio"
