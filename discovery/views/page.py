"""Bounded reads: a page of typed rows with the number of rows matching, and the filter language.

A list that can be large (endpoints, credentials, identities, findings, audit entries, runs) is
read as a ``Page``: at most ``limit`` rows and the total that matched, so a screen over a
million-exchange case never loads a whole table. ``limit=None`` reads every row (the CLI's lists).

The filter language (the console's ``/``, in the CLI's words): terms separated by spaces must all
match. A plain word is a substring of the row's text; ``key:value`` a substring of one column;
``key:a,b`` either value (``status:shadow,zombie``, as ``--status shadow,zombie``); on a number
column ``key:>5``, ``>=``, ``<``, ``<=``, ``=`` compare (``requests:>5``); a leading ``-`` or
``!`` negates a term (``-status:documented``, ``!health``). Matching is case-insensitive. Values
are bound as parameters, never spliced into the SQL.
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


@dataclass(frozen=True, slots=True)
class Sort:
    """A list sorted by one of its columns (the console's ``s`` and header clicks)."""

    column: str
    descending: bool = False


def order_sql(sort: Sort | None, columns: Mapping[str, str], default: str, tiebreak: str) -> str:
    """``ORDER BY`` text: ``sort``'s column (an expression from ``columns``, never the user's
    text) then ``tiebreak``; ``default`` without a sort. An unknown column is a ``ValueError``."""
    if sort is None:
        return default
    if sort.column not in columns:
        raise ValueError(f"cannot sort by {sort.column!r}; columns: {', '.join(columns)}")
    direction = "DESC" if sort.descending else "ASC"
    return f"{columns[sort.column]} {direction}, {tiebreak}"


def terms(text: str) -> list[str]:
    """Filter text split into lower-cased terms; every term must match."""
    return [t for t in text.lower().split() if t]


_COMPARISONS = (">=", "<=", "!=", ">", "<", "=")


def text_filter(
    text: str,
    haystack: str,
    fields: Mapping[str, str],
    *,
    numbers: Mapping[str, str] | None = None,
) -> Where:
    """The condition for filter ``text`` (the language in the module's docstring): plain terms
    are substrings of the SQL expression ``haystack``, ``key:value`` of ``fields[key]`` (a column
    expression), ``key:>N`` compares ``numbers[key]`` with N."""
    numbers = numbers or {}
    where = Where()
    for term in terms(text):
        negate = term[0] in "-!" and len(term) > 1
        if negate:
            term = term[1:]
        clause, args = _term(term, haystack, fields, numbers)
        where = where.and_(f"NOT ({clause})" if negate else clause, *args)
    return where


def _term(
    term: str, haystack: str, fields: Mapping[str, str], numbers: Mapping[str, str]
) -> tuple[str, tuple[object, ...]]:
    key, sep, value = term.partition(":")
    if sep and value and key in numbers:
        number = _comparison(value)
        if number is not None:
            op, n = number
            return f"COALESCE({numbers[key]}, 0) {op} ?", (n,)
    if sep and value and (key in fields or key in numbers):
        column = fields.get(key) or f"CAST({numbers[key]} AS TEXT)"
        alternatives = [v for v in value.split(",") if v]
        clause = " OR ".join(f"instr(lower(COALESCE({column}, '')), ?) > 0" for _ in alternatives)
        return f"({clause})", tuple(alternatives)
    return f"instr(lower({haystack}), ?) > 0", (term,)


def _comparison(value: str) -> tuple[str, float] | None:
    """``>5`` as (">", 5.0); None when ``value`` is not a comparison with a number."""
    for op in _COMPARISONS:
        if value.startswith(op):
            try:
                return op, float(value[len(op) :])
            except ValueError:
                return None
    try:
        return "=", float(value)
    except ValueError:
        return None


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
