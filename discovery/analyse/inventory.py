"""The endpoint inventory: template every host's paths, match them against the specs, classify
each (host, method, template) as documented / shadow / zombie / orphan, and link exchanges.

Works on distinct (host, method, path) groups, not on exchanges, so it scales with the number of
distinct paths. Paths that only ever answered 404 are route probing: they never teach the
templater and, unless they fall under a real endpoint, are not endpoints.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from discovery.analyse.matching import HostMatcher, Operation, load_matchers
from discovery.analyse.specs.graphql import PROTOCOL as GRAPHQL
from discovery.analyse.specs.graphql import GraphQLSpec, load_graphql_specs
from discovery.analyse.templating import (
    HostTemplater,
    Templated,
    TemplateRules,
    classify_segment,
    load_rules,
    rules_path,
)
from discovery.case.store import Store, dumps
from discovery.redact.grpc import PROTOCOL as GRPC
from discovery.wire.grpc import is_service_name

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Endpoint:
    host: str
    method: str
    template: str
    status: str
    operation: Operation | None = None
    requests: int = 0
    first: float | None = None
    last: float | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    example: str | None = None
    example_requests: int = -1
    reason: str = ""
    protocol: str | None = None
    operation_label: str | None = None  # the API operation the template ends with
    outcomes: Counter[str] = field(default_factory=Counter)
    spec_operation_id: int | None = None  # an API operation's documenting spec operation


def classify(
    host: str, method: str, templated: Templated, matcher: HostMatcher | None
) -> tuple[str, Operation | None, str]:
    """(status, operation, reason) of a request's endpoint."""
    if matcher is None:
        return "shadow", None, f"no spec in the case documents {host}"
    if templated.masked_by is not None:
        return (
            "shadow",
            None,
            f"{host} has a spec; documented {templated.masked_by} would take this path, but "
            "its value does not look like that parameter's values: a possibly masked "
            "undocumented route",
        )
    if templated.source != "documented":
        return "shadow", None, _undocumented(host, templated.template, matcher)
    op = matcher.operations.get((method, templated.template))
    if op is None:
        methods = sorted(o.method for o in matcher.templates.get(templated.template, []))
        return (
            "shadow",
            None,
            (
                f"{templated.template} is documented in {matcher.templates[templated.template][0].spec_title!r} "
                f"for {', '.join(methods)}, not for {method}"
            ),
        )
    if op.deprecated:
        return "zombie", op, f"deprecated in {op.spec_title!r} and still called"
    return "documented", op, f"documented in {op.spec_title!r}"


def _undocumented(host: str, template: str, matcher: HostMatcher) -> str:
    """Why a path no documented template matches is shadow (a gRPC method: what is missing)."""
    parts = template.split("/")
    if len(parts) == 3 and is_service_name(parts[1]):
        service = parts[1]
        described = {t.split("/")[1] for t in matcher.templates if t.count("/") == 2}
        if service in described:
            return f"gRPC service {service} is described for {host}, without a method {parts[2]}"
        return f"{host} has a spec, but no gRPC service {service} in it"
    return f"{host} has a spec, but no documented path matches"


@dataclass(slots=True)
class OperationShape:
    """What an operation's requests selected: its kind, root fields and field paths."""

    kind: str | None = None
    roots: dict[str, None] = field(default_factory=dict)
    paths: dict[str, None] = field(default_factory=dict)

    def add(self, facts: dict[str, Any]) -> None:
        self.kind = self.kind or facts.get("kind")
        for name in facts.get("root") or ():
            self.roots[str(name)] = None
        for path in facts.get("fields") or ():
            if len(self.paths) < 512:
                self.paths[str(path)] = None


