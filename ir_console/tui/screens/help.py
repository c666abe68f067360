"""Help: every screen, its keys, and what the safety badge means."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ir_console.tui.widgets import KeyFooter

SCREENS = (
    ("1", "Overview", "counts, most severe findings, shadow endpoints, unregistered identities"),
    ("2", "Endpoints", "the inventory; details explain the template, callers, evidence"),
    ("3", "Identities", "registered or not; credentials held; endpoints reached"),
    ("4", "Credentials", "redacted forms, claims, lifetime, reach; f finds a leaked secret"),
    ("5", "Findings", "by severity, with evidence"),
    ("6", "Graph", "blast radius, exposure of an endpoint, what-if containment"),
    ("7", "Live", "exchanges arriving from a running proxy or sniffer"),
    ("8", "Runbooks", "runs: plan, steps, live log, approvals, resume"),
    ("9", "Audit", "the hash-chained audit timeline; v verifies the chain"),
)
KEYS = (
    (":", "command line: :cred globex  :endpoint /v2/admin  :client 10.0.0.5  :x 14"),
    ("", "  :run revoke-leaked-credential  :block c-…  :findings (any screen); tab completes"),
    ("/", "filter: words must all match; key:value a column; status:shadow,zombie either;"),
    ("", "  requests:>5 compares; -status:documented or !word negates"),
    ("j k g G", "move in lists (vim keys); ctrl+d / ctrl+u page; tab: the next list"),
    ("enter", "open the highlighted row: a credential's, identity's, endpoint's, address's page;"),
    ("", "  on a page, an exchange opens the exchange"),
    ("escape", "back: un-zoom, then the previous page (the breadcrumb at the top)"),
    ("z", "zoom the details of the highlighted row"),
    ("y", "copy the highlighted id (an exchange's, a credential's, an address)"),
    ("c / C", "on an exchange: copy the tshark / editcap command extracting its frames"),
    ("o / e", "on an exchange: its credential's / its endpoint's page"),
    ("s", "sort by the next column (again: reversed); clicking a column header sorts by it"),
    ("n", "on a page: more exchanges"),
    ("x", "explore the subject in the graph"),
    ("r", "runbooks that apply to the credential, identity or endpoint"),
    ("b / u", "block / unblock the credential or endpoint at the proxy (READ-ONLY refuses)"),
    ("M", "choose READ-ONLY, DRY-RUN or LIVE"),
    ("ctrl+p", "command palette: screens, and the actions of the screen you are on"),
    ("?", "this help"),
    ("q", "quit"),
)
BADGE = (
    "READ-ONLY (the default): nothing is changed; actions are refused.\n"
    "DRY-RUN: actions and runbooks plan what they would do and call nothing.\n"
    "LIVE: actions run for real, after a confirmation; irreversible steps ask for their id."
)


def help_text() -> Text:
    out = Text()
    out.append("Screens\n", style="bold underline")
    for key, name, what in SCREENS:
        out.append(f"  {key}  ", style="bold")
        out.append(f"{name:<12}", style="bold")
        out.append(f"{what}\n")
    out.append("\nKeys\n", style="bold underline")
    for key, what in KEYS:
        out.append(f"  {key:<10}", style="bold")
        out.append(f"{what}\n")
    out.append("\nThe badge\n", style="bold underline")
    out.append(BADGE + "\n")
    out.append(
        "\nCaptured text is shown sanitized: control characters and bidi overrides are "
        "removed, markup is never interpreted.\n",
        style="dim",
    )
    return out


class HelpScreen(ModalScreen[None]):
    """Keys and screens."""

    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark", "close", "Close"),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(), id="help-text")
        yield KeyFooter()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        self.query_one("#help", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#help", VerticalScroll).scroll_up()
