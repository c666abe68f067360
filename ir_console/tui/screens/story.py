"""A subject's page: a credential's (or identity's, endpoint's, client address's, host's) story
at a glance: who used it from where and how it went, what it reached, its findings, its
activity over time per source, and its exchanges in order (enter opens one).

The page is pushed over the screen it was opened from: escape goes back, the breadcrumb in the
top bar says where you are.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from discovery.views.page import Page
from discovery.views.rows import ExchangeRow
from discovery.views.story import Story
from ir_console.tui.charts import COUNT_WIDTH, LABEL_WIDTH, span_text, timeline_text
from ir_console.tui.data import stamp, when
from ir_console.tui.messages import (
    BlockRequested,
    Failed,
    OpenExchange,
    OpenGraph,
    OpenStory,
    RunbooksRequested,
    SubjectRef,
    UnblockRequested,
)
from ir_console.tui.rowlist import RowList
from ir_console.tui.screens.base import DATA_ERRORS, CaseScreen, copy_id
from ir_console.tui.widgets import (
    SEVERITY_STYLE,
    STATUS_STYLE,
    Column,
    FilterInput,
    KeyFooter,
    TopBar,
    line,
    safe,
)

TITLES = {
    "credential": "Credential",
    "identity": "Identity",
    "endpoint": "Endpoint",
    "client": "Client address",
    "host": "Host",
}
MARK_STYLE = {
    "shadow": STATUS_STYLE["shadow"],
    "zombie": STATUS_STYLE["zombie"],
    "privileged": "bold magenta",
    "sensitive": "bold cyan",
    "blocked": "bold red",
}
MORE = 100  # exchanges added by each "more"


class StoryLoaded(Message):
    def __init__(self, story: Story | None) -> None:
        super().__init__()
        self.story = story


class ExchangesLoaded(Message):
    def __init__(self, page: Page[ExchangeRow], generation: int, append: bool, text: str) -> None:
        super().__init__()
        self.page = page
        self.generation = generation
        self.append = append
        self.text = text  # the filter the page answers


def timeline_buckets(width: int) -> int:
    """Timeline columns that fit a screen ``width`` cells wide beside the lane labels."""
    return max(10, min(120, width - LABEL_WIDTH - COUNT_WIDTH - 4))


def status_style(status: int | None, blocked: bool) -> str:
    if blocked or (status is not None and status >= 400):
        return "red"
    if status is not None and status < 400:
        return "green"
    return "dim"


class StoryScreen(CaseScreen):
    """One subject's story; tab moves between its lists, enter opens the highlighted row."""

    AUTO_FOCUS = None  # the exchanges take focus without scrolling the page's head away
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter exchanges"),
        Binding("y", "copy_id", "Copy id"),
        Binding("n", "more", "More exchanges"),
        Binding("s", "sort", "Sort"),
        Binding("x", "graph", "Graph"),
        Binding("r", "runbooks", "Runbooks"),
        Binding("b", "block", "Block"),
        Binding("u", "unblock", "Unblock"),
    ]
    SORTS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("time", "ts"),
        ("status", "status"),
        ("client", "client"),
        ("method", "method"),
        ("path", "path"),
    )

    def __init__(
        self,
        subject: SubjectRef,
        read: tuple[Story | None, int] | None = None,
        *,
        awaited: bool = False,
    ) -> None:
        """``read``: the story already read (and the case version it was read at), so the page
        is built once with it; without it the page shows "loading…" while it reads it (or,
        ``awaited``, until the app's read hands it over)."""
        super().__init__()
        self.awaited = awaited
        self.subject = subject
        self.story: Story | None = None
        self.preloaded = read is not None
        if read is not None:
            self.story, self.loaded_version = read
        self.exchanges: list[ExchangeRow] = []
        self.exchange_total = 0
        self.generation = 0
        self.sort_index = 0
        self.descending = False
        self.shown_at = 0.0
        self.painted = False
        self.counted_filter = ""  # the filter ``exchange_total`` counted

    @property
    def crumb(self) -> str:
        label = self.story.label if self.story is not None else self.subject.id
        return f"{TITLES.get(self.subject.type, self.subject.type)} {label}"

    def compose(self) -> ComposeResult:
        if not self.preloaded and not self.awaited:
            self.reload()  # the read starts now, while the page is being built and laid out
        yield TopBar(self.crumb)
        with VerticalScroll(id="story", can_focus=False):
            yield Static(Text("" if self.preloaded else "loading…", style="dim"), id="story-head")
            yield Static(Text(""), id="story-chart")
            yield Static(Text(""), classes="heading", id="sources-heading")
            yield RowList(
                "credential" if self.subject.type == "client" else "source",
                "requests",
                "ok",
                "refused",
                Column("first seen", drop=2),
                "after the first",
                Column("last seen", drop=3),
                Column("endpoints", drop=4),
                Column("client", flex=True, least=12, drop=5),
                id="story-sources",
                classes="story-list",
            )
            yield Static(Text(""), classes="heading", id="reach-heading")
            yield RowList(
                "marks",
                "method",
                Column("endpoint", flex=True, least=20),
                "requests",
                "ok",
                "refused",
                Column("host", flex=True, least=12, drop=2),
                Column("last seen", drop=1),
                id="story-reach",
                classes="story-list",
            )
            yield Static(Text(""), id="story-findings")
            yield Static(Text(""), classes="heading", id="exchanges-heading")
            yield FilterInput("/ filter exchanges: client:… path:admin status:>=400 -method:get")
            yield RowList(
                "time",
                "id",
                Column("client", drop=2),
                "method",
                Column("path", flex=True, least=14),
                "status",
                Column("evidence", flex=True, least=12, drop=1),
                id="story-exchanges",
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        # the exchanges take the keys from the start (the footer is built once, for them)
        self.query_one("#story-exchanges", RowList).focus(scroll_visible=False)
        if self.preloaded:  # filled before the first layout: the page is drawn once
            self.on_story_loaded(StoryLoaded(self.story))

    def buckets(self) -> int:
        return timeline_buckets(self.app.size.width)

    def reload(self) -> None:
        self.loaded_version = self.console.case_version
        self._load(self.buckets())

    @work(thread=True, exclusive=True, group="story")
    def _load(self, buckets: int) -> None:
        try:
            story = self.data.story(self.subject.type, self.subject.id, buckets=buckets)
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        self.post_message(StoryLoaded(story))

    # ------------------------------------------------------------ painting

    def on_story_loaded(self, message: StoryLoaded) -> None:
        story = self.story = message.story
        if story is not None:  # named by its canonical id from now on (graph, block, runbooks)
            self.subject = SubjectRef(story.type, story.id)
        if story is None:
            self.query_one("#story-head", Static).update(
                Text(f"no {self.subject.type} {self.subject.id!r} in this case", style="red")
            )
            return
        self.query_one(TopBar).set_title(self.breadcrumb())
        self.query_one("#story-head", Static).update(self._head(story))
        chart = self.query_one("#story-chart", Static)
        if story.timeline is not None:
            chart.update(timeline_text(story.timeline))
        else:
            chart.update(Text("no request seen in this case", style="dim"))
        self._sources(story)
        self._reach(story)
        self._findings(story)
        self.counted_filter = ""
        if self.query_one(FilterInput).value or self.sort_index or self.descending:
            self._reload_exchanges()  # read again with the filter and order in use
        else:
            self._show_exchanges(story.exchanges, append=False)
        if not self.painted:  # first paint: the page's head in view
            self.painted = True
            page = self.query_one("#story", VerticalScroll)
            self.call_after_refresh(page.scroll_home, animate=False)  # the head stays in view
        self.mark_shown(announce=True)

    def _head(self, story: Story) -> Text:
        out = Text()
        out.append_text(safe(story.label, style="bold", limit=120))
        facts = story.facts
        if facts.get("blocked_at"):
            out.append(f"  BLOCKED since {when(facts['blocked_at'])}", style="bold red")
        out.append("\n")
        t = story.totals
        out.append_text(
            line(
                ("requests", t.requests),
                ("ok", t.successes),
                ("refused", t.refusals),
                ("first", stamp(t.first_seen)),
                ("last", stamp(t.last_seen)),
            )
        )
        parts: list[tuple[str, Any]] = []
        if story.type == "credential":
            parts = [
                ("id", story.id),
                ("identity", facts.get("identity_name") or facts.get("identity")),
            ]
            if facts.get("expires_at"):
                parts.append(("expires", when(facts["expires_at"])))
        elif story.type == "identity":
            parts = [
                ("registered", "yes" if facts.get("registered") else "NO"),
                ("owner", facts.get("owner")),
                ("credentials", len(facts.get("credentials", []))),
            ]
        elif story.type == "endpoint":
            marks = [facts.get("status") or "-"]
            if facts.get("privileged"):
                marks.append("privileged")
            if facts.get("sensitive"):
                marks.append("sensitive " + ",".join(sorted(facts["sensitive"])))
            parts = [("status", " ".join(marks))]
            statuses = facts.get("statuses") or {}
            if statuses:
                parts.append(
                    ("responses", " ".join(f"{k}×{v}" for k, v in sorted(statuses.items())))
                )
        if parts:
            out.append("\n")
            out.append_text(line(*parts))
        return out

    def _sources(self, story: Story) -> None:
        self.query_one("#sources-heading", Static).update(
            Text(f"From {story.source_count} source(s)", style="bold underline")
        )
        table = self.query_one("#story-sources", RowList)
        rows: list[tuple[tuple[Text, ...], str | None]] = []
        starts = [s.first_seen for s in story.sources if s.first_seen is not None]
        earliest = min(starts) if starts else None
        for s in story.sources:
            later = "-"
            if earliest is not None and s.first_seen is not None:
                later = (
                    f"+{span_text(s.first_seen - earliest)}" if s.first_seen > earliest else "first"
                )
            client = (
                s.user_agents[0]
                if s.user_agents
                else (s.fingerprints[0] if s.fingerprints else "-")
            )
            cells = (
                safe(s.source, style="bold", limit=40),
                Text(str(s.requests), justify="right"),
                Text(str(s.successes), justify="right", style="green"),
                Text(str(s.refusals), justify="right", style="red" if s.refusals else "dim"),
                Text(stamp(s.first_seen)),
                Text(later, justify="right", style="bold" if later != "first" else "dim"),
                Text(stamp(s.last_seen)),
                Text(str(s.endpoints), justify="right"),
                safe(client, style="dim", limit=40),
            )
            rows.append((cells, s.source))
        table.set_rows(rows)

    def _reach(self, story: Story) -> None:
        self.query_one("#reach-heading", Static).update(
            Text(f"Reached {story.reach_count} endpoint(s)", style="bold underline")
        )
        table = self.query_one("#story-reach", RowList)
        rows: list[tuple[tuple[Text, ...], str | None]] = []
        for r in story.reach:
            marks = Text()
            for mark in r.marks:
                if marks:
                    marks.append(" ")
                marks.append(mark, style=MARK_STYLE.get(mark, ""))
            cells = (
                marks,
                safe(r.method, limit=8),
                safe(r.template, limit=90),
                Text(str(r.requests), justify="right"),
                Text(str(r.successes), justify="right", style="green"),
                Text(str(r.refusals), justify="right", style="red" if r.refusals else "dim"),
                safe(r.host, style="dim", limit=60),
                Text(stamp(r.last_seen)),
            )
            rows.append((cells, r.key))
        table.set_rows(rows)

    def _findings(self, story: Story) -> None:
        out = Text()
        if story.findings:
            out.append(f"Findings ({len(story.findings)})\n", style="bold underline")
        for f in story.findings:
            out.append_text(safe(f.severity, style=SEVERITY_STYLE.get(f.severity, "")))
            out.append("  ")
            out.append_text(safe(f"{f.rule}: {f.title}", limit=150))
            out.append("\n")
        self.query_one("#story-findings", Static).update(out)

    def _show_exchanges(self, page: Page[ExchangeRow], *, append: bool) -> None:
        table = self.query_one("#story-exchanges", RowList)
        if not append:
            self.exchanges = []
        self.exchanges += page.rows
        self.exchange_total = page.total
        rows: list[tuple[tuple[Text, ...], str | None]] = []
        for x in page.rows:
            cells = (
                Text(stamp(x.ts)),
                Text(str(x.id), justify="right"),
                safe(x.client_ip, limit=40),
                safe(x.method, limit=8),
                safe(x.raw_path or x.path or (x.sni and f"(TLS {x.sni})"), limit=80),
                Text(
                    "blocked" if x.blocked else str(x.status if x.status is not None else "-"),
                    style=status_style(x.status, x.blocked),
                ),
                safe(f"{x.source} {x.evidence}", style="dim", limit=40),
            )
            rows.append((cells, str(x.id)))
        if append:
            table.add_rows(rows)
        else:  # read again (the case changed, a new order): the same row stays chosen
            table.set_rows(rows)
        label, _ = self.SORTS[self.sort_index]
        heading = Text(
            f"Exchanges ({len(self.exchanges)} of {self.exchange_total})", style="bold underline"
        )
        heading.append(f"  sorted by {label}{' ↓' if self.descending else ''}", style="dim")
        if len(self.exchanges) < self.exchange_total:
            heading.append("  n: more", style="dim")
        self.query_one("#exchanges-heading", Static).update(heading)
        self.shown_at = time.perf_counter()
        self.mark_shown()

    # ------------------------------------------------------------ exchanges: filter, more, sort

    @on(Input.Changed, "#filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self._reload_exchanges()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.query_one("#story-exchanges", RowList).focus()

    def _reload_exchanges(self, append: bool = False, same_rows: bool = False) -> None:
        """Read the exchanges again (``append``: the next rows; ``same_rows``: the same
        filter in another order, so the count shown stays and is not counted again)."""
        if not append:
            self.generation += 1
        filter_text = self.query_one(FilterInput).value
        known = (
            self.exchange_total
            if (same_rows or append) and filter_text == self.counted_filter
            else None
        )
        after = None
        if append and self.exchanges and self.SORTS[self.sort_index][1] == "ts":
            last = self.exchanges[-1]
            after = (last.ts, last.id)
        limit = MORE if after is not None or not append else len(self.exchanges) + MORE
        self._load_exchanges(
            filter_text,
            after,
            limit,
            self.SORTS[self.sort_index][1],
            self.descending,
            self.generation,
            append and after is not None,
            known,
        )

    @work(thread=True, exclusive=True, group="story-exchanges")
    def _load_exchanges(
        self,
        text: str,
        after: tuple[float, int] | None,
        limit: int,
        order: str,
        descending: bool,
        generation: int,
        append: bool,
        total: int | None,
    ) -> None:
        try:
            page = self.data.story_exchanges(
                self.subject.type,
                self.subject.id,
                text=text,
                after=after,
                limit=limit,
                order=order,
                descending=descending,
                total=total,
            )
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not read the case", str(exc)))
            return
        except ValueError as exc:  # a filter the language does not take
            self.post_message(Failed("cannot filter so", str(exc)))
            return
        self.post_message(ExchangesLoaded(page, generation, append, text))

    def on_exchanges_loaded(self, message: ExchangesLoaded) -> None:
        if message.generation != self.generation:
            return
        self.counted_filter = message.text
        self._show_exchanges(message.page, append=message.append)

    def action_more(self) -> None:
        if len(self.exchanges) < self.exchange_total:
            self._reload_exchanges(append=True)

    def action_sort(self) -> None:
        """Cycle the exchanges' order: time, status, client, method, path; twice: reversed."""
        if not self.descending:
            self.descending = True
        else:
            self.descending = False
            self.sort_index = (self.sort_index + 1) % len(self.SORTS)
        self._reload_exchanges(same_rows=True)

    @on(RowList.HeaderClicked, "#story-exchanges")
    def _header(self, event: RowList.HeaderClicked) -> None:
        labels = [label for label, _ in self.SORTS]
        name = event.label
        if name not in labels:
            return
        index = labels.index(name)
        self.descending = not self.descending if index == self.sort_index else False
        self.sort_index = index
        self._reload_exchanges(same_rows=True)

    def action_filter(self) -> None:
        self.query_one(FilterInput).focus()

    # ------------------------------------------------------------ opening rows

    @on(RowList.Selected)
    def _open(self, event: RowList.Selected) -> None:
        key = event.key
        if not key:
            return
        table = event.rows.id
        if table == "story-exchanges":
            self.post_message(OpenExchange(int(key)))
        elif table == "story-reach":
            self.post_message(OpenStory(SubjectRef("endpoint", key)))
        elif table == "story-sources" and key != "-":
            kind = "credential" if self.subject.type == "client" else "client"
            self.post_message(OpenStory(SubjectRef(kind, key)))

    def highlighted_id(self) -> str:
        """The id under the cursor of the focused list (the subject's own id otherwise)."""
        focused = self.focused
        if isinstance(focused, RowList) and focused.cursor_key:
            return focused.cursor_key
        return self.subject.id

    def context_subject(self) -> SubjectRef | None:
        return self.subject

    def action_copy_id(self) -> None:
        copy_id(self, self.highlighted_id())

    def action_back(self) -> None:
        self.go_back()

    def action_graph(self) -> None:
        self.post_message(OpenGraph(self.subject))

    def action_runbooks(self) -> None:
        self.post_message(RunbooksRequested(self.subject))

    def action_block(self) -> None:
        self.post_message(BlockRequested(self.subject))

    def action_unblock(self) -> None:
        self.post_message(UnblockRequested(self.subject))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("runbooks", "graph"):
            return self.subject.type in ("credential", "identity", "endpoint", "host", "client")
        if action in ("block", "unblock"):
            return self.subject.type in ("credential", "endpoint")
        return True