def classify_operation(
    host: str,
    protocol: str,
    shape: OperationShape | None,
    schemas: dict[str, GraphQLSpec],
) -> tuple[str, Operation | None, str, int | None]:
    """(status, operation, reason, spec operation id) of an API operation (GraphQL): shadow
    when a root field is absent from the host's schema, zombie when it goes through a field
    the schema deprecates, documented otherwise."""
    schema = schemas.get(host) if protocol == GRAPHQL else None
    if schema is None:
        return "shadow", None, f"no {protocol} schema in the case documents {host}", None
    if shape is None or shape.kind is None or shape.kind == "persisted":
        return (
            "shadow",
            None,
            f"a persisted query (a hash, no document): its fields cannot be checked against "
            f"{schema.spec_title!r}",
            None,
        )
    kind = shape.kind
    root_type = schema.roots.get(kind)
    fields = [r for r in shape.roots if not r.startswith("__")]  # meta fields: GraphQL's own
    missing = [r for r in fields if schema.root_field(kind, r) is None]
    if root_type is None:
        return "shadow", None, f"{schema.spec_title!r} has no {kind} type", None
    first = next(iter(fields), None)
    spec_op = schema.operation_ids.get((kind, first)) if first else None
    if missing:
        names = ", ".join(f"{root_type}.{r}" for r in missing[:8])
        return "shadow", None, f"{names} not in {schema.spec_title!r}", None
    deprecated = schema.deprecated_paths(kind, list(shape.paths))
    if deprecated:
        return (
            "zombie",
            None,
            f"deprecated in {schema.spec_title!r} and still queried: {'; '.join(deprecated[:8])}",
            spec_op,
        )
    shown = ", ".join(f"{root_type}.{r}" for r in fields[:8]) or "meta fields only"
    return "documented", None, f"documented in {schema.spec_title!r} ({shown})", spec_op


def _operation_shapes(
    store: Store, hosts: set[str]
) -> dict[tuple[str, str, str, str], OperationShape]:
    """Per (host, method, path, operation) of the hosts with a schema: the kind, root fields
    and field paths its requests selected (each distinct facts text read once)."""
    import json

    shapes: dict[tuple[str, str, str, str], OperationShape] = {}
    if not hosts:
        return shapes
    for h, method, path, operation, facts in store.conn.execute(
        "SELECT DISTINCT host, method, path, operation, facts FROM exchanges "
        f"INDEXED BY exchanges_operation WHERE operation IS NOT NULL AND {_HTTP_ROWS}"
    ):
        if h not in hosts or not facts:
            continue
        try:
            parsed = json.loads(facts)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            shapes.setdefault((h, method, path, operation), OperationShape()).add(parsed)
    return shapes


_HTTP_ROWS = "method IS NOT NULL AND path IS NOT NULL AND host IS NOT NULL"
_LINK_BATCH = 10_000
_MEMO_MAX = 16384  # segment classifications kept while streaming (templating memoises up to 64k)


def _bound_memo(rows: int) -> None:
    """Every few thousand rows, empty the segment memo once it is larger than the bound."""
    if rows % 4096 == 0 and classify_segment.cache_info().currsize > _MEMO_MAX:
        classify_segment.cache_clear()


def _host_filter(host: str | None) -> tuple[str, tuple[str, ...]]:
    return (f"{_HTTP_ROWS} AND host = ?", (host,)) if host is not None else (_HTTP_ROWS, ())


def probe_paths_by_host(store: Store, host: str | None = None) -> dict[str, set[str]]:
    """Per host (or for ``host`` only), the paths that answered 404 to every request whatever
    the method, aggregated in SQL (only those paths reach Python); gRPC methods are never
    probes (their NOT_FOUND is stored as HTTP 404)."""
    where, args = _host_filter(host)
    probes: dict[str, set[str]] = {}
    for h, path in store.conn.execute(
        f"SELECT host, path FROM exchanges WHERE {where} GROUP BY host, path "
        "HAVING SUM(CASE WHEN status = 404 THEN 0 ELSE 1 END) = 0",
        args,
    ):
        probes.setdefault(h, set()).add(path)
    if probes:  # gRPC NOT_FOUND (stored as 404) is a method's answer: an unknown method is
        # UNIMPLEMENTED (501); read through the protocol index, so only gRPC rows are read
        for h, path in store.conn.execute(
            "SELECT DISTINCT host, path FROM exchanges INDEXED BY exchanges_protocol "
            f"WHERE protocol = '{GRPC}' AND {where}",
            args,
        ):
            if h in probes:
                probes[h].discard(path)
    return probes


