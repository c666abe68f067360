"""Run ``ir-console`` through its real entry point (``ir_console.cli.main``: exit codes and
one-line errors come from there) inside the test process, which is much quicker than a
subprocess for tests that run many short commands."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ir_console.cli import main


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def run_main(capsys: pytest.CaptureFixture[str], case: Path, *args: str | Path) -> Outcome:
    """``ir-console --db CASE ARGS`` with the entry point's own error handling."""
    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["ir-console", "--db", str(case), *map(str, args)]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)
