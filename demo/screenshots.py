#!/usr/bin/env python3
"""Regenerate the README's screenshots: SVGs exported by Textual from a fresh demo case.

    .venv/bin/python demo/screenshots.py          # writes docs/screenshots/*.svg

Each shot opens the console on the demo case at 120x40 (headless, ``App.run_test``), presses
its keys, waits for the screen to settle and exports it with ``App.export_screenshot``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "screenshots"
SIZE = (120, 40)


@dataclass(frozen=True)
class Shot:
    """One screenshot: its file name, its title, the keys that reach its screen, and an optional
    setup run inside the app before the keys (for screens reached from a selected subject)."""

    name: str
    title: str
    keys: tuple[str, ...] = ()
    setup: Callable[[Any, Path], None] | None = None


def leaked_key_walkthrough(app: Any, case: Path) -> None:
    """Open the revoke-leaked-credential walkthrough on the demo's leaked partner key (its plan)."""
    from make_capture import SEED, Secrets

    from discovery.case.store import Store
    from discovery.views import queries
    from ir_console.tui.screens.walkthrough import WalkthroughScreen
    from runbooks import loader

    with Store.open(case, create=False) as store:
        found = queries.credential_by_fingerprint(
            store, store.fingerprint(Secrets(SEED).globex_partner_key)
        )
    assert found is not None, "the demo's leaked key is not in the case"
    loaded = loader.load_all()["revoke-leaked-credential"]
    app.push_screen(WalkthroughScreen(loaded, f"credential:{found['id']}"))


SHOTS = (
    Shot("overview", "ir-console: the demo case's overview"),
    Shot(
        "runbook",
        "ir-console: revoke-leaked-credential on the leaked partner key (plan)",
        keys=("4",),
        setup=leaked_key_walkthrough,
    ),
)


async def take(case: Path, shot: Shot, output: Path) -> Path:
    """Open the console on ``case``, press the shot's keys, export the screen as SVG."""
    from ir_console.tui.app import ConsoleApp

    app = ConsoleApp(case)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        for key in shot.keys:
            if key.startswith("wait:"):
                await pilot.pause(float(key.split(":", 1)[1]))
                continue
            await pilot.press(key)
            await pilot.pause(0.2)
        if shot.setup is not None:
            shot.setup(app, case)
            await pilot.pause(1.0)
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        svg = app.export_screenshot(title=shot.title)
    path = output / f"{shot.name}.svg"
    path.write_text(svg)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    parser.add_argument("names", nargs="*", help="only these shots (default: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "demo"))
    from ir_console.commands.demo import build_demo_case

    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "demo-case.db"
        build_demo_case(case)
        for shot in SHOTS:
            if args.names and shot.name not in args.names:
                continue
            print(f"wrote {asyncio.run(take(case, shot, args.output))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