def _build_templaters(
    store: Store,
    rules: TemplateRules,
    matchers: dict[str, HostMatcher],
    host: str | None = None,
    skipped: Skipped | None = None,
    kept: _KeptGroups | None = None,
) -> dict[str, HostTemplater]:
    """Every host's (or ``host``'s) templater, taught by its paths that are not 404-only,
    streamed from SQL in order: no distinct path is held in Python beyond the trie, but in
    ``kept`` when given (the groups read, for the linking pass, up to a bound)."""
    skipped = skipped if skipped is not None else Skipped()
    templaters: dict[str, HostTemplater] = {}
    current: HostTemplater | None = None
    # per (host, method, path), in the order of the covering index (no sort): a path is learned
    # with its requests when any of its methods answered other than 404
    for row, group in enumerate(_stream_path_groups(store, host)):
        h, method, path, per_status = group
        if kept is not None:
            kept.add(group)
        _bound_memo(row)
        if current is None or current.host != h:
            current = templaters[h] = HostTemplater(h, rules, matchers.get(h))
        answered = 0
        requests = 0
        for code, count, _first, _last in per_status:
            requests += count
            if code != 404:
                answered += count
        if answered:
            try:
                current.add(path, requests, method)
            except ROW_FAILURES as exc:  # isolated to this path: logged, counted, shown
                skipped.failed("learn", h, method, path, exc)
    for templater in templaters.values():
        templater.finish()
    return templaters


# What one path can make the templater raise (a bug, or hostile input no bound anticipated):
# caught per row so the rest of the analysis goes on; anything else (the database) stops it.
ROW_FAILURES = (
    RecursionError,
    MemoryError,
    ValueError,
    OverflowError,
    ArithmeticError,
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,
)
SKIPPED_KEY = "analysis_skipped"  # meta: the paths the last analysis could not template
_SKIPPED_EXAMPLES = 10


