"""Bounded reads: a page of typed rows with the number of rows matching, and the filter language.

A list that can be large (endpoints, credentials, identities, findings, audit entries, runs) is
read as a ``Page``: at most ``limit`` rows and the total that matched, so a screen over a
million-exchange case never loads a whole table. ``limit=None`` reads every row (the CLI's lists).

The filter language (the console's ``/``): words separated by spaces must all match; a plain word
is a substring of the row's text, ``key:value`` a substring of one column. Matching is
case-insensitive. Values are bound as parameters, never spliced into the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from discovery.case.store import Store
from discovery.severity import SEVERITIES

T = TypeVar("T")

# ORDER BY expression: findings most severe first (unknown names last).
SEVERITY_ORDER = (
    "CASE severity "
    + " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(SEVERITIES))
    + f" ELSE {len(SEVERITIES)} END"
)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One bounded page of rows and the number of rows matching the query."""

    rows: tuple[T, ...]
    total: int
    limit: int | None

    @property
    def truncated(self) -> bool:
        """True when more rows match than the page holds."""
        return self.total > len(self.rows)


@dataclass(frozen=True, slots=True)
class Where:
    """A SQL condition (``AND``-joined clauses) and its parameters."""

    clauses: tuple[str, ...] = ()
    args: tuple[object, ...] = ()

    def and_(self, clause: str, *args: object) -> Where:
        return Where((*self.clauses, clause), (*self.args, *args))

    def __add__(self, other: Where) -> Where:
        return Where((*self.clauses, *other.clauses), (*self.args, *other.args))

    @property
    def sql(self) -> str:
        """``WHERE …`` or the empty string."""
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def terms(text: str) -> list[str]:
    """Filter text split into lower-cased terms; every term must match."""
    return [t for t in text.lower().split() if t]


def text_filter(text: str, haystack: str, fields: Mapping[str, str]) -> Where:
    """The condition for filter ``text``: plain terms are substrings of the SQL expression
    ``haystack``; ``key:value`` is a substring of ``fields[key]`` (a column expression)."""
    where = Where()
    for term in terms(text):
        key, sep, value = term.partition(":")
        if sep and key in fields and value:
            where = where.and_(f"instr(lower(COALESCE({fields[key]}, '')), ?) > 0", value)
        else:
            where = where.and_(f"instr(lower({haystack}), ?) > 0", term)
    return where


def marks(values: Sequence[object]) -> str:
    """``?,?,?`` for an ``IN (…)`` over ``values``."""
    return ",".join("?" for _ in values)


def limit_sql(limit: int | None) -> tuple[str, tuple[object, ...]]:
    """``LIMIT ?`` and its parameter, or nothing for every row."""
    return ("LIMIT ?", (limit,)) if limit is not None else ("", ())


def page_of(
    store: Store, rows: Sequence[T], limit: int | None, table: str, where: Where
) -> Page[T]:
    """A page of ``rows`` read from ``table`` with ``where``; the rows matching are counted
    only when the page is full (one scan saved)."""
    total = len(rows)
    if limit is not None and total >= limit:
        count = store.conn.execute(f"SELECT COUNT(*) FROM {table} {where.sql}", where.args)
        total = int(count.fetchone()[0])
    return Page(tuple(rows), total, limit)
