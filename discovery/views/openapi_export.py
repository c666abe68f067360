"""Observed traffic written as an OpenAPI 3.1 document, one per host: templated paths, path
parameters typed from the values seen, query parameter names, methods, status codes and content
types seen, security schemes inferred from the credentials seen, and an ``x-ir-console``
extension with the classification and first/last seen of each operation.

Only names and shapes leave the case: no observed value (a path id, a query value, a header) is
ever copied into the document, since any of them may be personal data or a secret.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from discovery.analyse.templating import classify_segment
from discovery.case.store import Store
from discovery.errors import SubjectNotFound
from discovery.timeutil import iso

OPENAPI_VERSION = "3.1.0"
_PARAM = re.compile(r"\{([^{}/]+)\}")
_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_VALUES = 500  # distinct values per path parameter used to type it
_STATUS_TEXT = {"2": "success", "3": "redirect", "4": "client error", "5": "server error"}


@dataclass(slots=True)
class _Operation:
    endpoint_id: int
    method: str
    template: str
    status: str
    requests: int
    first: float | None
    last: float | None
    statuses: dict[str, int]
    spec: str | None
    values: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    query: Counter[str] = field(default_factory=Counter)
    request_types: Counter[str] = field(default_factory=Counter)
    response_types: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    schemes: Counter[str] = field(default_factory=Counter)
    anonymous: int = 0
    credential_params: set[str] = field(default_factory=set)


def hosts_with_traffic(store: Store) -> list[str]:
    """Hosts that have at least one observed endpoint."""
    return [
        h
        for (h,) in store.conn.execute(
            "SELECT DISTINCT host FROM endpoints WHERE status != 'orphan' "
            "AND (protocol IS NULL OR protocol = 'grpc') ORDER BY host"  # GraphQL: graphql export
        )
    ]


def value_schema(values: set[str]) -> dict[str, Any]:
    """The JSON Schema of a path parameter, from the values it took (typed only when all agree)."""
    rules = {classify_segment(v).rule for v in values} if values else {"word"}
    if rules == {"integer"}:
        big = any(len(v) > 9 for v in values)
        return {"type": "integer", "format": "int64"} if big else {"type": "integer"}
    formats = {"uuid": "uuid", "date": "date", "email": "email"}
    if len(rules) == 1:
        (only,) = rules
        if only in formats:
            if only == "date" and any("T" in v or " " in v for v in values):
                return {"type": "string", "format": "date-time"}
            return {"type": "string", "format": formats[only]}
        if only in ("hex", "objectid"):
            return {"type": "string", "pattern": "^[0-9a-fA-F]+$"}
    return {"type": "string"}


def _segment_regex(segment: str) -> re.Pattern[str]:
    pieces = [re.escape(p) for p in _PARAM.split(segment)[::2]]
    return re.compile("(.+?)".join(pieces) + r"\Z")


def _collect_values(op: _Operation, paths: list[str]) -> None:
    parts = [s for s in op.template.split("/") if s]
    slots = [(i, _PARAM.findall(s), _segment_regex(s)) for i, s in enumerate(parts) if "{" in s]
    for path in paths:
        segments = [s for s in path.split("/") if s]
        if len(segments) != len(parts):
            continue
        for i, names, regex in slots:
            found = regex.match(segments[i])
            if not found:
                continue
            for name, value in zip(names, found.groups(), strict=False):
                if len(op.values[name]) < MAX_VALUES:
                    op.values[name].add(value)


def _scheme_for(kind: str, location: str, name: str) -> tuple[str, dict[str, Any]]:
    """(component name, security scheme) for a credential as it travelled."""
    lowered = name.lower()
    if location == "header" and lowered in ("authorization", "proxy-authorization"):
        if kind == "basic":
            return "basicAuth", {"type": "http", "scheme": "basic"}
        if kind == "digest":
            return "digestAuth", {"type": "http", "scheme": "digest"}
        if kind.startswith("aws"):
            return "awsSigV4", {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "AWS Signature Version 4 (observed)",
            }
        if kind == "jwt":
            return "bearerJWT", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        return "bearerAuth", {"type": "http", "scheme": "bearer"}
    where = location if location in ("header", "query", "cookie") else "header"
    safe = _COMPONENT_NAME.sub("_", name) or "credential"
    return f"{where}_{safe}", {"type": "apiKey", "in": where, "name": name}


def _load(store: Store, host: str) -> tuple[list[_Operation], dict[str, dict[str, Any]], bool]:
    conn = store.conn
    ops: dict[int, _Operation] = {}
    for row in conn.execute(
        "SELECT ep.id, ep.method, ep.template, ep.status, ep.requests, ep.first_seen, "
        "ep.last_seen, ep.statuses, s.title FROM endpoints ep "
        "LEFT JOIN spec_operations so ON so.id = ep.spec_operation_id "
        "LEFT JOIN specs s ON s.id = so.spec_id "
        "WHERE ep.host = ? AND ep.status != 'orphan' "
        "AND (ep.protocol IS NULL OR ep.protocol = 'grpc') "  # gRPC-only ones: left out below
        "ORDER BY ep.template, ep.method",
        (host,),
    ):
        ops[row[0]] = _Operation(
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8]
        )
    paths: dict[int, list[str]] = defaultdict(list)
    for endpoint_id, path in conn.execute(
        "SELECT endpoint_id, path FROM exchanges WHERE host = ? AND endpoint_id IS NOT NULL "
        "GROUP BY endpoint_id, path",
        (host,),
    ):
        if endpoint_id in ops and len(paths[endpoint_id]) < MAX_VALUES * 4:
            paths[endpoint_id].append(path)
    for endpoint_id, op_paths in paths.items():
        _collect_values(ops[endpoint_id], op_paths)
    tls = False
    for endpoint_id, names, req_type, resp_type, status, over_tls, count in conn.execute(
        "SELECT endpoint_id, query_names, request_content_type, response_content_type, status, "
        "MAX(tls), COUNT(*) FROM exchanges WHERE host = ? AND endpoint_id IS NOT NULL "
        "GROUP BY endpoint_id, query_names, request_content_type, response_content_type, status",
        (host,),
    ):
        op = ops.get(endpoint_id)
        if op is None:
            continue
        tls = tls or bool(over_tls)
        for name in json.loads(names or "[]"):
            op.query[str(name)] += count
        if req_type:
            op.request_types[_media_type(req_type)] += count
        if resp_type and status is not None:
            op.response_types[str(status)][_media_type(resp_type)] += count
    schemes: dict[str, dict[str, Any]] = {}
    for endpoint_id, kind, location, name, count in conn.execute(
        "SELECT e.endpoint_id, c.kind, ec.location, ec.name, COUNT(*) FROM exchanges e "
        "JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        "JOIN credentials c ON c.id = ec.credential_id "
        "WHERE e.host = ? AND e.endpoint_id IS NOT NULL "
        "GROUP BY e.endpoint_id, c.kind, ec.location, ec.name",
        (host,),
    ):
        op = ops.get(endpoint_id)
        if op is None or kind == "zeek_hmac":
            continue
        scheme_name, scheme = _scheme_for(kind, location, name)
        schemes.setdefault(scheme_name, scheme)
        op.schemes[scheme_name] += count
        if location == "query":
            op.credential_params.add(name)
    for endpoint_id, count in conn.execute(
        "SELECT e.endpoint_id, COUNT(*) FROM exchanges e WHERE e.host = ? AND "
        "e.endpoint_id IS NOT NULL AND e.status BETWEEN 200 AND 399 AND NOT EXISTS "
        "(SELECT 1 FROM exchange_credentials ec WHERE ec.exchange_id = e.id) "
        "GROUP BY e.endpoint_id",
        (host,),
    ):
        if endpoint_id in ops:
            ops[endpoint_id].anonymous = count
    return list(ops.values()), schemes, tls


def _media_type(value: str) -> str:
    media = value.split(";", 1)[0].strip().lower()
    return (
        media
        if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+*-]+", media)
        else "application/octet-stream"
    )


def _safe_template(template: str) -> str:
    """A template as an OpenAPI path key: literal braces or odd characters percent-encoded."""
    out = []
    for segment in template.split("/"):
        pieces = _PARAM.split(segment)
        rebuilt = []
        for i, piece in enumerate(pieces):
            if i % 2:
                rebuilt.append("{" + piece + "}")
            else:
                rebuilt.append(piece.replace("{", "%7B").replace("}", "%7D"))
        out.append("".join(rebuilt))
    path = "/".join(out)
    return path if path.startswith("/") else "/" + path


def _operation_id(method: str, template: str, used: set[str]) -> str:
    words = re.findall(r"[A-Za-z0-9]+", template.replace("{", " by ").replace("}", " "))
    base = method.lower() + "".join(w[:1].upper() + w[1:] for w in words) or method.lower()
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}{n}"
    used.add(name)
    return name


def _responses(op: _Operation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in sorted(op.statuses):
        if not (code.isdigit() and len(code) == 3 and code[0] in "12345"):
            continue
        n = op.statuses[code]
        entry: dict[str, Any] = {
            "description": f"{_STATUS_TEXT.get(code[0], 'informational')}: observed {n} times"
        }
        media = op.response_types.get(code)
        if media:
            entry["content"] = {m: {} for m in sorted(media)}
        out[code] = entry
    if not out:
        out["default"] = {"description": "no response was observed"}
    return out


def _operation(op: _Operation, used_ids: set[str]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": value_schema(op.values.get(name, set())),
        }
        for name in dict.fromkeys(_PARAM.findall(op.template))
    ]
    for name, count in sorted(op.query.items()):
        if name in op.credential_params:
            continue
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": count >= op.requests > 0,
                "schema": {"type": "string"},
            }
        )
    body: dict[str, Any] = {"operationId": _operation_id(op.method, op.template, used_ids)}
    if op.status == "zombie":
        body["deprecated"] = True
    if parameters:
        body["parameters"] = parameters
    if op.request_types and op.method not in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
        body["requestBody"] = {"content": {m: {} for m in sorted(op.request_types)}}
    body["responses"] = _responses(op)
    # one alternative per scheme seen; {} when calls also succeeded without any credential;
    # [] (public) when no credential was ever seen
    security: list[dict[str, list[str]]] = [{name: []} for name in sorted(op.schemes)]
    if security and op.anonymous:
        security.append({})
    body["security"] = security
    body["x-ir-console"] = {
        "classification": op.status,
        "documented_in": op.spec,
        "requests": op.requests,
        "first_seen": iso(op.first),
        "last_seen": iso(op.last),
        "statuses": op.statuses,
        "unauthenticated_successes": op.anonymous,
        "credential_requests": dict(sorted(op.schemes.items())),
    }
    return body


def _grpc_only(op: _Operation) -> bool:
    """Every request of the endpoint was a gRPC call (its content type says so)."""
    return bool(op.request_types) and all(
        t.startswith("application/grpc") for t in op.request_types
    )


def export_host(store: Store, host: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one host's observed traffic."""
    host = host.lower()
    ops, schemes, tls = _load(store, host)
    if not ops:
        graphql = store.conn.execute(
            "SELECT 1 FROM endpoints WHERE host = ? AND protocol = 'graphql' LIMIT 1", (host,)
        ).fetchone()
        if graphql is not None:
            raise SubjectNotFound(
                f"host {host!r} has only GraphQL operations: `ir-console graphql export "
                f"--host {host}` writes them as SDL"
            )
        raise SubjectNotFound(f"no observed endpoint on host {host!r} (see `ir-console hosts`)")
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    grpc = [op for op in ops if _grpc_only(op)]  # gRPC methods: exported by `grpc export`
    ops = [op for op in ops if not _grpc_only(op)]
    if not ops:
        raise SubjectNotFound(
            f"host {host!r} has only gRPC methods ({len(grpc)}): see `ir-console grpc export`"
        )
    for op in ops:
        if op.method.lower() not in (
            "get",
            "put",
            "post",
            "delete",
            "options",
            "head",
            "patch",
            "trace",
        ):
            continue  # OpenAPI has no place for other methods (PROPFIND, …)
        item = paths.setdefault(_safe_template(op.template), {})
        item[op.method.lower()] = _operation(op, used)
    counts = Counter(op.status for op in ops)
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{host}: observed API",
            "version": "observed",
            "description": "Generated by ir-console from observed traffic. Paths are templates "
            "inferred (or taken from the specs in the case); no observed value is included.",
        },
        "servers": [{"url": f"{'https' if tls else 'http'}://{host}"}],
        "paths": paths,
        "x-ir-console": {
            "host": host,
            "endpoints": dict(sorted(counts.items())),
            "first_seen": iso(min((o.first for o in ops if o.first is not None), default=None)),
            "last_seen": iso(max((o.last for o in ops if o.last is not None), default=None)),
        },
    }
    if schemes:
        doc["components"] = {"securitySchemes": dict(sorted(schemes.items()))}
    return doc