class Skipped:
    """Paths the analysis could not template: each failure isolated to its row, logged,
    counted and kept (a few examples) in the case for ``ingest`` and ``endpoints`` to show."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[dict[str, str | None]] = []

    def failed(
        self, stage: str, host: str, method: str | None, path: str, exc: BaseException
    ) -> None:
        self.count += 1
        shown = path if len(path) <= 120 else path[:117] + "..."
        log.warning(
            "analysis (%s) skipped %s %s%s: %s",
            stage,
            method or "*",
            host,
            shown,
            exc,
            exc_info=exc,
        )
        if len(self.examples) < _SKIPPED_EXAMPLES:
            self.examples.append(
                {
                    "stage": stage,
                    "host": host,
                    "method": method,
                    "path": shown,
                    "error": f"{type(exc).__name__}: {exc}"[:200],
                }
            )

    def save(self, store: Store) -> None:
        if self.count:
            store.set_meta(SKIPPED_KEY, dumps({"count": self.count, "examples": self.examples}))
        elif store.get_meta(SKIPPED_KEY) is not None:
            store.conn.execute("DELETE FROM meta WHERE key = ?", (SKIPPED_KEY,))


def analysis_skipped(store: Store) -> dict[str, Any] | None:
    """What the last analysis skipped ({"count", "examples"}), or None when it skipped nothing."""
    import json

    raw = store.get_meta(SKIPPED_KEY)
    return json.loads(raw) if raw else None


_StatusRow = tuple[int | None, int, float | None, float | None]  # status, count, first, last
_PathGroup = tuple[str, str, str, list[_StatusRow]]  # host, method, path, its rows per status
# Path groups the templaters' pass keeps for the linking pass (a few MB at most: each is a
# path and its statuses); a case with more distinct paths has them read from SQL twice.
_GROUPS_KEPT = 32_768


class _KeptGroups:
    """The path groups the templaters' pass read, kept so that the linking pass goes over them
    again instead of asking SQL for them twice (the same statement, grouping and sorting every
    row of the case); beyond ``_GROUPS_KEPT`` none is kept and that pass reads them again."""

    def __init__(self) -> None:
        self.groups: list[_PathGroup] = []
        self.complete = True

    def add(self, group: _PathGroup) -> None:
        if not self.complete:
            return
        if len(self.groups) >= _GROUPS_KEPT:
            self.groups = []  # too many to hold: memory stays bounded
            self.complete = False
        else:
            self.groups.append(group)

    def again(self, store: Store) -> Iterable[_PathGroup]:
        """The groups once more, in the same order: those kept, or read from SQL again."""
        return self.groups if self.complete else _stream_path_groups(store)


def _stream_path_groups(store: Store, host: str | None = None) -> Iterator[_PathGroup]:
    """(host, method, path, its rows per status) in (host, method, path) order, one at a time
    (of ``host`` only, when given)."""
    where, args = _host_filter(host)
    key: tuple[str, str, str] | None = None
    rows: list[_StatusRow] = []
    for h, method, path, status, count, first, last in store.conn.execute(
        "SELECT host, method, path, status, COUNT(*), MIN(ts), MAX(ts) FROM exchanges "
        f"WHERE {where} GROUP BY host, method, path, status "
        "ORDER BY host, method, path, status",
        args,
    ):
        if key is None or key != (h, method, path):
            if key is not None:
                yield key[0], key[1], key[2], rows
            key, rows = (h, method, path), []
        rows.append((status, count, first, last))
    if key is not None:
        yield key[0], key[1], key[2], rows


_OpRow = tuple[int | None, int, float | None, float | None, str | None]  # + outcome


def _operation_groups(
    store: Store,
) -> dict[tuple[str, str, str], dict[tuple[str, str], list[_OpRow]]]:
    """Per (host, method, path) carrying API operations: per (operation, protocol), its rows
    per status and outcome (through the partial index: plain HTTP rows are not read)."""
    groups: dict[tuple[str, str, str], dict[tuple[str, str], list[_OpRow]]] = {}
    for (
        h,
        method,
        path,
        operation,
        protocol,
        status,
        outcome,
        count,
        first,
        last,
    ) in store.conn.execute(
        "SELECT host, method, path, operation, MAX(protocol), status, outcome, COUNT(*), "
        "MIN(ts), MAX(ts) FROM exchanges INDEXED BY exchanges_operation "
        f"WHERE operation IS NOT NULL AND {_HTTP_ROWS} "
        "GROUP BY host, method, path, operation, status, outcome"
    ):
        per_op = groups.setdefault((h, method, path), {})
        per_op.setdefault((operation, protocol or ""), []).append(
            (status, count, first, last, outcome)
        )
    return groups


def _add_rows(endpoint: _Endpoint, per_status: list[_StatusRow]) -> int:
    """Add a path's rows to its endpoint (per-status counts, times); returns their requests."""
    requests = 0
    statuses = endpoint.statuses
    for code, count, first, last in per_status:
        requests += count
        if code is not None:
            statuses[str(code)] += count
        if first is not None:
            endpoint.first = first if endpoint.first is None else min(endpoint.first, first)
        if last is not None:
            endpoint.last = last if endpoint.last is None else max(endpoint.last, last)
    endpoint.requests += requests
    return requests


def _add_operation_rows(endpoint: _Endpoint, rows: list[_OpRow]) -> int:
    """Add an operation's rows to its endpoint, outcomes too; returns their requests."""
    outcomes = endpoint.outcomes
    for _code, count, _first, _last, outcome in rows:
        if outcome is not None:
            outcomes[outcome] += count
    return _add_rows(endpoint, [(c, n, f, la) for c, n, f, la, _o in rows])


def _minus(
    per_status: list[_StatusRow], ops: dict[tuple[str, str], list[_OpRow]]
) -> list[_StatusRow]:
    """A path's rows less those its operations account for (requests that called none)."""
    taken: Counter[int | None] = Counter()
    for rows in ops.values():
        for row in rows:
            taken[row[0]] += row[1]
    out: list[_StatusRow] = []
    for code, count, first, last in per_status:
        left = count - taken[code]
        if left > 0:
            out.append((code, left, first, last))
    return out


