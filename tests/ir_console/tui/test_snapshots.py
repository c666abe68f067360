"""Snapshots of the main screens at 80x24 and 120x40 (deterministic case, redacted secrets), and
of the investigation pages on the demo case at 80x24 and 160x45: the overview, the leaked key's
page, one of its admin requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from ir_console.tui.app import ConsoleApp
from tests.ir_console.tui.casebuilder import RAW_SECRETS
from tests.ir_console.tui.conftest import settle
from tests.ir_console.tui.democase import build_demo

SIZES = [(80, 24), (120, 40)]
SNAPSHOTS = Path(__file__).parent / "__snapshots__"

# screen name -> keys pressed once the overview has painted
SCREENS = {
    "overview": (),
    "endpoints": ("2", "j"),
    "endpoint_details": ("2", "j", "z"),
    "identities": ("3",),
    "credentials": ("4", "j", "j"),
    "findings": ("5",),
    "graph": ("4", "x"),
    "help": ("question_mark",),
}


DEMO_SIZES = [(80, 24), (160, 45)]
# demo page -> keys pressed once the overview has painted ("(wait)": let the page load)
DEMO_PAGES = {
    "demo_overview": (),
    "demo_credential": ("colon", *"cred globex", "enter"),
    "demo_exchange": (
        *("colon", *"cred globex", "enter", "(wait)"),
        *("slash", *"path:admin", "enter", "(wait)", "enter"),
    ),
}


def run_keys(keys: tuple[str, ...]) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            if key != "(wait)":
                await pilot.press("space" if key == " " else key)
            await settle(pilot)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare: Any, case: Path, screen: str, size: tuple[int, int]) -> None:
    app = ConsoleApp(case)
    assert snap_compare(app, terminal_size=size, run_before=run_keys(SCREENS[screen]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo-case.db")


@pytest.mark.parametrize("size", DEMO_SIZES, ids=[f"{w}x{h}" for w, h in DEMO_SIZES])
@pytest.mark.parametrize("page", list(DEMO_PAGES))
def test_demo_page_snapshot(
    snap_compare: Any, demo: Path, page: str, size: tuple[int, int]
) -> None:
    app = ConsoleApp(demo)
    assert snap_compare(app, terminal_size=size, run_before=run_keys(DEMO_PAGES[page]))


def demo_secrets() -> tuple[str, ...]:
    """The raw secrets the demo capture carries (regenerated from its seed)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[3] / "demo"))
    from make_capture import SEED, Secrets

    secrets = Secrets(SEED)
    return (secrets.globex_partner_key, secrets.report_bot_key, secrets.batch_password)


def test_demo_snapshots_show_the_leaked_key_redacted_only() -> None:
    files = list(SNAPSHOTS.rglob("*demo_*.svg"))
    assert len(files) == len(DEMO_PAGES) * len(DEMO_SIZES)
    shown = 0
    for path in files:
        text = path.read_text()
        for raw in demo_secrets():
            assert raw not in text and raw[-10:] not in text, f"{path.name} holds a raw secret"
        shown += "acme_pk_globex_…PD6N" in text
    assert shown >= 3  # the key's page and its request, at both sizes, say which key it is


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
