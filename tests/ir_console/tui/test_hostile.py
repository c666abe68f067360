"""Hostile strings in a case, shown on every screen: no markup interpreted, no action triggered,
no raw control byte sent to the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ir_console.tui.app import ConsoleApp
from tests.ir_console.tui.casebuilder import HOSTILE_MARKERS
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_lines, strips

pytestmark = pytest.mark.anyio

CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

WAIT = "(wait)"  # let the page load before the next keys
# (keys to reach the view, a marker of the view)
VIEWS = [
    ((), "Most severe findings"),
    (("2",), "Endpoints"),
    (("2", "slash", *"h0.example", "escape", "z"), "Why this template"),
    (("2", "slash", *"bad.example", "escape", "z"), "Why this template"),
    (("2", "slash", *"bad.example", "escape", "enter"), "no request seen"),
    (("2", "slash", *"h0.example", "escape", "enter"), "Activity per source"),
    (("2", "slash", *"h0.example", "escape", "enter", WAIT, "enter"), "Evidence"),
    (("3",), "Identities"),
    (("3", "slash", *"bad", "escape", "z"), "bad-"),
    (("3", "slash", *"bad", "escape", "enter"), "From "),
    (("4",), "Credentials"),
    (("4", "slash", *"pk_par", "escape", "z"), "Endpoints reached"),
    (("4", "slash", *"pk_par", "escape", "enter"), "Activity per source"),
    (("4", "slash", *"pk_par", "escape", "enter", WAIT, "enter"), "Request"),
    (("5",), "Findings"),
    (("5", "slash", *"click", "escape", "z"), "Evidence"),
    (("4", "slash", *"pk_par", "escape", "x"), "blast radius"),
    (("7",), "Live capture"),
    (("8",), "Runbook runs"),
    (("9",), "Audit timeline"),
    (("9", "slash", *"click", "escape", "enter"), "Details"),
    (("question_mark",), "Screens"),
]


def check_rendered(app: ConsoleApp) -> None:
    """Every rendered segment: no control or bidi character, no action, no link from data."""
    for strip in strips(app):
        for segment in strip:
            assert not CONTROL.search(segment.text), repr(segment.text)
            style = segment.style
            if style is None:
                continue
            meta = style.meta or {}
            assert "@click" not in meta or "app.quit" not in str(meta["@click"]), meta
            assert not (style.link and "evil" in style.link), style.link


async def test_hostile_strings_are_inert_on_every_view(hostile_case: Path) -> None:
    app = ConsoleApp(hostile_case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for keys, marker in VIEWS:
            # back to a known state: out of pages and zooms, to the overview
            await pilot.press("escape", "escape", "escape", "escape", "1")
            await settle(pilot)
            keys = tuple("ctrl+u" if k == "slash" else k for k in keys)
            if "ctrl+u" in keys:  # focus the filter and clear what the last visit typed
                at = keys.index("ctrl+u")
                keys = (*keys[:at], "slash", "ctrl+u", *keys[at + 1 :])
            while keys:
                now = keys[: keys.index(WAIT)] if WAIT in keys else keys
                keys = keys[len(now) + 1 :]
                await pilot.press(*now)
                await settle(pilot, 3)
            text = "\n".join(screen_lines(app))
            assert marker in text, (marker, text)
            check_rendered(app)
            assert app.is_running and app.return_code is None


async def test_markup_is_shown_literally_and_clicking_it_does_nothing(hostile_case: Path) -> None:
    app = ConsoleApp(hostile_case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "5", "slash")
        await type_text(pilot, "click")
        await press(pilot, "escape")
        lines = screen_lines(app)
        hits = [
            (y, line.index("[@click=app.quit]"))
            for y, line in enumerate(lines)
            if "[@click=app.quit]click me[/]" in line
        ]
        assert hits, "the markup should be shown as typed"
        assert not any("[bold red]" not in line for line in lines if "not bold" in line)
        for y, x in hits:
            await pilot.click(offset=(x + 3, y))
            await pilot.click(offset=(x + len("[@click=app.quit]") + 2, y))
            await settle(pilot)
        assert app.is_running and app.return_code is None


async def test_hostile_text_keeps_its_printable_content(hostile_case: Path) -> None:
    app = ConsoleApp(hostile_case)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        await press(pilot, "5")
        text = "\n".join(screen_lines(app))
        for marker in ("click me", "not bold"):
            assert marker in text
        assert "evil" + "gnp.exe" in text.replace(" ", "")  # bidi override removed, text kept
        assert HOSTILE_MARKERS
