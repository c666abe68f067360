"""The ``:`` command line (as in k9s and vim): a verb with aliases, then what it names.

``:cred globex`` opens a credential's page, ``:endpoint /v2/admin`` an endpoint's, ``:client
10.0.0.5`` an address's, ``:x 14`` an exchange, ``:run revoke-leaked-credential`` a runbook on
the subject in view, ``:block c-…`` asks to block, ``:findings`` (any screen's name) switches.
Parsing is here (pure, tested alone); the app resolves the names through the read side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from ir_console.suggest import did_you_mean

SUBJECT_VERBS = {
    "credential": ("cred", "credential", "key", "token"),
    "identity": ("identity", "ident", "who"),
    "endpoint": ("endpoint", "ep", "route"),
    "client": ("client", "ip", "addr", "address"),
    "host": ("host", "service"),
}
OTHER_VERBS = {
    "exchange": ("exchange", "x", "request", "req"),
    "run": ("run", "runbook"),
    "block": ("block",),
    "search": ("search", "find"),
    "help": ("help", "?"),
    "quit": ("quit", "q"),
}
SCREEN_VERBS = {
    "overview": ("overview", "home"),
    "endpoints": ("endpoints", "eps"),
    "identities": ("identities", "idents"),
    "credentials": ("credentials", "creds", "keys"),
    "findings": ("findings", "find"),
    "graph": ("graph",),
    "live": ("live",),
    "runs": ("runs",),
    "audit": ("audit",),
}
VERBS: dict[str, str] = {
    alias: verb
    for table in (SUBJECT_VERBS, OTHER_VERBS)
    for verb, aliases in table.items()
    for alias in aliases
}
SCREENS: dict[str, str] = {
    alias: mode for mode, aliases in SCREEN_VERBS.items() for alias in aliases
}
# "find" names the findings screen alone, and the search with words after it
EXAMPLES = (
    ":cred globex",
    ":endpoint /v2/admin",
    ":client 10.0.0.5",
    ":x 14",
    ":run revoke-leaked-credential",
    ":block c-…",
    ":findings",
)


class CommandError(ValueError):
    """A command line that names no known command (the message suggests the closest)."""


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # a subject type, exchange, run, block, search, help, quit, or "screen"
    argument: str
    screen: str | None = None


def parse(text: str) -> Command:
    """The command a line names (a leading ``:`` is optional)."""
    line = text.strip().removeprefix(":").strip()
    if not line:
        raise CommandError("type a command, e.g. " + ", ".join(EXAMPLES[:3]))
    word, _, rest = line.partition(" ")
    word, rest = word.lower(), rest.strip()
    if word in SCREENS and not (word == "find" and rest):
        return Command("screen", rest, SCREENS[word])
    if word in VERBS:
        return Command(VERBS[word], rest)
    known = sorted({*VERBS, *SCREENS})
    raise CommandError(
        f"no command {word!r}{did_you_mean(word, known)}; try " + ", ".join(EXAMPLES)
    )


def completions() -> list[str]:
    """What the line suggests as you type (the verbs and screens, with a space after verbs)."""
    return sorted({f"{alias} " for alias in VERBS} | set(SCREENS))


class CommandInput(Input):
    """The line's input: tab takes the suggested completion."""

    BINDINGS: ClassVar = [Binding("tab", "cursor_right", "Complete", show=False)]


class CommandLine(ModalScreen[str | None]):
    """A one-line prompt docked at the bottom; enter runs it, escape closes it."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Static(
                Text("  " + "   ".join(EXAMPLES) + "   (tab completes)", style="dim"),
                id="command-hint",
            )
            yield CommandInput(
                placeholder="command",
                id="command",
                suggester=SuggestFromList(completions(), case_sensitive=False),
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#command")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