def _add_grpc_outcomes(store: Store, endpoints: dict[tuple[str, str, str], _Endpoint]) -> None:
    """The endpoints gRPC calls reached say so (``protocol`` "grpc", the method as their
    operation) and count those calls per outcome, the grpc-status name (INTERNAL and DATA_LOSS
    stay apart where the HTTP statuses merge them): read through the protocol index, so a
    case without gRPC reads nothing."""
    for h, method, template, outcome, count in store.conn.execute(
        "SELECT l.host, l.method, l.template, e.outcome, COUNT(*) "
        "FROM exchanges e INDEXED BY exchanges_protocol JOIN temp.endpoint_links l "
        "ON l.host = e.host AND l.method = e.method AND l.path = e.path "
        f"WHERE e.protocol = '{GRPC}' AND e.operation IS NULL GROUP BY 1, 2, 3, 4"
    ):
        endpoint = endpoints.get((h, method, template))
        if endpoint is None:
            continue
        endpoint.protocol = GRPC
        endpoint.operation_label = template
        if outcome is not None:
            endpoint.outcomes[outcome] += count


@contextmanager
def _one_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """The statements of the block in one (deferred) transaction, rolled back on error."""
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def rebuild_endpoints(store: Store) -> int:
    """Recompute the ``endpoints`` table and ``exchanges.endpoint_id``; returns the endpoint count.

    Memory scales with the number of endpoints, not of distinct paths or exchanges: path groups
    stream from SQL in order, and the (host, method, path) -> endpoint links go to a temporary
    table as they are made.
    """
    matchers = load_matchers(store)
    rules = load_rules(rules_path(store.path))
    skipped = Skipped()
    kept = _KeptGroups()  # the path groups read, for the linking pass below
    templaters = _build_templaters(store, rules, matchers, skipped=skipped, kept=kept)
    endpoints: dict[tuple[str, str, str], _Endpoint] = {}
    conn = store.conn
    conn.execute("DROP TABLE IF EXISTS temp.endpoint_links")
    conn.execute(
        "CREATE TEMP TABLE endpoint_links(host TEXT, method TEXT, path TEXT, "
        "template TEXT, PRIMARY KEY (host, method, path)) WITHOUT ROWID"
    )
    conn.execute("DROP TABLE IF EXISTS temp.operation_links")
    conn.execute(
        "CREATE TEMP TABLE operation_links(host TEXT, method TEXT, path TEXT, operation TEXT, "
        "template TEXT, PRIMARY KEY (host, method, path, operation)) WITHOUT ROWID"
    )
    operation_groups = _operation_groups(store)
    schemas = load_graphql_specs(store.conn)
    shapes = _operation_shapes(store, set(schemas))
    used_roots: dict[str, set[tuple[str, str]]] = {}  # per host: (kind, root field) called
    try:
        # the links' inserts in one transaction: outside one, each row of an executemany
        # commits on its own (2.5 times the time)
        with _one_transaction(conn):
            links: list[tuple[str, str, str, str]] = []
            op_links: list[tuple[str, str, str, str, str]] = []
            for row, (host, method, path, per_status) in enumerate(kept.again(store)):
                _bound_memo(row)
                templater = _templater(templaters, host, rules, matchers)
                try:
                    templated = templater.resolve(path, explain=False)
                except ROW_FAILURES as exc:  # isolated to this path: logged, counted, shown
                    skipped.failed("template", host, method, path, exc)
                    continue
                links.append((host, method, path, templated.template))
                ops = operation_groups.get((host, method, path))
                if ops is not None:  # the operations it carried are endpoints of their own
                    for (label, protocol), op_rows in ops.items():
                        template = f"{templated.template} {label}"
                        op_key = (host, method, template)
                        op_endpoint = endpoints.get(op_key)
                        shape = shapes.get((host, method, path, label))
                        if shape is not None and shape.kind:
                            used = used_roots.setdefault(host, set())
                            used.update((shape.kind, r) for r in shape.roots)
                        if op_endpoint is None:
                            status, op, reason, spec_op = classify_operation(
                                host, protocol, shape, schemas
                            )
                            op_endpoint = endpoints[op_key] = _Endpoint(
                                host,
                                method,
                                template,
                                status,
                                op,
                                reason=reason,
                                protocol=protocol,
                                operation_label=label,
                                spec_operation_id=spec_op,
                            )
                        op_requests = _add_operation_rows(op_endpoint, op_rows)
                        if op_requests > op_endpoint.example_requests:
                            op_endpoint.example, op_endpoint.example_requests = path, op_requests
                        op_links.append((host, method, path, label, template))
                    per_status = _minus(per_status, ops)
                    if not per_status:
                        continue
                key = (host, method, templated.template)
                endpoint = endpoints.get(key)
                if endpoint is None:
                    status, op, reason = classify(host, method, templated, templater.matcher)
                    endpoint = endpoints[key] = _Endpoint(
                        host, method, templated.template, status, op, reason=reason
                    )
                # the path's rows added straight to its endpoint: per-status counts and times
                requests = _add_rows(endpoint, per_status)
                if requests > endpoint.example_requests:
                    endpoint.example, endpoint.example_requests = path, requests
                if len(links) >= _LINK_BATCH:
                    conn.executemany("INSERT INTO temp.endpoint_links VALUES (?,?,?,?)", links)
                    links = []
            if links:
                conn.executemany("INSERT INTO temp.endpoint_links VALUES (?,?,?,?)", links)
            conn.executemany("INSERT INTO temp.operation_links VALUES (?,?,?,?,?)", op_links)
        del links, op_links
        _add_grpc_outcomes(store, endpoints)
        # 404-only endpoints are route probing, not endpoints (a documented operation stays).
        for key, endpoint in list(endpoints.items()):
            only_404 = (
                set(endpoint.statuses) == {"404"} and endpoint.statuses["404"] == endpoint.requests
            )
            if only_404 and endpoint.operation is None and endpoint.protocol != GRPC:
                del endpoints[key]  # (a gRPC NOT_FOUND is a method's answer: it stays)
        # schema root fields no operation called: orphans
        for host, schema in schemas.items():
            used = used_roots.get(host, set())
            for (kind, fname), spec_op in schema.operation_ids.items():
                if (kind, fname) in used:
                    continue
                label = f"{kind} {fname}"
                key = (host, "POST", f"{schema.carrier} {label}")
                if key not in endpoints:
                    endpoints[key] = _Endpoint(
                        host,
                        "POST",
                        key[2],
                        "orphan",
                        None,
                        reason=(
                            f"{schema.roots.get(kind, kind)}.{fname} documented in "
                            f"{schema.spec_title!r}, never called"
                        ),
                        protocol=GRAPHQL,
                        operation_label=label,
                        spec_operation_id=spec_op,
                    )
        # documented operations never seen: orphans
        for host, matcher in matchers.items():
            for (method, template), op in matcher.operations.items():
                key = (host, method, template)
                if key not in endpoints:
                    endpoints[key] = _Endpoint(
                        host,
                        method,
                        template,
                        "orphan",
                        op,
                        reason=f"documented in {op.spec_title!r}, never seen in traffic",
                    )
        explained: dict[tuple[str, str, str], dict[str, Any]] = {}
        for key, endpoint in endpoints.items():
            if endpoint.example is None:
                continue
            try:
                why = _templater(templaters, key[0], rules, matchers).explain(endpoint.example)
            except ROW_FAILURES as exc:  # isolated to this endpoint's explanation
                skipped.failed("explain", key[0], key[1], endpoint.example, exc)
                continue
            explained[key] = {"segments": [d.as_dict() for d in why.decisions]} | (
                {"masked_by": why.masked_by} if why.masked_by else {}
            )
        _write(store, endpoints, explained)
        skipped.save(store)
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.endpoint_links")
        conn.execute("DROP TABLE IF EXISTS temp.operation_links")
        classify_segment.cache_clear()  # the later stages do not use it
    log.info("inventory: %d endpoints", len(endpoints))
    return len(endpoints)


