"""``ir-console tui`` in a real terminal under tmux: keys in, the screen read back."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.ir_console.tui.casebuilder import RAW_SECRETS, build_case
from tests.ir_console.tui.democase import build_demo

pytestmark = pytest.mark.integration  # starts processes or servers


class Terminal:
    """One tmux server on its own socket, one 120x40 session running a command."""

    def __init__(self, tmux: str, command: str) -> None:
        self.base = [tmux, "-L", f"irc-tui-{uuid.uuid4().hex[:8]}"]
        # the pane's size, not one inherited from the test runner (COLUMNS/LINES win over it)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        # the session starts idle; its size and options are set before the command runs, so
        # the console's first look at its terminal sees 120x40 (never a default 80x24)
        subprocess.run(
            [*self.base, "new-session", "-d", "-x", "120", "-y", "40", "-s", "tui", "sleep 600"],
            check=True,
            env=env,
        )
        for option in (
            ["set-option", "-s", "set-clipboard", "on"],  # OSC 52 copies land in a tmux buffer
            ["set-option", "-g", "window-size", "manual"],
            ["resize-window", "-t", "tui", "-x", "120", "-y", "40"],
            ["respawn-pane", "-k", "-t", "tui", f"{command}; sleep 30"],
        ):
            subprocess.run([*self.base, *option], check=True, env=env)

    def screen(self, escapes: bool = False) -> str:
        argv = [*self.base, "capture-pane", "-p", "-t", "tui"] + (["-e"] if escapes else [])
        return subprocess.run(
            argv, capture_output=True, text=True, check=True, errors="replace"
        ).stdout

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "tui", *keys], check=True)

    def type(self, text: str) -> None:
        """Type ``text`` literally (no key names)."""
        subprocess.run([*self.base, "send-keys", "-t", "tui", "-l", text], check=True)

    def clipboard(self) -> str:
        """What the application copied last (OSC 52, kept by tmux as its newest buffer)."""
        return subprocess.run(
            [*self.base, "show-buffer"], capture_output=True, text=True, check=False
        ).stdout

    def title(self) -> str:
        return subprocess.run(
            [*self.base, "display-message", "-p", "-t", "tui", "#{pane_title}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.fixture
def terminal_for(tmp_path: Path) -> Iterator[object]:
    tmux = require_tool("tmux")
    opened: list[Terminal] = []

    def open_on(case: Path) -> Terminal:
        exe = Path(sys.executable).parent / "ir-console"
        term = Terminal(tmux, f"{shlex.quote(str(exe))} --db {shlex.quote(str(case))} tui")
        opened.append(term)
        return term

    yield open_on
    for term in opened:
        term.close()


def test_tui_in_a_real_terminal(tmp_path: Path, terminal_for: object) -> None:
    case = build_case(tmp_path / "case.db")
    term = terminal_for(case)  # type: ignore[operator]
    term.wait_for("Undocumented debug endpoint called")
    term.wait_for("READ-ONLY")
    term.keys("2")
    term.wait_for("/v1/users/{id}")
    for _ in range(3):  # focus moves on a later refresh; on a loaded machine, try again
        term.keys("/")
        time.sleep(1.0)
        term.keys("d", "e", "b", "u", "g")
        try:
            screen = term.wait_for("1 of 1", timeout=10)
            break
        except AssertionError:
            term.keys("Escape")
    screen = term.wait_for("1 of 1", timeout=1)
    assert "/internal/debug/vars" in screen and "/v1/charges" not in screen
    term.keys("Escape")
    time.sleep(0.5)
    term.keys("z")
    term.wait_for("Why this template")
    screen = term.wait_for("pk_par…ZZZZ")
    for raw in RAW_SECRETS.values():
        assert raw not in screen
    term.keys("q")
    deadline = time.monotonic() + 20
    while "Why this template" in term.screen() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "Why this template" not in term.screen(), "q did not quit the console"


def test_hostile_case_in_a_real_terminal(tmp_path: Path, terminal_for: object) -> None:
    case = build_case(tmp_path / "case.db", hostile=True)
    term = terminal_for(case)  # type: ignore[operator]
    term.wait_for("Most severe findings")
    term.keys("5")
    screen = term.wait_for("[@click=app.quit]click me[/]")
    assert "[bold red]not bold[/bold red]" in screen
    term.keys("9")
    term.wait_for("Audit timeline")
    raw = term.screen(escapes=True)
    assert "pwned" not in term.title()  # no OSC title change reached the terminal
    assert "\x1b]8;;https://evil" not in raw  # no hyperlink from captured text
    assert "\u202e" not in raw and "\x00" not in raw


def test_demo_scenario_leaked_key_from_the_overview(tmp_path: Path, terminal_for: object) -> None:
    """The responder's path through the demo with only the keys the help screen lists: from the
    overview to the leaked key's page (its second address, 2.4 s after the partner, and the
    timeline), one of its admin requests opened, its id copied."""
    case = build_demo(tmp_path / "demo-case.db")
    term = terminal_for(case)  # type: ignore[operator]
    term.wait_for("Most severe findings")
    used = {"?": "?", "Escape": "escape", ":": ":", "/": "/", "Enter": "enter", "y": "y"}
    term.keys("?")
    help_screen = term.wait_for("Keys")
    term.keys("Escape")
    term.wait_for("Most severe findings")
    term.keys(":")
    term.wait_for(":cred globex")  # the command line's examples
    term.type("cred globex")
    term.keys("Enter")
    page = term.wait_for("Activity per source")
    page = term.wait_for("+2.39 s")
    lanes = [line for line in page.splitlines() if " ok" in line and "127.0.1." in line]
    assert [line.split()[0] for line in lanes] == ["127.0.1.20", "127.0.1.99"]
    partner, second = (line.index(line.split()[1]) for line in lanes)
    assert second > partner + 10  # the second address's bars start later
    assert "3 refused" in page and "privileged" in page
    for _ in range(3):  # focus moves on a later refresh; on a loaded machine, try again
        term.keys("/")
        time.sleep(1.0)
        term.keys("C-u")  # what an earlier try typed
        term.type("path:admin")
        try:
            term.wait_for("Exchanges (2 of 2)", timeout=10)
            break
        except AssertionError:
            term.keys("Escape")
    term.wait_for("Exchanges (2 of 2)", timeout=1)
    term.keys("Enter")  # back to the list
    time.sleep(0.5)
    term.keys("Enter")  # open the first admin request
    request = term.wait_for("X-API-Key: acme_pk_globex_")
    assert "/partner/v2/admin/" in request
    exchange_id = request.split("exchange: ", 1)[1].split()[0]
    term.keys("y")
    term.wait_for("copied id")
    assert term.clipboard() == exchange_id
    inside = [line.split("│")[1] for line in help_screen.splitlines() if line.count("│") >= 2]
    listed = {line.split()[0] for line in inside if line.split()}  # each key line's key
    for key, name in used.items():  # every key pressed is on the help screen
        assert key in listed or name in listed, f"{key} is not on the help screen"
