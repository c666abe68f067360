"""docs/cli.md is generated from the click commands and must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "demo" / "gen_cli_reference.py"


@pytest.mark.integration
def test_cli_reference_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    proc = subprocess.run(
        [sys.executable, str(GENERATOR), "-o", str(fresh)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "37"},
    )
    assert proc.returncode == 0, proc.stderr
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert fresh.read_text() == committed, (
        "docs/cli.md is stale: run `.venv/bin/python demo/gen_cli_reference.py` and commit it"
    )


def test_cli_reference_lists_every_command() -> None:
    from ir_console.cli import COMMANDS

    text = (ROOT / "docs" / "cli.md").read_text()
    for name in COMMANDS:
        assert f"## `ir-console {name}`" in text, name