def _templater(
    templaters: dict[str, HostTemplater],
    host: str,
    rules: TemplateRules,
    matchers: dict[str, HostMatcher],
) -> HostTemplater:
    templater = templaters.get(host)
    if templater is None:  # no path learned for it (or a writer added it since the first pass)
        templater = templaters[host] = HostTemplater(host, rules, matchers.get(host))
        templater.finish()
    return templater


def _write(
    store: Store,
    endpoints: dict[tuple[str, str, str], _Endpoint],
    explained: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    with store.transaction() as conn:
        old = {
            (h, m, t): i
            for i, h, m, t in conn.execute("SELECT id, host, method, template FROM endpoints")
        }
        next_id = max(old.values(), default=0) + 1
        ids: dict[tuple[str, str, str], int] = {}
        for key in sorted(endpoints):
            if key in old:
                ids[key] = old[key]
            else:
                ids[key] = next_id
                next_id += 1
        conn.execute("DELETE FROM endpoints")
        conn.executemany(
            "INSERT INTO endpoints(id, host, method, template, status, spec_operation_id, "
            "requests, first_seen, last_seen, statuses, explanation, protocol, operation, "
            "outcomes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    ids[key],
                    e.host,
                    e.method,
                    e.template,
                    e.status,
                    e.operation.id if e.operation else e.spec_operation_id,
                    e.requests,
                    e.first,
                    e.last,
                    dumps(dict(e.statuses)),
                    dumps(
                        {
                            "classification": e.reason,
                            "example": e.example,
                            "segments": [],
                        }
                        | explained.get(key, {})
                    ),
                    e.protocol,
                    e.operation_label,
                    dumps(dict(e.outcomes)),
                )
                for key, e in endpoints.items()
            ],
        )
        # no exchange linked yet (a fresh case): nothing to unlink, before or after
        linked = conn.execute(
            "SELECT 1 FROM exchanges WHERE endpoint_id IS NOT NULL LIMIT 1"
        ).fetchone()
        # one pass per distinct path (through the exchanges_host index), and only rows whose
        # endpoint changes are written: a re-analysis that changes nothing writes nothing
        if linked is not None:
            conn.execute(
                "UPDATE exchanges SET endpoint_id = NULL "
                f"WHERE endpoint_id IS NOT NULL AND NOT ({_HTTP_ROWS})"
            )
        conn.execute(
            "UPDATE exchanges SET endpoint_id = m.id FROM (SELECT l.host, l.method, l.path, "
            "ep.id FROM temp.endpoint_links l LEFT JOIN endpoints ep ON ep.host = l.host "
            "AND ep.method = l.method AND ep.template = l.template) m "
            "WHERE exchanges.host = m.host AND exchanges.method = m.method "
            "AND exchanges.path = m.path AND exchanges.endpoint_id IS NOT m.id "
            "AND exchanges.operation IS NULL"
        )
        conn.execute(  # the operations' rows, through the partial index
            "UPDATE exchanges INDEXED BY exchanges_operation SET endpoint_id = m.id "
            "FROM (SELECT l.host, l.method, l.path, l.operation, ep.id "
            "FROM temp.operation_links l LEFT JOIN endpoints ep ON ep.host = l.host "
            "AND ep.method = l.method AND ep.template = l.template) m "
            "WHERE exchanges.operation IS NOT NULL AND exchanges.host = m.host "
            "AND exchanges.method = m.method AND exchanges.path = m.path "
            "AND exchanges.operation = m.operation AND exchanges.endpoint_id IS NOT m.id"
        )
        if linked is not None:  # rows a writer added after the path groups were read
            conn.execute(
                "UPDATE exchanges SET endpoint_id = NULL WHERE endpoint_id IS NOT NULL AND "
                "NOT EXISTS (SELECT 1 FROM temp.endpoint_links l WHERE l.host = exchanges.host "
                "AND l.method = exchanges.method AND l.path = exchanges.path)"
            )
        sensitive: dict[int, Counter[str]] = {}
        for endpoint_id, kind, count in conn.execute(  # summed by SQLite's JSON functions
            "SELECT e.endpoint_id, j.key, SUM(j.value) FROM exchanges e, json_each(e.sensitive) j "
            "WHERE e.endpoint_id IS NOT NULL AND e.sensitive != '{}' GROUP BY 1, 2"
        ):
            sensitive.setdefault(endpoint_id, Counter())[kind] = count
        conn.executemany(
            "UPDATE endpoints SET sensitive = ? WHERE id = ?",
            [(dumps(dict(c)), i) for i, c in sensitive.items()],
        )


