"""The stored exchanges: how much traffic the case holds, and the newest exchanges as they arrive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from discovery.case.blocklist import template_matches
from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.rows import ExchangeRow

EXCHANGE_COLUMNS = (
    "id, ts, source, evidence, client_ip, host, method, path, raw_path, status, user_agent, "
    "tls, sni, blocked"
)


def exchange_row(r: Sequence[Any]) -> ExchangeRow:
    """An ``ExchangeRow`` from a row selected with ``EXCHANGE_COLUMNS``."""
    return ExchangeRow(
        id=r[0],
        ts=r[1],
        source=r[2],
        evidence=r[3],
        client_ip=r[4],
        host=r[5],
        method=r[6],
        path=r[7],
        raw_path=r[8],
        status=r[9],
        user_agent=r[10],
        tls=bool(r[11]),
        sni=r[12],
        blocked=bool(r[13]),
    )


@dataclass(frozen=True, slots=True)
class Traffic:
    """How many exchanges the case holds and the time they span."""

    exchanges: int
    first_seen: float | None
    last_seen: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "exchanges": self.exchanges,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
        }


def traffic(store: Store) -> Traffic:
    """The exchanges in the case and their first and last times.

    Three queries, not one: apart, MIN and MAX each read one end of the time index and COUNT
    the smallest index; together SQLite scans the table (0.04 s against 0.6 s at a million)."""
    conn = store.conn
    count = conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    first = conn.execute("SELECT MIN(ts) FROM exchanges").fetchone()[0]
    last = conn.execute("SELECT MAX(ts) FROM exchanges").fetchone()[0]
    return Traffic(int(count), first, last)


def newest_exchange_id(store: Store) -> int:
    """The id of the newest exchange (0 for an empty case)."""
    return int(store.conn.execute("SELECT MAX(id) FROM exchanges").fetchone()[0] or 0)


def exchanges_after(store: Store, after_id: int, limit: int = 200) -> list[ExchangeRow]:
    """The newest exchanges with an id above ``after_id`` (at most ``limit``), newest first."""
    return [
        exchange_row(r)
        for r in store.conn.execute(
            f"SELECT {EXCHANGE_COLUMNS} FROM exchanges WHERE id > ? ORDER BY id DESC LIMIT ?",
            (after_id, limit),
        )
    ]


@dataclass(frozen=True, slots=True)
class InputRow:
    """An input file ingested into the case (capture, log, HAR, flows)."""

    id: int
    path: str
    sha256: str
    format: str
    size: int
    state: str
    started_at: float


def inputs(store: Store) -> list[InputRow]:
    """The inputs, in the order they were ingested."""
    return [
        InputRow(*r)
        for r in store.conn.execute(
            "SELECT id, path, sha256, format, size, state, started_at FROM inputs ORDER BY id"
        )
    ]


@dataclass(frozen=True, slots=True)
class Uses:
    """Requests of one credential or endpoint at or after a time: the successful ones (2xx/3xx,
    not blocked) and the refused ones (blocked at the proxy or answered 4xx/5xx), and the traffic
    that could have shown a use (``observed``), all read from one snapshot of the case."""

    successful: int
    last_success: float | None
    evidence: str | None  # the evidence of one successful use (the first, by reference order)
    refused: int
    observed: int = 0  # exchanges since from the subject's clients or to its hosts


def destinations_of(store: Store, host: str) -> list[str]:
    """Where requests for ``host`` really went: the host itself (a target a client named
    through a proxy) and the destinations of the exchanges that named it without contradiction
    (the server addresses a capture saw it at)."""
    rows = store.conn.execute(
        "SELECT DISTINCT destination FROM exchanges WHERE host = ? AND destination IS NOT NULL "
        "AND host_mismatch IS NULL LIMIT 1000",
        (host,),
    ).fetchall()
    return sorted({host, *(d for (d,) in rows)})


def _template_matches(template: str | None, path: str | None) -> bool:
    return template is not None and path is not None and template_matches(template, path)


def uses_since(
    store: Store,
    since: float,
    *,
    credential: str | None = None,
    endpoint: tuple[str, str, str] | None = None,
) -> Uses:
    """The uses of a credential (by id) or an endpoint (host, method, template) since ``since``,
    and the exchanges since then that could have shown one: from the clients that used the
    credential (called the endpoint) before ``since``, or to the hosts it was used on (the
    endpoint's host). Evidence that someone was still there to try.

    An endpoint's exchanges are those classified to it, or, not classified yet, those whose
    path is exactly the template; and, whatever Host they claimed, those that went where the
    endpoint's host is (``destinations_of``) with a path the template matches: a fake Host
    header sent to a blocked endpoint's real address is a use. (An address serving several
    virtual hosts counts their requests on a matching path too: verification errs towards
    "used".)

    The counts come from one statement, so from one snapshot: a use committed while they are
    read is either in all of them or in none (read in separate statements, a use committed
    between them was missed as a use and counted as traffic, and a verification said
    'verified' about a credential just used)."""
    if (credential is None) == (endpoint is None):
        raise ValueError("give exactly one of credential, endpoint")
    conn = store.conn
    args: tuple[Any, ...]
    destinations: list[str] = []
    if credential is not None:
        source = "exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id"
        where, args = "ec.credential_id = ?", (credential,)
        rows = conn.execute(
            "SELECT DISTINCT e.client_ip, e.host FROM exchange_credentials ec "
            "JOIN exchanges e ON e.id = ec.exchange_id WHERE ec.credential_id = ? AND e.ts < ? "
            "LIMIT 1000",
            (credential, since),
        ).fetchall()
        hosts = {h for _, h in rows if h}
    else:
        assert endpoint is not None
        host, method, template = endpoint
        destinations = destinations_of(store, host)
        conn.create_function("irc_template_matches", 2, _template_matches, deterministic=True)
        source = "exchanges e LEFT JOIN endpoints ep ON ep.id = e.endpoint_id"
        dest_marks = ",".join("?" * len(destinations))
        where = (
            "e.method = ? AND ((e.host = ? AND (ep.template = ? OR "
            "(e.endpoint_id IS NULL AND e.path = ?))) OR "
            f"(e.host IS NOT ? AND e.destination IN ({dest_marks}) "
            "AND irc_template_matches(?, e.path)))"
        )
        args = (method, host, template, template, host, *destinations, template)
        rows = conn.execute(
            "SELECT DISTINCT client_ip, host FROM exchanges WHERE host = ? AND method = ? "
            "AND ts < ? LIMIT 1000",
            (host, method, since),
        ).fetchall()
        hosts = {host}
    clients = sorted({c for c, _ in rows if c})
    names = sorted(hosts)
    marks = ",".join("?" * len(clients)) or "NULL"
    host_marks = ",".join("?" * len(names)) or "NULL"
    dest_marks = ",".join("?" * len(destinations)) or "NULL"
    ok, last, evidence, refused, observed = conn.execute(
        f"SELECT COUNT(*), MAX(e.ts), MIN(e.evidence), "
        f"(SELECT COUNT(*) FROM {source} WHERE ({where}) AND e.ts >= ? "
        "AND (e.blocked = 1 OR e.status >= 400)), "
        "(SELECT COUNT(*) FROM exchanges WHERE ts >= ? AND "
        f"(client_ip IN ({marks}) OR host IN ({host_marks}) OR destination IN ({dest_marks}))) "
        f"FROM {source} WHERE ({where}) "
        "AND e.ts >= ? AND e.status BETWEEN 200 AND 399 AND e.blocked = 0",
        (*args, since, since, *clients, *names, *destinations, *args, since),
    ).fetchone()
    return Uses(int(ok), last, evidence, int(refused), int(observed))
