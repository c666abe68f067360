"""``ir-console demo`` in a real terminal (tmux): the console opens on the demo's findings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import require_tool

pytestmark = pytest.mark.integration  # starts processes or servers

# Rules the demo plants that an overview of the most severe findings must show at 120x40.
EXPECTED_ANY = (
    "credential_multiple_sources",
    "object_enumeration",
    "sensitive_data_exposure",
    "long_lived_token",
    "cleartext_credential",
)


def test_demo_opens_the_console_on_its_findings(tmp_path: Path) -> None:
    tmux = require_tool("tmux")
    socket = f"irc-demo-{uuid.uuid4().hex[:8]}"
    exe = Path(sys.executable).parent / "ir-console"
    base = [tmux, "-L", socket]
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(
        [
            *base,
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "demo",
            f"cd {tmp_path} && {exe} demo; sleep 30",
        ],
        check=True,
        env=env,
    )
    screen = ""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "demo"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if any(rule in screen for rule in EXPECTED_ANY):
                break
            time.sleep(0.5)
        assert any(rule in screen for rule in EXPECTED_ANY), f"screen was:\n{screen}"
        assert (tmp_path / "demo-case.db").exists()
        subprocess.run([*base, "send-keys", "-t", "demo", "q"], check=True)
        for _ in range(40):  # the console quits on q: the shell goes on to its sleep
            screen = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "demo"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if not any(rule in screen for rule in EXPECTED_ANY):
                break
            time.sleep(0.25)
        assert not any(rule in screen for rule in EXPECTED_ANY), "q did not quit the console"
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)


def _screen(base: list[str]) -> str:
    return subprocess.run(
        [*base, "capture-pane", "-p", "-t", "demo"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.timeout(900)
def test_make_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    """The README's first command, as a new user runs it: clone, ``make demo``, see findings.

    The clone has no venv: ``make demo`` creates it and installs the package and its
    dependencies from the package index (pip's cache makes this quick after ``make test``)."""
    tmux = require_tool("tmux")
    git = require_tool("git")
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path / "ir-console"
    subprocess.run([git, "clone", "-q", str(root), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists()
    socket = f"irc-fresh-{uuid.uuid4().hex[:8]}"
    base = [tmux, "-L", socket]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["TERM"] = "xterm-256color"
    # the console draws on the terminal (Textual writes to stderr): nothing is redirected
    subprocess.run(
        [
            *base,
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "demo",
            f"cd {clone} && make demo; sleep 60",
        ],
        check=True,
        env=env,
    )
    screen = ""
    try:
        deadline = time.monotonic() + 780
        while time.monotonic() < deadline:
            screen = _screen(base)
            if any(rule in screen for rule in EXPECTED_ANY):
                break
            time.sleep(1)
        assert any(rule in screen for rule in EXPECTED_ANY), f"screen was:\n{screen}"
        assert (clone / ".venv" / "bin" / "ir-console").exists()
        assert (clone / "demo-case.db").exists()
        subprocess.run([*base, "send-keys", "-t", "demo", "q"], check=True)
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)