def explain_request(store: Store, host: str, method: str, path: str) -> dict[str, Any]:
    """Why a request (seen or not) has the template and classification it has."""
    from discovery.wire.paths import normalise_path

    host, method = host.lower(), method.upper()
    path, _, operation = path.partition(" ")
    operation = " ".join(operation.split())
    normal = normalise_path(path.split("?", 1)[0])
    matchers = load_matchers(store)
    matcher = matchers.get(host)
    rules = load_rules(rules_path(store.path))
    templater = _templater(_build_templaters(store, rules, matchers, host), host, rules, matchers)
    templated = templater.explain(normal)
    if operation:
        return _explain_operation(store, host, method, path, normal, templated, operation)
    status, op, reason = classify(host, method, templated, matcher)
    row = store.conn.execute(
        "SELECT status, requests FROM endpoints WHERE host = ? AND method = ? AND template = ?",
        (host, method, templated.template),
    ).fetchone()
    requests = row[1] if row else 0
    if row is None and normal in probe_paths_by_host(store, host).get(host, set()):
        status, reason = "route-probing", "every request to this path answered 404"
        (requests,) = store.conn.execute(
            f"SELECT COUNT(*) FROM exchanges WHERE {_HTTP_ROWS} AND host = ? AND path = ?",
            (host, normal),
        ).fetchone()
    elif row is not None:
        status = row[0]
    return (
        {
            "host": host,
            "method": method,
            "path": path,
            "normalised_path": normal,
            "template": templated.template,
            "source": templated.source,
            "status": status,
            "reason": reason,
            "seen": requests > 0,
            "requests": requests,
            "segments": [d.as_dict() for d in templated.decisions],
            "threshold": rules.threshold,
            "rules_file": rules.source,
        }
        | ({"deprecated": op.deprecated, "spec": op.spec_title} if op else {})
        | ({"masked_by": templated.masked_by} if templated.masked_by else {})
    )


