"""``ir-console ingest PATH...``: read captures and logs into the case, then re-run the analysis."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from discovery import collector
from ir_console.cli import CaseContext
from ir_console.output import emit_json, message
from ir_console.progress import Steps
from ir_console.sanitize import clean

FORMATS = ("auto", "pcap", "pcapng", "har", "mitm", "zeek")
JSON_PROGRESS_EVERY = 1.0  # seconds between JSON progress events


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An OpenAPI description to import first (repeatable).",
)
@click.option(
    "--keylog",
    "keylogs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TLS key log (NSS format, SSLKEYLOGFILE) whose connections are decrypted "
    "(repeatable; secrets stay in memory, never in the case).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto recognises files by their content.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="When another process is ingesting the same input: wait for it, or stop (exit 1).",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Keep reading what is appended to the inputs (a Zeek log, a capture being written) "
    "until interrupted (Ctrl-C, SIGTERM).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 3600),
    default=2.0,
    show_default=True,
    help="With --follow: seconds between looks at the inputs.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
@collector.fewer_collections()  # what the imports, reading and analysis build mostly lives on
def ingest(
    case: CaseContext,
    names: tuple[str, ...],
    specs: tuple[Path, ...],
    keylogs: tuple[Path, ...],
    fmt: str,
    wait: bool,
    follow: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Ingest capture files (pcap, pcapng), HAR, mitmproxy flows or Zeek logs into the case.

    TLS connections are decrypted when their secrets are in a --keylog file or in the
    capture's own pcapng Decryption Secrets Blocks.

    PATH is a file, a directory (every file under it) or a quoted pattern
    ('zeek/2026-11-*/http.*.log.gz'); Zeek logs may be gzip-compressed (rotated logs).
    Re-ingesting a file already in the case adds nothing. A capture, Zeek log or flow file that
    grew since it was ingested (still being written) is read on from where the last read
    stopped, so each record is added once; --follow keeps doing so as it grows. An input another
    process is ingesting right now is waited for (--no-wait: refused).
    """
    collector.no_collection_at_exit()  # the process ends after the command
    from discovery.ingest.files import ingest_files
    from discovery.ingest.paths import expand

    paths = tuple(expand(names))  # a name that matches nothing: one line, exit 2
    secrets = None
    if keylogs:
        from discovery.stats import IngestStats
        from discovery.wire.keylog import load

        problems = IngestStats()
        secrets = load(keylogs, problems)  # a key log that is no key log stops here
        for warning in problems.warnings:
            message(f"warning: {clean(warning)}")

    with case.open() as store:
        if specs:
            from discovery.analyse.specs import import_spec_file

            for spec in specs:  # a broken spec stops here, before anything is ingested
                with Steps(as_json) as steps:
                    done = import_spec_file(
                        store, Path(spec), host=None, analyse=False, progress=steps
                    )
                message(f"spec {clean(done.title)!r}: {done.operations} operations")
        with _progress(paths, as_json) as shown:
            if follow:
                results = _follow(store, names, fmt, shown, interval, wait, as_json, secrets)
            else:
                # re-analyses when anything was added, a spec was imported, or an earlier run
                # was killed before its analysis finished
                results = ingest_files(
                    store,
                    paths,
                    fmt,
                    shown.bytes,
                    wait=wait,
                    on_wait=message,
                    secrets=secrets,
                    analysis=shown.steps,
                )
        from discovery.analyse.inventory import analysis_skipped

        skipped = analysis_skipped(store)
    summaries = [_summary(r) for r in results]
    if skipped:  # failures isolated to their rows: the rest of the analysis went on
        examples = "; ".join(
            f"{e['method'] or '*'} {e['host']}{e['path']} ({e['error']})"
            for e in skipped["examples"][:3]
        )
        message(
            f"warning: the analysis skipped {skipped['count']} path(s) it could not template "
            f"(logged): {clean(examples, limit=600)}"
        )
    if as_json:
        emit_json(summaries)
        return
    if follow:  # each round was printed as it was read
        return
    for item in summaries:
        _print_summary(item)


