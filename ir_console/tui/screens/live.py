"""Live capture: exchanges arriving from a running proxy or sniffer (started here or elsewhere)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from importlib.util import find_spec
from typing import IO, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Sparkline, Static

from discovery.views.captures import Capture
from discovery.views.enforcement import Enforcement
from discovery.views.page import terms
from discovery.views.rows import ExchangeRow
from ir_console.tui.data import when
from ir_console.tui.messages import Failed, OpenExchange
from ir_console.tui.modals import PromptModal
from ir_console.tui.screens.base import DATA_ERRORS, CaseScreen, copy_id
from ir_console.tui.widgets import Column, FilterInput, KeyFooter, TopBar, VimTable, safe

KEEP = 200
RATES = 120  # polls the requests-per-second picture keeps (a minute at POLL_S)
POLL_S = 0.5


class ExchangesArrived(Message):
    """New exchanges (newest first), the newest id seen, and the newest live capture."""

    def __init__(
        self,
        rows: Sequence[ExchangeRow],
        newest: int,
        capture: Capture | None = None,
        enforcement: Enforcement | None = None,
    ) -> None:
        super().__init__()
        self.rows = rows
        self.newest = newest
        self.capture = capture
        self.enforcement = enforcement


class CaptureEnded(Message):
    """The capture process started from the console exited."""

    def __init__(self, code: int, tail: str) -> None:
        super().__init__()
        self.code = code
        self.tail = tail


def proxy_available() -> bool:
    """True when ``capture proxy`` can run here: its command and mitmproxy are installed
    (looked up, not imported: the child process imports them)."""
    return all(find_spec(name) is not None for name in ("ir_console.commands", "mitmproxy"))


def capture_status(capture: Capture) -> Text:
    """The newest live capture in one line: its state, packets, and loss (loud when any)."""
    text = Text("  ")
    style = "green" if capture.state == "running" else "dim"
    text.append_text(safe(capture.name, style=style, limit=40))
    text.append(f" {capture.state}: ", style=style)
    text.append(f"{capture.packets} packets, ")
    if capture.lossy:
        seen = capture.received or capture.packets + capture.dropped
        text.append(
            f"{capture.dropped} of {seen} LOST ({capture.dropped / max(seen, 1):.1%})",
            style="bold red",
        )
        if capture.queue_dropped or capture.unread:
            text.append(
                f" (kernel {capture.kernel_dropped}, queue {capture.queue_dropped}, "
                f"unread {capture.unread})"
            )
    else:
        text.append("0 lost", style="green")
    return text


class LiveScreen(CaseScreen):
    """The newest exchanges as they are written, with the arrival rate."""

    TITLE_TEXT = "Live capture"
    AUTO_FOCUS = "#table"
    COLUMNS = (
        "time",
        "client",
        "method",
        Column("host", flex=True, least=12, drop=2),
        Column("path", flex=True, least=16),
        "status",
        Column("source", drop=1),
    )
    BINDINGS: ClassVar = [
        Binding("slash", "filter", "Filter"),
        Binding("y", "copy_id", "Copy id"),
        Binding("p", "pause", "Pause/resume"),
        Binding("c", "start_proxy", "Start enforcing proxy"),
        Binding("s", "stop_proxy", "Stop proxy"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: deque[ExchangeRow] = deque(maxlen=KEEP)
        self.newest = -1
        self.paused = False
        self.arrived = 0
        self.rate = 0.0
        self.rates: deque[float] = deque([0.0] * RATES, maxlen=RATES)
        self._last_poll = time.monotonic()
        self.proxy: subprocess.Popen[bytes] | None = None
        self.capture: Capture | None = None
        self.enforcement: Enforcement | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(self.TITLE_TEXT)
        yield FilterInput("/ filter the newest exchanges")
        yield Static(Text("waiting for traffic…", style="dim"), id="live-status")
        yield Sparkline(list(self.rates), id="live-rate")
        yield VimTable(id="table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(VimTable).add_columns(*self.COLUMNS)
        self.query_one(VimTable).focus()
        self.set_interval(POLL_S, self._tick)
        self._poll()

    def on_unmount(self) -> None:
        self.action_stop_proxy()

    def _tick(self) -> None:
        if not self.paused and self.is_current:
            self._poll()

    def reload(self) -> None:
        self._poll()

    @work(thread=True, exclusive=True, group="live")
    def _poll(self) -> None:
        try:
            after = (
                self.newest if self.newest >= 0 else max(self.data.newest_exchange_id() - KEEP, 0)
            )
            rows = self.data.exchanges_after(after, KEEP)
            capture = self.data.latest_capture()
            state = self.data.enforcement()
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        newest = rows[0].id if rows else max(after, 0)
        self.post_message(ExchangesArrived(rows, newest, capture, state))

    def on_exchanges_arrived(self, message: ExchangesArrived) -> None:
        now = time.monotonic()
        self.enforcement = message.enforcement
        first = self.newest < 0
        # two polls may overlap (a reload while a tick's read is under way): keep rows once
        fresh = [row for row in message.rows if row.id > self.newest]
        self.newest = max(self.newest, message.newest)
        self.capture = message.capture
        count = len(fresh)
        if not first:
            self.arrived += count
            self.rate = count / max(now - self._last_poll, 1e-6)
            self.rates.append(self.rate)
            self.query_one("#live-rate", Sparkline).data = list(self.rates)
        self._last_poll = now
        if count == 0 and not first:
            self._status()
            return
        for row in reversed(fresh):
            self.rows.appendleft(row)
        self._show()

    def _status(self) -> None:
        text = Text()
        text.append(f" newest #{self.newest}  ", style="bold")
        text.append(f"{self.arrived} arrived while watching, {self.rate:.0f}/s", style="dim")
        if self.paused:
            text.append("  PAUSED", style="bold yellow")
        if self.proxy is not None:
            text.append(f"  proxy running (pid {self.proxy.pid})", style="green")
        if self.capture is not None:
            text.append_text(capture_status(self.capture))
        state = self.enforcement
        if state is not None:
            if state.running:
                applied = when(state.last_applied)[11:] or "never"
                text.append(
                    f"  enforcing: {len(state.running)} proxy, blocklist applied {applied}",
                    style="green" if state.enforced else "yellow",
                )
            else:
                text.append("  NO ENFORCING PROXY: blocks are not enforced", style="bold red")
        self.query_one("#live-status", Static).update(text)

    def _show(self) -> None:
        wanted = terms(self.query_one(FilterInput).value)
        table = self.query_one(VimTable)
        table.clear()
        for row in self.rows:
            hay = (
                f"{row.client_ip} {row.method} {row.host} {row.raw_path} "
                f"{row.status} {row.source}".lower()
            )
            if any(t not in hay for t in wanted):
                continue
            method = row.method or ("TLS" if row.tls else "-")
            table.add_row(
                Text(when(row.ts)[11:]),
                safe(row.client_ip, limit=40),
                safe(method, limit=10),
                safe(row.host or row.sni, limit=36),
                safe(row.raw_path or row.path, limit=70),
                safe(row.status, style="red" if row.blocked else ""),
                safe(row.source, limit=8),
                key=str(row.id),
            )
        self._status()

    @on(Input.Changed, "#filter")
    def _filter(self, _event: Input.Changed) -> None:
        self._show()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key:
            self.post_message(OpenExchange(int(key)))

    def action_copy_id(self) -> None:
        table = self.query_one(VimTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                copy_id(self, str(key))

    def action_filter(self) -> None:
        self.query_one(FilterInput).focus()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._status()

    def action_start_proxy(self) -> None:
        if self.proxy is not None:
            self.notify("a proxy is already running", markup=False)
            return
        if not proxy_available():
            self.notify(
                "`capture proxy` is not part of this install; start a capture in "
                "another terminal and watch it here",
                markup=False,
                severity="warning",
            )
            return
        self.app.push_screen(
            PromptModal(
                "Start a recording proxy enforcing the blocklist, listening on (HOST:PORT):",
                "127.0.0.1:8080",
            ),
            self._start_proxy,
        )

    def _start_proxy(self, listen: str | None) -> None:
        if not listen:
            return
        argv = [
            sys.executable,
            "-m",
            "ir_console",
            "--db",
            str(self.console.case_path),
            "capture",
            "proxy",
            "--listen",
            listen,
            "--enforce",  # the console's proxy enforces the blocklist, as `capture proxy --enforce`
        ]
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the watcher thread)
        self.proxy = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
        )
        self._watch_proxy(self.proxy, log)
        self._status()

    @work(thread=True, group="proxy")
    def _watch_proxy(self, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        code = proc.wait()
        log.seek(0)
        tail = log.read()[-400:].decode("utf-8", "replace")
        log.close()
        self.post_message(CaptureEnded(code, tail))

    def on_capture_ended(self, message: CaptureEnded) -> None:
        self.proxy = None
        self._status()
        if message.code not in (0, -15):
            self.post_message(Failed(f"the proxy exited with code {message.code}", message.tail))

    def action_stop_proxy(self) -> None:
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate()
