"""The README's recipes run as written: every fenced ``sh`` block, in order, in one shell.

A block preceded by ``<!-- no-test -->`` is skipped (it needs root, the network, a long-running
process, or it is ``make`` itself). A block preceded by ``<!-- requires: CMD ... -->`` names the
``ir-console`` commands it needs; a command the CLI does not have fails the suite.
The blocks run in a fresh temporary directory with the project's ``ir-console`` first on PATH;
the recipes build the demo case there themselves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NO_TEST = "<!-- no-test -->"
_FENCE = re.compile(r"^```sh[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


_REQUIRES = re.compile(r"^<!--\s*requires:\s*(.*?)\s*-->$")


def sh_blocks(text: str) -> list[tuple[int, str, bool, tuple[str, ...]]]:
    """(line number, body, tested, commands required) of every ```sh block."""
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        marker = before[-1].strip() if before else ""
        requires = _REQUIRES.match(marker)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(
            (
                line,
                match.group(1),
                marker != NO_TEST,
                tuple(requires[1].split()) if requires else (),
            )
        )
    return blocks


def missing_commands(names: tuple[str, ...]) -> list[str]:
    """The named top-level commands this build of ``ir-console`` does not have."""
    from ir_console.cli import COMMANDS

    return [n for n in names if n not in COMMANDS]


def test_sh_blocks_are_found_and_marked() -> None:
    sample = (
        "x\n```sh\necho one\n```\n<!-- no-test -->\n```sh\nmake demo\n```\n"
        "```python\nprint()\n```\n<!-- requires: spec openapi -->\n```sh\nx\n```\n"
    )
    assert sh_blocks(sample) == [
        (2, "echo one\n", True, ()),
        (6, "make demo\n", False, ()),
        (13, "x\n", True, ("spec", "openapi")),
    ]
    assert missing_commands(("findings", "no-such-command")) == ["no-such-command"]


def test_readme_recipes_needing_missing_commands() -> None:
    absent = sorted(
        {
            n
            for _, _, tested, req in sh_blocks(README.read_text())
            if tested
            for n in missing_commands(req)
        }
    )
    assert absent == [], f"README recipes name commands ir-console does not have: {absent}"


@pytest.mark.integration
def test_readme_recipes_run_as_written(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    blocks = [b for b in sh_blocks(README.read_text()) if b[2]]
    assert len(blocks) >= 4, "the README should hold runnable recipes"
    script = ["set -euo pipefail"]
    for line, body, _, _ in blocks:
        script.append(f"echo '### README.md line {line}' >&2")
        script.append(body)
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
    }
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    markers = [ln for ln in proc.stderr.splitlines() if ln.startswith("### README.md")]
    assert proc.returncode == 0, (
        f"README recipe failed at {markers[-1] if markers else 'start'} "
        f"(exit {proc.returncode}):\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}"
    )
    assert len(markers) == len(blocks)
