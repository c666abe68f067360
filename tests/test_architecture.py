"""The layer contracts of docs/architecture.md hold on this tree, and fail when a low layer
imports a higher one (so the check cannot pass by checking nothing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

pytestmark = pytest.mark.integration  # starts processes or servers

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_tree(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.so")
    for package in ("discovery", "runbooks", "ir_console"):
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


@pytest.fixture(scope="module")
def lint_imports() -> Path:
    if not LINT_IMPORTS.exists():
        pytest.fail("import-linter is not installed: `make test` installs the dev extras")
    return LINT_IMPORTS


def test_the_contracts_hold_on_this_tree(lint_imports: Path, tmp_path: Path) -> None:
    result = _lint(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("discovery/wire/http1.py", "from discovery.views import queries", "layers point one way"),
        ("discovery/redact/convert.py", "import discovery.case.store", "layers point one way"),
        (
            "discovery/case/store.py",
            "from discovery.analyse import inventory",
            "layers point one way",
        ),
        (
            "discovery/sources/har.py",
            "from discovery.redact import secrets",
            "layers point one way",
        ),
        (
            "discovery/models.py",
            "from discovery.wire import packets",
            "vocabulary imports no layer",
        ),
        ("runbooks/engine.py", "import textual", "never import the console"),
        ("runbooks/report.py", "import sqlite3", "read the case through discovery.views"),
        (
            "ir_console/commands/read.py",
            "from discovery.case import schema",
            "read the case through discovery.views",
        ),
        (
            "ir_console/tui/screens/graph.py",
            "from ir_console.tui import app",
            "console screens post messages up",
        ),
        (
            "ir_console/tui/screens/live.py",
            "from ir_console.commands import capture",
            "console screens post messages up",
        ),
    ],
)
def test_an_upward_import_breaks_a_contract(
    lint_imports: Path, tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    tree = _copy_tree(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
