"""The observed gRPC methods as a list (``ir-console grpc export``): what OpenAPI has no place for.

A method is an endpoint whose requests carried a gRPC content type; per method: its service and
name, classification against the descriptors in the case, requests, times, outcomes by
``grpc-status`` name (``exchanges.outcome``; in a case ingested before it was stored, read
from the error text each call kept), the gRPC flavours seen (``grpc``, ``grpc-web``...) and the metadata that
carried credentials (kind and header name; never a value).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.rows import EndpointRow, GrpcMethod
from discovery.wire.grpc import HTTP_STATUS, STATUS_NAMES, is_service_name

_GRPC = "e.request_content_type LIKE 'application/grpc%'"


def _outcome(status: int | None, error: str | None) -> str:
    """An exchange's gRPC outcome: the code's name, from what the pipeline stored."""
    if error:
        for part in error.split("; "):
            if part.startswith("grpc-status "):
                words = part.split(" ")
                return words[2] if len(words) > 2 else "UNKNOWN"
        if "without grpc-status" in error:
            return "NO_STATUS"
    if status is None:
        return "NO_RESPONSE"
    return "OK" if status == 200 else f"HTTP_{status}"


def _flavour(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.removeprefix("application/")


def grpc_methods(store: Store, host: str | None = None) -> list[dict[str, Any]]:
    """Every observed gRPC method (of ``host``, or all), ordered by host and path."""
    conn = store.conn
    where, args = (f"{_GRPC} AND e.host = ?", (host.lower(),)) if host else (_GRPC, ())
    per: dict[int, dict[str, Any]] = {}
    for endpoint_id, content_type, protocol, outcome, status, error, count in conn.execute(
        "SELECT e.endpoint_id, e.request_content_type, e.protocol, e.outcome, e.status, "
        f"e.error, COUNT(*) FROM exchanges e WHERE e.endpoint_id IS NOT NULL AND {where} "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        args,
    ):
        entry = per.setdefault(endpoint_id, {"outcomes": Counter(), "flavours": set()})
        if protocol == "grpc" and outcome:  # the grpc-status name the pipeline stored
            entry["outcomes"][outcome] += count
        else:  # a case ingested before outcomes were stored: read from its error text
            entry["outcomes"][_outcome(status, error)] += count
        entry["flavours"].add(_flavour(content_type))
    if not per:
        return []
    marks = ",".join("?" * len(per))
    ids = list(per)
    rows: list[dict[str, Any]] = []
    metadata: dict[int, set[tuple[str, str]]] = {}
    for endpoint_id, kind, name in conn.execute(
        "SELECT DISTINCT e.endpoint_id, c.kind, ec.name FROM exchanges e "
        "JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        "JOIN credentials c ON c.id = ec.credential_id "
        f"WHERE ec.location = 'header' AND e.endpoint_id IN ({marks})",
        ids,
    ):
        metadata.setdefault(endpoint_id, set()).add((kind, name))
    for endpoint_id, h, template, status, requests, first, last, title, deprecated in conn.execute(
        "SELECT ep.id, ep.host, ep.template, ep.status, ep.requests, ep.first_seen, "
        "ep.last_seen, s.title, so.deprecated FROM endpoints ep "
        "LEFT JOIN spec_operations so ON so.id = ep.spec_operation_id "
        "LEFT JOIN specs s ON s.id = so.spec_id "
        f"WHERE ep.id IN ({marks}) ORDER BY ep.host, ep.template",
        ids,
    ):
        entry = per[endpoint_id]
        service, _, method = template.lstrip("/").partition("/")
        rows.append(
            {
                "host": h,
                "path": template,
                "service": service,
                "method": method,
                "status": status,
                "requests": requests,
                "first_seen": iso(first),
                "last_seen": iso(last),
                "outcomes": dict(entry["outcomes"].most_common()),
                "protocols": sorted(entry["flavours"]),
                "metadata_credentials": [
                    {"kind": k, "name": n} for k, n in sorted(metadata.get(endpoint_id, ()))
                ],
                "spec": title,
                "deprecated": bool(deprecated),
            }
        )
    return rows


def dumps_methods(rows: list[dict[str, Any]]) -> str:
    """The export's text: one JSON list."""
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def _names_of(status: str) -> str:
    """The status names a stored HTTP status stands for in a gRPC call ("OK", "403
    PERMISSION_DENIED", "500 UNKNOWN|INTERNAL|DATA_LOSS"); other statuses as they are."""
    names = [STATUS_NAMES[i] for i, code in enumerate(HTTP_STATUS) if str(code) == status]
    if not names:
        return f"HTTP {status}"
    if names == ["OK"]:
        return "OK"
    return f"{status} {'|'.join(names)}"


def grpc_method(store: Store, endpoint: EndpointRow) -> GrpcMethod | None:
    """The gRPC facts of an endpoint whose template is a method path and whose calls carried
    a gRPC content type (one indexed look-up), else None."""
    parts = endpoint.template.split("/")
    if len(parts) != 3 or parts[0] != "" or not is_service_name(parts[1]):
        return None
    found = store.conn.execute(
        "SELECT 1 FROM exchanges e WHERE e.endpoint_id = ? AND " + _GRPC + " LIMIT 1",
        (endpoint.id,),
    ).fetchone()
    if found is None:
        return None
    outcomes: Counter[str] = Counter()
    if endpoint.protocol == "grpc":  # the grpc-status names the calls were stored with
        outcomes.update(endpoint.outcomes)
    else:  # a case ingested before outcomes were stored: named from the HTTP statuses
        for status, count in endpoint.statuses.items():
            outcomes[_names_of(status)] += count
    return GrpcMethod(parts[1], parts[2], tuple(outcomes.most_common()))
