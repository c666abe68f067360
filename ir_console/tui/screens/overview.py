"""Overview: counts, the most severe findings, shadow endpoints, unregistered identities, news."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from discovery.severity import SEVERITIES
from discovery.views.overview import Overview
from discovery.views.timeline import CaseTimeline
from ir_console.sanitize import clean
from ir_console.tui.charts import milestones_text
from ir_console.tui.data import NEW_WINDOWS, when
from ir_console.tui.messages import (
    Failed,
    JumpTo,
    OpenStory,
    SearchRequested,
    SubjectRef,
)
from ir_console.tui.screens.base import DATA_ERRORS, CaseScreen
from ir_console.tui.widgets import (
    SEVERITY_STYLE,
    STATUS_STYLE,
    Column,
    KeyFooter,
    TopBar,
    VimTable,
    safe,
)


def how_to_start(case: Path) -> Text:
    """What an empty case shows: the commands that put traffic in it (this case's path in
    each), and that the console shows it as it arrives."""
    db = shlex.quote(str(case))
    out = Text("This case holds no traffic yet.", style="bold")
    out.append(" Put some in from another terminal; this screen follows it as it lands:\n")
    for command, what in (
        (f"ir-console --db {db} ingest capture.pcap", "pcap/pcapng, HAR, mitmproxy flows, Zeek"),
        (f"ir-console --db {db} capture live -i eth0", "an interface, live (CAP_NET_RAW)"),
        (f"ir-console --db {db} capture proxy", "a recording proxy (or c on the Live screen, 7)"),
        (f"ir-console --db {db} spec import api.yaml", "what is documented (shadow, zombie)"),
        ("ir-console demo", "or explore a recorded incident first"),
    ):
        out.append("  ")
        out.append(clean(command, limit=400), style="bold cyan")  # wraps: a long path stays whole
        out.append(f"   {what}\n", style="dim")
    return out


class OverviewLoaded(Message):
    """The overview's figures."""

    def __init__(self, overview: Overview, timeline: CaseTimeline | None) -> None:
        super().__init__()
        self.overview = overview
        self.timeline = timeline


