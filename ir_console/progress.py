"""Progress of long work counted in steps rather than bytes (a spec's validation, the analysis
after an ingest or an import), on stderr: on a terminal a spinner with the step and the time
spent; with ``--json`` one JSON line when a step starts and then one per interval while it runs
(``{"event": "progress", "step", "elapsed"}``); nothing on a pipe.

The work calls the reporter with the step under way, repeatedly while a step runs
(``discovery.analyse.recompute``, ``discovery.ticker``); the reporter decides what to show and
when. No refresh thread: the work may fork helpers, which needs a single-threaded process.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from ir_console.sanitize import clean

JSON_EVERY = 1.0  # seconds between JSON progress events within one step
REFRESH_EVERY = 0.1  # seconds between repaints of the terminal's line


class Steps:
    """A context manager giving the step reporter (``None`` on a pipe without ``--json``)."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.started = time.monotonic()
        self.step = ""
        self.last = 0.0
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Callable[[str], None] | None:
        if self.as_json:
            return self.report_json
        if not sys.stderr.isatty():
            return None
        return self.report_bar

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def report_json(self, step: str) -> None:
        now = time.monotonic()
        if step == self.step and now - self.last < JSON_EVERY:
            return
        self.step, self.last = step, now
        event = {"event": "progress", "step": clean(step), "elapsed": self.elapsed()}
        sys.stderr.write(json.dumps(event) + "\n")
        sys.stderr.flush()

    def report_bar(self, step: str) -> None:
        now = time.monotonic()
        if step == self.step and now - self.last < REFRESH_EVERY:
            return
        self.step, self.last = step, now
        if self.bar is None:
            self._start()
        self.bar.update(self.task, description=clean(step, limit=60))
        self.bar.refresh()

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            auto_refresh=False,  # no refresh thread (see the module docstring)
        )
        self.bar.start()
        self.task = self.bar.add_task("", total=None)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
