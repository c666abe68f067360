"""One exchange in full: what was asked and answered (headers as the case can rebuild them,
credentials redacted in their places), the connection, the credential and its identity, and
where its evidence is, with the command that extracts exactly its frames (``c`` copies it)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from discovery.views.exchange import ExchangeDetail, Extraction
from ir_console.tui.data import stamp
from ir_console.tui.messages import Failed, OpenStory, SubjectRef
from ir_console.tui.screens.base import DATA_ERRORS, CaseScreen, copy_id, copy_text
from ir_console.tui.widgets import STATUS_STYLE, KeyFooter, TopBar, line, safe


class ExchangeLoaded(Message):
    def __init__(self, detail: ExchangeDetail | None, extraction: Extraction | None) -> None:
        super().__init__()
        self.detail = detail
        self.extraction = extraction


def _section(out: Text, title: str) -> None:
    out.append(f"\n{title}\n", style="bold underline")


def _lines(out: Text, lines: list[str]) -> None:
    for value in lines:
        out.append("  ")
        out.append_text(safe(value, limit=300))
        out.append("\n")


def exchange_text(d: ExchangeDetail, extraction: Extraction | None) -> Text:
    """The exchange as the page shows it (every captured value sanitized)."""
    out = Text()
    status = "blocked" if d.blocked else (str(d.status) if d.status is not None else "no response")
    out.append_text(safe(d.method or "(TLS)", style="bold", limit=12))
    out.append(" ")
    out.append_text(safe(f"{d.host or d.sni or '-'}{d.raw_path or ''}", style="bold", limit=200))
    out.append("  → ")
    style = "red" if d.blocked or (d.status or 0) >= 400 else "green"
    out.append(status, style=f"bold {style}")
    out.append("\n")
    out.append_text(
        line(("exchange", d.id), ("time", stamp(d.ts, fraction=True)), ("source", d.source))
    )
    if d.partial or d.error or d.websocket:
        out.append("\n")
        flags = [f for f, on in (("partial", d.partial), ("websocket", d.websocket)) if on]
        out.append_text(line(("flags", " ".join(flags) or "-"), ("error", d.error)))
    _section(out, "Request")
    _lines(out, d.request_lines())
    _section(out, "Response")
    _lines(out, d.response_lines())
    _section(out, "Bodies")
    out.append_text(
        line(
            ("request", f"{d.request_bytes} bytes {d.request_content_type or ''}".strip()),
            ("response", f"{d.response_bytes} bytes {d.response_content_type or ''}".strip()),
        )
    )
    out.append("\n")
    out.append_text(line(("sensitive data in the response", d.sensitive_text() or "none found")))
    out.append("\n")
    if d.request_sensitive:  # only gRPC messages and GraphQL variables are scanned
        out.append_text(line(("sensitive data in the request", d.sensitive_text(request=True))))
        out.append("\n")
    if d.anomalies:
        out.append_text(line(("HTTP anomalies", "; ".join(d.anomalies))))
        out.append("\n")
    _section(out, "Credential")
    if not d.credentials:
        out.append("  none presented\n", style="dim")
    for c in d.credentials:
        out.append("  ")
        out.append_text(safe(c.credential_id, style="bold", limit=20))
        out.append(" ")
        out.append_text(safe(f"{c.kind or '?'} {c.redacted or ''}", limit=60))
        out.append("  in ", style="dim")
        out.append_text(safe(f"{c.location} {c.name}", limit=60))
        out.append("  identity ", style="dim")
        out.append_text(safe(c.identity, limit=80))
        out.append("\n")
    _section(out, "Endpoint")
    out.append("  ")
    out.append_text(safe(d.endpoint or "not classified", limit=200))
    if d.endpoint_status:
        out.append("  ")
        out.append_text(safe(d.endpoint_status, style=STATUS_STYLE.get(d.endpoint_status, "")))
    out.append("\n")
    _section(out, "Connection")
    out.append("  ")
    out.append_text(
        line(
            ("client", f"{d.client_ip or '-'}:{d.client_port or '-'}"),
            ("server", f"{d.server_ip or '-'}:{d.server_port or '-'}"),
            ("HTTP", d.http_version),
        )
    )
    out.append("\n  ")
    out.append_text(line(("went to", d.destination or "-")))
    if d.host_mismatch:
        out.append("MISMATCH ", style="bold red")
        out.append_text(safe(d.host_mismatch, style="red", limit=240))
    out.append("\n  ")
    tls = ("TLS", "yes" if d.tls else "no")
    out.append_text(line(tls, ("SNI", d.sni), ("ALPN", d.alpn), ("JA4", d.ja4)))
    out.append("\n")
    _section(out, "Evidence")
    out.append("  ")
    out.append_text(line(("input", d.input_path or "(live)"), ("where", d.evidence)))
    out.append("\n")
    if extraction is not None:
        if extraction.command:
            out.append("  c copies: ", style="dim")
            out.append_text(safe(extraction.command, style="bold", limit=400))
            out.append("\n")
        if extraction.alternative:
            out.append("  C copies: ", style="dim")
            out.append_text(safe(extraction.alternative, limit=400))
            out.append("\n")
        out.append("  ")
        out.append_text(safe(extraction.note, style="dim", limit=300))
        out.append("\n")
    return out


class ExchangeScreen(CaseScreen):
    """One exchange; ``y`` copies its id, ``c`` the command extracting its frames."""

    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back"),
        Binding("y", "copy_id", "Copy id"),
        Binding("c", "copy_command", "Copy tshark command"),
        Binding("C", "copy_alternative", "Copy editcap command", show=False),
        Binding("o", "open_credential", "Credential"),
        Binding("e", "open_endpoint", "Endpoint"),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def __init__(self, exchange_id: int) -> None:
        super().__init__()
        self.exchange_id = exchange_id
        self.detail: ExchangeDetail | None = None
        self.extraction: Extraction | None = None

    @property
    def crumb(self) -> str:
        return f"exchange {self.exchange_id}"

    def compose(self) -> ComposeResult:
        yield TopBar(self.crumb)
        with VerticalScroll(id="exchange"):
            yield Static(Text("loading…", style="dim"), id="exchange-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#exchange", VerticalScroll).focus()
        self.reload()

    def reload(self) -> None:
        self.loaded_version = self.console.case_version
        self._load()

    @work(thread=True, exclusive=True, group="exchange")
    def _load(self) -> None:
        try:
            detail, extraction = self.data.exchange(self.exchange_id)
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        self.post_message(ExchangeLoaded(detail, extraction))

    def on_exchange_loaded(self, message: ExchangeLoaded) -> None:
        self.detail, self.extraction = message.detail, message.extraction
        body = self.query_one("#exchange-body", Static)
        if message.detail is None:
            body.update(Text(f"no exchange {self.exchange_id} in this case", style="red"))
            return
        self.query_one(TopBar).set_title(self.breadcrumb())
        body.update(exchange_text(message.detail, message.extraction))
        self.refresh_bindings()
        self.mark_shown(announce=True)

    def action_back(self) -> None:
        self.go_back()

    def action_copy_id(self) -> None:
        copy_id(self, str(self.exchange_id))

    def action_copy_command(self) -> None:
        if self.extraction is not None and self.extraction.command:
            copy_text(self, self.extraction.command, "the extraction command")

    def action_copy_alternative(self) -> None:
        if self.extraction is not None and self.extraction.alternative:
            copy_text(self, self.extraction.alternative, "the editcap command")

    def action_open_credential(self) -> None:
        if self.detail is not None and self.detail.credentials:
            credential = self.detail.credentials[0].credential_id
            self.post_message(OpenStory(SubjectRef("credential", credential)))

    def action_open_endpoint(self) -> None:
        if self.detail is not None and self.detail.endpoint:
            self.post_message(OpenStory(SubjectRef("endpoint", self.detail.endpoint)))

    def action_scroll_down(self) -> None:
        self.query_one("#exchange", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#exchange", VerticalScroll).scroll_up()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_command", "copy_alternative"):
            return self.extraction is not None and bool(self.extraction.command)
        if action == "open_credential":
            return self.detail is not None and bool(self.detail.credentials)
        if action == "open_endpoint":
            return self.detail is not None and bool(self.detail.endpoint)
        return True
