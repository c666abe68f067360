"""What a responder looks at first: the case's counts, what is new, the most pressing rows.

Every count is the size of a list the CLI prints (``hosts``, ``endpoints`` without orphans,
``credentials``, ``identities``, ``findings``), read with the same conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from discovery.case.store import Store
from discovery.views.page import Where
from discovery.views.queries import (
    endpoint_counts,
    endpoint_page,
    finding_page,
    host_count,
    identity_page,
)
from discovery.views.rows import EndpointRow, FindingRow, IdentityRow
from discovery.views.traffic import traffic

DAY = 24 * 3600.0
TOP = 8


@dataclass(frozen=True, slots=True)
class CaseCounts:
    """How much of each kind the case holds."""

    exchanges: int
    hosts: int
    endpoints: int  # seen in traffic (orphans, documented and never called, left out)
    shadow: int
    zombie: int
    credentials: int
    identities: int
    unregistered: int
    findings: int


@dataclass(frozen=True, slots=True)
class NewCounts:
    """What first appeared at or after ``Overview.since``."""

    endpoints: int
    credentials: int
    identities: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Counts, what is new, the most severe findings, shadow endpoints, unregistered identities."""

    counts: CaseCounts
    severities: Mapping[str, int]
    since: float
    new: NewCounts
    findings: tuple[FindingRow, ...]
    shadow: tuple[EndpointRow, ...]
    unregistered: tuple[IdentityRow, ...]


def _count(store: Store, table: str, where: str = "", *args: object) -> int:
    return int(store.conn.execute(f"SELECT COUNT(*) FROM {table} {where}", args).fetchone()[0])


def case_counts(store: Store, exchanges: int | None = None) -> CaseCounts:
    """The case's counts (see the module's docstring for what each counts); ``exchanges`` when
    the caller counted them already."""
    statuses = endpoint_counts(store)
    return CaseCounts(
        exchanges=traffic(store).exchanges if exchanges is None else exchanges,
        hosts=host_count(store),
        endpoints=sum(n for status, n in statuses.items() if status != "orphan"),
        shadow=statuses["shadow"],
        zombie=statuses["zombie"],
        credentials=_count(store, "credentials"),
        identities=_count(store, "identities"),
        unregistered=_count(store, "identities", "WHERE registered = 0"),
        findings=_count(store, "findings"),
    )


def overview(store: Store, since: float | None = None, window: float = DAY) -> Overview:
    """The overview; "new" counts what appeared since ``since`` (default: ``window`` seconds
    before the newest exchange)."""
    seen = traffic(store)
    if since is None:
        since = (seen.last_seen - window) if seen.last_seen is not None else 0.0
    severities = {
        str(sev): int(n)
        for sev, n in store.conn.execute(
            "SELECT severity, COUNT(*) FROM findings GROUP BY severity"
        )
    }
    new = NewCounts(
        endpoints=_count(store, "endpoints", "WHERE first_seen >= ?", since),
        credentials=_count(store, "credentials", "WHERE first_seen >= ?", since),
        identities=_count(store, "identities", "WHERE first_seen >= ?", since),
    )
    return Overview(
        counts=case_counts(store, seen.exchanges),
        severities=severities,
        since=since,
        new=new,
        findings=finding_page(store, limit=TOP).rows,
        shadow=endpoint_page(
            store, statuses=("shadow", "zombie"), order="busiest", limit=TOP, callers=False
        ).rows,
        unregistered=identity_page(
            store, where=Where(("i.registered = 0",)), order="unregistered_first", limit=TOP
        ).rows,
    )
