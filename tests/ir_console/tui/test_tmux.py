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

pytestmark = pytest.mark.integration  # starts processes or servers


class Terminal:
    """One tmux server on its own socket, one 120x40 session running a command."""

    def __init__(self, tmux: str, command: str) -> None:
        self.base = [tmux, "-L", f"irc-tui-{uuid.uuid4().hex[:8]}"]
        env = {**os.environ, "TERM": "xterm-256color"}
        subprocess.run(
            [
                *self.base,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                "tui",
                f"{command}; sleep 30",
            ],
            check=True,
            env=env,
        )

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
    term.keys("Enter")
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