def _explain_operation(
    store: Store,
    host: str,
    method: str,
    path: str,
    normal: str,
    templated: Templated,
    operation: str,
) -> dict[str, Any]:
    """Why an API operation (``/graphql mutation createUser``) has the status it has."""
    import json

    template = f"{templated.template} {operation}"
    row = store.conn.execute(
        "SELECT status, requests, explanation, protocol FROM endpoints "
        "WHERE host = ? AND method = ? AND template = ?",
        (host, method, template),
    ).fetchone()
    if row is None:
        status, requests, reason, protocol = "unseen", 0, "no such operation in the case", None
    else:
        status, requests, protocol = row[0], int(row[1]), row[3]
        reason = str(json.loads(row[2] or "{}").get("classification", ""))
    shape = OperationShape()
    for (facts,) in store.conn.execute(
        "SELECT DISTINCT facts FROM exchanges INDEXED BY exchanges_operation "
        "WHERE operation = ? AND host = ? AND method = ? AND path = ?",
        (operation, host, method, normal),
    ):
        try:
            parsed = json.loads(facts or "{}")
        except ValueError:
            continue
        if isinstance(parsed, dict):
            shape.add(parsed)
    return {
        "host": host,
        "method": method,
        "path": path,
        "normalised_path": normal,
        "template": template,
        "source": templated.source,
        "status": status,
        "reason": reason,
        "seen": requests > 0,
        "requests": requests,
        "segments": [d.as_dict() for d in templated.decisions],
        "operation": operation,
        "protocol": protocol,
        "root_fields": list(shape.roots),
        "fields": list(shape.paths),
    }
