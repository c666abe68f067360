"""Case-wide search: type, see matching hosts, endpoints, identities, credentials and findings
(``ir-console search``'s answer), and open the chosen one on its screen."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from discovery.errors import DiscoveryError
from discovery.views.search import SearchHit
from ir_console.tui.data import CaseData
from ir_console.tui.messages import JumpTo
from ir_console.tui.widgets import safe

TYPE_STYLE = {
    "host": "bold",
    "endpoint": "yellow",
    "identity": "magenta",
    "credential": "cyan",
    "finding": "red",
}


def jump_for(hit: SearchHit) -> JumpTo:
    """Where a search result opens: its list, filtered down to it."""
    if hit.type == "host":
        return JumpTo("endpoints", f"host:{hit.id}")
    if hit.type == "endpoint":
        host, method, template = hit.id.split(" ", 2)
        return JumpTo("endpoints", f"host:{host} method:{method} template:{template}")
    screen = {"identity": "identities", "credential": "credentials", "finding": "findings"}
    return JumpTo(screen[hit.type], f"id:{hit.id}")


class HitsFound(Message):
    """The subjects matching ``text``."""

    def __init__(self, text: str, hits: list[SearchHit], error: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.hits = hits
        self.error = error


class SearchModal(ModalScreen[None]):
    """Search as you type; enter opens the highlighted subject; escape closes."""

    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close"),
        Binding("down", "results", "Results", show=False),
    ]

    def __init__(self, data: CaseData) -> None:
        super().__init__()
        self.data = data
        self.hits: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal search"):
            yield Static(
                Text("Search hosts, endpoints, identities, credentials, findings", style="bold"),
                classes="modal-text",
            )
            yield Input(placeholder="words (each matches the start of a word)", id="search")
            yield Static(Text(""), id="search-status")
            yield OptionList(id="search-hits")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed, "#search")
    def _changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    @on(Input.Submitted, "#search")
    def _submitted(self, _event: Input.Submitted) -> None:
        self.action_results()

    @work(thread=True, exclusive=True, group="search")
    def _search(self, text: str) -> None:
        try:
            hits = self.data.search(text)
        except DiscoveryError as exc:
            self.post_message(HitsFound(text, [], str(exc)))
            return
        self.post_message(HitsFound(text, hits))

    def on_hits_found(self, message: HitsFound) -> None:
        if message.text != self.query_one(Input).value:
            return  # an older answer
        self.hits = message.hits
        options = self.query_one(OptionList)
        options.clear_options()
        for n, hit in enumerate(message.hits):
            label = Text(f"{hit.type:<10} ", style=TYPE_STYLE.get(hit.type, ""))
            label.append_text(safe(hit.label, limit=110))
            options.add_option(Option(label, id=str(n)))
        status = self.query_one("#search-status", Static)
        if message.error:
            status.update(safe(message.error, style="red", limit=200))
        elif message.text.strip():
            status.update(Text(f"{len(message.hits)} match(es)", style="dim"))
        else:
            status.update(Text(""))

    @on(OptionList.OptionSelected, "#search-hits")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        hit = self.hits[int(event.option.id or 0)]
        self.dismiss(None)
        self.app.post_message(jump_for(hit))

    def action_results(self) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.focus()
            if options.highlighted is None:
                options.highlighted = 0

    def action_close(self) -> None:
        self.dismiss(None)
