"""The console's view of the case: a thin adapter over ``discovery.views`` (no SQL here).

Each method names what a screen shows and calls the read side the CLI uses, with the console's
choices (bounded pages, busiest or newest first, no per-row extras a list does not show), so the
console and the CLI count the same rows. Calls come from worker threads: ``SharedCase`` runs one
at a time on the case connection and turns SQLite failures into ``CaseFileError``. Values are
returned as the case holds them: screens sanitize on display.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from discovery.case import audit, blocklist
from discovery.timeutil import iso
from discovery.views import (
    captures,
    details,
    enforcement,
    leaked,
    queries,
    runs,
    search,
    subjects,
    traffic,
)
from discovery.views import exchange as exchange_view
from discovery.views import overview as overview_view
from discovery.views import story as story_view
from discovery.views import timeline as timeline_view
from discovery.views.enforcement import Enforcement
from discovery.views.page import Page, Sort
from discovery.views.reader import SharedCase
from discovery.views.rows import (
    AuditRow,
    CredentialDetail,
    CredentialRow,
    EndpointDetail,
    EndpointRow,
    ExchangeRow,
    FindingRow,
    IdentityDetail,
    IdentityRow,
    RunRow,
    StepRow,
)

PAGE = 100  # rows a list shows; the status line says when a filter would show more
# what "new" means on the overview, counted back from the newest exchange (n cycles them)
NEW_WINDOWS: tuple[tuple[str, float], ...] = (
    ("1h", 3600.0),
    ("24h", overview_view.DAY),
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
)


class CaseData:
    """The case as the console reads it (and the few writes it makes), from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.case = SharedCase(self.path)
        self._search_lock = threading.Lock()
        self._search: tuple[int, search.SearchIndex] | None = None

    def close(self) -> None:
        with self._search_lock:
            if self._search is not None:
                self._search[1].close()
                self._search = None
        self.case.close()

    def data_version(self) -> int:
        """Changes whenever a commit lands: a cheap poll."""
        return self.case.data_version()

    # ------------------------------------------------------------ lists and details

    def overview(
        self, since: float | None = None, window: float = NEW_WINDOWS[1][1]
    ) -> overview_view.Overview:
        """Counts, what is new, the most pressing rows."""
        return self.case.call(overview_view.overview, since, window)

    def endpoints(
        self, text: str = "", limit: int = PAGE, sort: Sort | None = None
    ) -> Page[EndpointRow]:
        """Endpoints matching the filter, busiest first (or by ``sort``)."""
        return self.case.call(
            queries.endpoint_page,
            text=text,
            order="busiest",
            sort=sort,
            limit=limit,
            callers=False,
        )

    def endpoint_detail(self, endpoint_id: int) -> EndpointDetail | None:
        return self.case.call(details.endpoint_detail, endpoint_id)

    def credentials(
        self, text: str = "", limit: int = PAGE, sort: Sort | None = None
    ) -> Page[CredentialRow]:
        """Credentials matching the filter, most recently used first (or by ``sort``)."""
        return self.case.call(
            queries.credential_page, text=text, order="recent", sort=sort, limit=limit, reach=False
        )

    def credential_detail(self, credential_id: str) -> CredentialDetail | None:
        return self.case.call(details.credential_detail, credential_id)

    def identities(
        self, text: str = "", limit: int = PAGE, sort: Sort | None = None
    ) -> Page[IdentityRow]:
        """Identities matching the filter, unregistered first (or by ``sort``)."""
        return self.case.call(
            queries.identity_page, text=text, order="unregistered_first", sort=sort, limit=limit
        )

    def identity_detail(self, rowid: int) -> IdentityDetail | None:
        return self.case.call(details.identity_detail, rowid)

    def findings(
        self, text: str = "", limit: int = PAGE, sort: Sort | None = None
    ) -> Page[FindingRow]:
        """Findings matching the filter, most severe first (or by ``sort``)."""
        return self.case.call(queries.finding_page, text=text, sort=sort, limit=limit)

    def finding_detail(self, finding_id: str) -> FindingRow | None:
        return self.case.call(details.finding_detail, finding_id)

    # ------------------------------------------------------------ stories and exchanges

    def story(
        self, subject_type: str, subject_id: str, buckets: int = 60
    ) -> story_view.Story | None:
        """A subject's page (None when the case has no such subject)."""
        return self.case.call(story_view.story, subject_type, subject_id, buckets=buckets)

    def story_exchanges(
        self,
        subject_type: str,
        subject_id: str,
        *,
        text: str = "",
        after: tuple[float, int] | None = None,
        limit: int = PAGE,
        order: str = "ts",
        descending: bool = False,
        total: int | None = None,
    ) -> Page[ExchangeRow]:
        """A subject's exchanges: in time order from ``after``, or sorted by ``order``
        (``total``: the count already known for this filter)."""
        return self.case.call(
            story_view.subject_exchanges,
            subject_type,
            subject_id,
            text=text,
            after=after,
            limit=limit,
            order=order,
            descending=descending,
            total=total,
        )

    def exchange(
        self, exchange_id: int
    ) -> tuple[exchange_view.ExchangeDetail | None, exchange_view.Extraction | None]:
        """One exchange in full and the command that extracts its evidence."""
        detail = self.case.call(exchange_view.exchange_detail, exchange_id)
        return detail, None if detail is None else exchange_view.extraction(detail)

    def case_timeline(self, buckets: int = 60) -> timeline_view.CaseTimeline | None:
        """The case's traffic over time and its milestones."""
        return self.case.call(timeline_view.case_timeline, buckets)

    # ------------------------------------------------------------ subjects and the graph

    def resolve(self, text: str) -> subjects.Subject:
        """The subject ``text`` names, the CLI's way (``SubjectNotFound`` when none or several)."""
        return self.case.call(subjects.resolve_subject, text)

    def blast_radius(self, subject: subjects.Subject) -> dict[str, Any]:
        """``graph blast-radius --json`` of a resolved subject."""
        from discovery.views.graph import answers

        return self.case.call(answers.blast_radius, subject)

    def exposure(self, subject: subjects.Subject) -> dict[str, Any]:
        """``graph exposure --json`` of a resolved subject."""
        from discovery.views.graph import answers

        return self.case.call(answers.exposure, subject)

    def what_if(self, removed: Sequence[subjects.Subject]) -> dict[str, Any]:
        """``graph what-if --json`` for resolved subjects."""
        from discovery.views.graph import answers

        return self.case.call(answers.what_if, removed)

    def search(self, text: str, limit: int = 50) -> list[search.SearchHit]:
        """``search --json``: subjects matching ``text``; the index is rebuilt when the case
        has changed since the last search."""
        version = self.data_version()
        with self._search_lock:
            if self._search is None or self._search[0] != version:
                if self._search is not None:
                    self._search[1].close()
                self._search = (version, self.case.call(search.SearchIndex))
            return self._search[1].search(text, limit)

    # ------------------------------------------------------------ live capture

    def newest_exchange_id(self) -> int:
        return self.case.call(traffic.newest_exchange_id)

    def exchanges_after(self, after_id: int, limit: int = 200) -> list[ExchangeRow]:
        """The newest exchanges with an id above ``after_id`` (at most ``limit``), newest first."""
        return self.case.call(traffic.exchanges_after, after_id, limit)

    def latest_capture(self) -> captures.Capture | None:
        """The newest live capture and what it lost so far (None: there was none)."""
        return self.case.call(captures.latest_live)

    # ------------------------------------------------------------ audit and runs

    def audit_entries(self, text: str = "", limit: int = PAGE) -> Page[AuditRow]:
        return self.case.call(runs.audit_page, text, limit)

    def audit_verify(self) -> audit.Verification:
        return self.case.call(audit.verify)

    def runbook_runs(self, text: str = "", limit: int = PAGE) -> Page[RunRow]:
        return self.case.call(runs.run_page, text, limit)

    def run_steps(self, run_id: str) -> tuple[StepRow, ...]:
        return self.case.call(runs.run_steps, run_id)

    def run_audit(self, run_id: str) -> Page[AuditRow]:
        """The audit entries a run wrote, in order (``runbook log``'s selection, bounded)."""
        return self.case.call(runs.run_audit, run_id)

    # ------------------------------------------------------------ console writes

    def block_credential(self, credential_id: str, reason: str) -> blocklist.Block:
        return self.case.call(blocklist.block_credential, credential_id, reason, actor="console")

    def block_endpoint(self, subject: str, reason: str) -> blocklist.Block:
        return self.case.call(blocklist.block_endpoint, subject, reason, actor="console")

    def unblock(self, kind: str, subject: str) -> bool:
        """Remove a credential's or an endpoint's block; False when it was not blocked."""
        if kind == "credential":
            return bool(self.case.call(blocklist.unblock_credential, subject, actor="console"))
        return bool(self.case.call(blocklist.unblock_endpoint, subject, actor="console"))

    def find_secret(self, secret: str) -> dict[str, Any]:
        """``credentials find`` for one raw secret (fingerprints compared, nothing kept):
        ``{"found", "credential", "issued"}`` and ``text``, the CLI's sentence."""
        result = self.case.call(leaked.lookup, secret)
        return {**result, "text": leaked.describe(result)}

    def enforcement(self) -> Enforcement:
        """Whether an enforcing proxy is running and applied the blocklist."""
        return self.case.call(enforcement.enforcement)

    def wait_until_applied(self, timeout: float = 3.0) -> Enforcement:
        """After a block: once a running enforcing proxy applied it (at once when none runs);
        the case is read once per poll, never held while waiting."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.enforcement()
            if state.enforced or not state.running or time.monotonic() >= deadline:
                return state
            time.sleep(0.05)


def when(ts: float | None) -> str:
    """A compact UTC time for tables (``2026-11-28 04:34``)."""
    value = iso(ts)
    return value[:16].replace("T", " ") if value else "-"


def stamp(ts: float | None, fraction: bool = False) -> str:
    """A time to the second for a list of requests (``11-28 04:58:34``); with ``fraction``,
    the full date and milliseconds (``2026-11-28 04:58:34.825``)."""
    value = iso(ts)
    if ts is None or not value:
        return "-"
    if fraction:
        return value[:19].replace("T", " ") + f".{int(ts * 1000) % 1000:03d}"
    return value[5:19].replace("T", " ")


def duration(seconds: float | None) -> str:
    """A human duration (``90d``, ``3h``, ``45m``)."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