class OverviewScreen(CaseScreen):
    """What a responder looks at first."""

    TITLE_TEXT = "Overview"
    AUTO_FOCUS = "#ov-findings"
    BINDINGS: ClassVar = [
        Binding("tab", "app.focus_next", "Next table", show=False),
        Binding("n", "new_window", "New since…"),
        Binding("slash", "search", "Search the case", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overview: Overview | None = None
        self.window = 1  # index in NEW_WINDOWS: the last 24h of traffic

    def action_new_window(self) -> None:
        """Cycle what "new" means: the last 1h, 24h, 7d or 30d of traffic."""
        self.window = (self.window + 1) % len(NEW_WINDOWS)
        self._load()

    def action_search(self) -> None:
        """Search the whole case (hosts, endpoints, identities, credentials, findings)."""
        self.post_message(SearchRequested())

    def compose(self) -> ComposeResult:
        yield TopBar(self.TITLE_TEXT)
        with Vertical(id="overview"):
            yield Static(Text("loading the case…", style="dim"), id="counts")
            yield Static(Text(""), id="ov-timeline")
            yield Static(Text("Most severe findings", style="bold underline"), classes="heading")
            yield VimTable(id="ov-findings", classes="mini")
            yield Static(
                Text("Shadow and zombie endpoints", style="bold underline"), classes="heading"
            )
            yield VimTable(id="ov-shadow", classes="mini")
            yield Static(Text("Unregistered identities", style="bold underline"), classes="heading")
            yield VimTable(id="ov-identities", classes="mini")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#ov-findings", VimTable).add_columns(
            "severity", "rule", Column("title", flex=True, least=20)
        )
        self.query_one("#ov-shadow", VimTable).add_columns(
            "status",
            "method",
            Column("host", flex=True, least=14, drop=1),
            Column("template", flex=True, least=16),
            "requests",
        )
        self.query_one("#ov-identities", VimTable).add_columns(
            Column("identity", flex=True, least=20), "source", Column("last seen", drop=1)
        )
        self.query_one("#ov-findings").focus()
        self.reload()

    def reload(self) -> None:
        self.loaded_version = self.console.case_version
        self._load()

    @work(thread=True, exclusive=True, group="overview")
    def _load(self) -> None:
        try:
            overview = self.data.overview(window=NEW_WINDOWS[self.window][1])
            timeline = self.data.case_timeline(self.timeline_buckets())
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        self.post_message(OverviewLoaded(overview, timeline))

    def timeline_buckets(self) -> int:
        return max(10, min(150, self.app.size.width - 4))

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        ov = self.overview = message.overview
        c = ov.counts
        counts = Text()
        for label, value in (
            ("exchanges", c.exchanges),
            ("hosts", c.hosts),
            ("endpoints", c.endpoints),
            ("credentials", c.credentials),
            ("identities", c.identities),
            ("findings", c.findings),
        ):
            counts.append(f"{label} ", style="dim")
            counts.append(f"{value}  ", style="bold")
        counts.append("\n")
        counts.append("shadow ", style="dim")
        counts.append(f"{c.shadow}  ", style=STATUS_STYLE["shadow"])
        counts.append("zombie ", style="dim")
        counts.append(f"{c.zombie}  ", style=STATUS_STYLE["zombie"])
        counts.append("unregistered identities ", style="dim")
        counts.append(f"{c.unregistered}  ", style="bold yellow")
        for sev in SEVERITIES[:3]:  # critical, high, medium
            counts.append(f"{sev} ", style="dim")
            counts.append(f"{ov.severities.get(sev, 0)}  ", style=SEVERITY_STYLE[sev])
        counts.append("\n")
        counts.append(
            f"new in the last {NEW_WINDOWS[self.window][0]} of traffic (since {when(ov.since)}): ",
            style="dim",
        )
        counts.append(
            f"{ov.new.endpoints} endpoints, {ov.new.credentials} credentials, "
            f"{ov.new.identities} identities"
        )
        self.query_one("#counts", Static).update(counts)
        chart = self.query_one("#ov-timeline", Static)
        if message.timeline is None:
            chart.update(how_to_start(self.data.path) if c.exchanges == 0 else Text(""))
        else:
            picture = Text("Case timeline", style="bold underline")
            picture.append("  requests over time; the numbers mark what happened\n", style="dim")
            picture.append_text(
                milestones_text(
                    message.timeline.timeline,
                    message.timeline.milestones,
                    self.app.size.width - 4,
                )
            )
            chart.update(picture)

        findings = self.query_one("#ov-findings", DataTable)
        findings.clear()
        for f in ov.findings:
            findings.add_row(
                safe(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                safe(f.rule, limit=28),
                safe(f.title, limit=90),
                key=f"finding:{f.id}",
            )
        shadow = self.query_one("#ov-shadow", DataTable)
        shadow.clear()
        for e in ov.shadow:
            shadow.add_row(
                safe(e.status, style=STATUS_STYLE.get(e.status, "")),
                safe(e.method, limit=10),
                safe(e.host, limit=36),
                safe(e.template, limit=70),
                Text(str(e.requests)),
                key=f"endpoint:{e.host} {e.method} {e.template}",
            )
        idents = self.query_one("#ov-identities", DataTable)
        idents.clear()
        for i in ov.unregistered:
            idents.add_row(
                safe(i.name, limit=60),
                safe(i.source, limit=12),
                Text(when(i.last_seen)),
                key=f"identity:{i.id}",
            )
        self.mark_shown(announce=True)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if not key:
            return
        kind, _, ident = key.partition(":")
        if kind in ("endpoint", "identity"):  # their page: who, from where, when
            self.post_message(OpenStory(SubjectRef(kind, ident)))
        else:
            self.post_message(JumpTo("findings", f"id:{ident}"))