def _follow(
    store: Any,
    names: tuple[str, ...],
    fmt: str,
    shown: _progress,
    interval: float,
    wait: bool,
    as_json: bool,
    secrets: Any = None,
) -> list[Any]:
    """``--follow``: rounds until SIGINT or SIGTERM; the first signal stops after the file being
    read (nothing half written), a second one interrupts at once."""
    import signal

    from discovery.ingest.follow import follow

    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        if stop:
            raise KeyboardInterrupt
        stop = True

    def on_round(results: list[Any]) -> None:
        if not as_json:
            for item in results:
                _print_summary(_summary(item))

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    if not as_json:
        message("following the inputs: Ctrl-C to stop")
    try:
        return follow(
            store,
            names,
            fmt,
            shown.bytes,
            should_stop=lambda: stop,
            interval=interval,
            on_round=on_round,
            wait=wait,
            on_wait=message,
            secrets=secrets,
            analysis=shown.steps,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _summary(result: Any) -> dict[str, Any]:
    stats = result.stats.as_dict()
    return {
        "path": str(result.path),
        "format": result.format,
        "already_ingested": result.already_ingested,
        "continued_from": result.continued_from or None,
        **stats,
    }


def _print_summary(item: dict[str, Any]) -> None:
    out = sys.stdout
    name = clean(item["path"])
    if item["already_ingested"]:
        out.write(f"{name}: already ingested (nothing added)\n")
        return
    grown = f", read on from byte {item['continued_from']}" if item["continued_from"] else ""
    out.write(
        f"{name} ({item['format']}{grown}): {item['packets']} packets, {item['flows']} flows, "
        f"{item['exchanges']} exchanges\n"
    )
    for reason, count in sorted(item["skipped"].items(), key=lambda kv: -kv[1]):
        out.write(f"  skipped {count}: {clean(reason)}\n")
    for what, count in sorted(item["counts"].items(), key=lambda kv: -kv[1]):
        out.write(f"  {clean(what)}: {count}\n")
    for warning in item["warnings"]:
        message(f"warning: {warning}")


class _progress:
    """Progress on stderr: of the bytes read (a rich progress bar on a terminal; with ``--json``
    one JSON line per second, ``{"event": "progress", "path", "done", "total"}``, bytes), then
    of the analysis that follows (``ir_console.progress.Steps``: the stage under way and the
    time spent); nothing otherwise (a pipe). ``bytes`` and ``steps`` are the two reporters
    (None on a pipe)."""

    def __init__(self, paths: tuple[Path, ...], as_json: bool = False) -> None:
        self.sizes = {p: p.stat().st_size for p in paths}
        self.bar: Any = None
        self.task: Any = None
        self.done: dict[Path, int] = {}
        self.as_json = as_json
        self.last = 0.0
        self.bytes: Callable[[Path, int], None] | None = None
        self.after = Steps(as_json)
        self.after_report: Callable[[str], None] | None = None
        self.steps: Callable[[str], None] | None = None

    def report_json(self, path: Path, done: int) -> None:
        self.done[path] = min(done, self.sizes.get(path, done))
        now = time.monotonic()
        if now - self.last < JSON_PROGRESS_EVERY:
            return
        self.last = now
        event = {
            "event": "progress",
            "path": clean(str(path)),
            "done": sum(self.done.values()),
            "total": sum(self.sizes.values()),
        }
        sys.stderr.write(json.dumps(event) + "\n")
        sys.stderr.flush()

    def __enter__(self) -> _progress:
        self.after_report = self.after.__enter__()
        if self.after_report is not None:
            self.steps = self.step
        if self.as_json:
            self.bytes = self.report_json
            return self
        if not sys.stderr.isatty():
            return self
        self._start_bar()
        self.bytes = self.report
        return self

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            auto_refresh=False,  # no refresh thread: the capture reader may fork a child
        )
        self.bar.start()
        self.task = self.bar.add_task(
            "ingest", total=sum(self.sizes.values()), completed=sum(self.done.values())
        )

    def report(self, path: Path, done: int) -> None:
        if self.bar is None:  # reading again after a step (a round of --follow)
            self.after.__exit__(None, None, None)
            self._start_bar()
        self.done[path] = min(done, self.sizes.get(path, done))
        self.bar.update(
            self.task, completed=sum(self.done.values()), description=clean(path.name, limit=40)
        )
        self.bar.refresh()  # called once per MiB read

    def step(self, step: str) -> None:
        """A step after the reading (the analysis): the bytes' bar gives way to the steps'."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if self.after_report is not None:
            self.after_report(step)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
        self.after.__exit__(*exc)
