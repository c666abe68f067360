"""What a gRPC call stores: its outcome and what its messages hold, never the messages.

The outcome is ``grpc-status``, stored by name in ``outcome`` ("OK", "INTERNAL", "DATA_LOSS"...:
codes that share an HTTP status stay apart), with ``protocol`` "grpc". A call answered HTTP 200
with a non-zero status failed, so the stored ``status`` is the HTTP status google/rpc/code.proto
gives the code (PERMISSION_DENIED 403, UNAUTHENTICATED 401, INTERNAL 500...) and every count of
successes, failures and refusals reads a gRPC call as it reads an HTTP one; the code and its
name are also kept in ``error`` ("grpc-status 7 PERMISSION_DENIED (HTTP 200)"; ``grpc-message``
is not kept: servers echo request text in it). A response that is not HTTP 200 keeps its HTTP
status. Without a ``grpc-status`` the outcome says what there was: ``NO_STATUS`` (HTTP 200, no
status seen), ``HTTP_503`` (answered by HTTP alone, a proxy or a server that is not gRPC), or
``NO_RESPONSE``.

Both directions' messages are read without a schema (``discovery.wire.protobuf``): the text in
the response goes through the sensitive-data scan (``sensitive``, as for any response), the
text in the request through it too (kinds only, in ``facts``: ``request_sensitive``); the
request's strings also go through the credential detectors (``credentials.messages``, with the
metadata, which is headers, read as every request's are).
"""

from __future__ import annotations

import json

from discovery.models import Headers, ObservedExchange
from discovery.redact.credentials import header
from discovery.redact.sensitive import scan_text
from discovery.wire.grpc import (
    grpc_kind,
    http_status,
    message_texts,
    parse_status,
    status_name,
    web_text,
    web_trailers,
)

__all__ = ["PROTOCOL", "GrpcCall", "grpc_call", "grpc_kind", "outcome_of"]

PROTOCOL = "grpc"


class GrpcCall:
    """The stored facts of one gRPC call."""

    __slots__ = ("anomalies", "code", "error", "facts", "outcome", "sensitive", "status")

    def __init__(
        self,
        status: int | None,
        code: int | None,
        error: str | None,
        sensitive: tuple[tuple[str, int], ...],
        anomalies: tuple[str, ...],
        outcome: str = "NO_RESPONSE",
        facts: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.error = error
        self.sensitive = sensitive
        self.anomalies = anomalies
        self.outcome = outcome
        self.facts = facts


def _code(obs: ObservedExchange, kind: str) -> int | None:
    code = parse_status(header(obs.response_headers, "grpc-status"))
    if code is None and kind != "grpc" and obs.response_body:
        body = web_text(obs.response_body) if kind == "grpc-web-text" else obs.response_body
        code = parse_status(header(tuple(web_trailers(body)), "grpc-status"))
    return code


def outcome_of(code: int | None, http: int | None) -> str:
    """A call's stored outcome: its status name, else what answered (``NO_STATUS`` for HTTP 200
    without one, ``HTTP_n`` for another HTTP status, ``NO_RESPONSE``)."""
    if code is not None:
        return status_name(code)
    if http is None:
        return "NO_RESPONSE"
    return "NO_STATUS" if http == 200 else f"HTTP_{http}"


def _texts(
    body: bytes, headers: Headers, kind: str, as_json: bool, side: str
) -> tuple[str, list[str]]:
    """The text of one direction's messages, joined, and the reading anomalies (named with
    ``side`` for the request)."""
    if not body:
        return "", []
    texts, anomalies = message_texts(body, header(headers, "grpc-encoding"), kind, as_json)
    if side:
        anomalies = [a.replace(":", f" ({side}):", 1) for a in anomalies]
    return "\n".join(text for _, text in texts), anomalies


def grpc_call(obs: ObservedExchange, kind: str, content_type: str) -> GrpcCall:
    """The outcome, sensitive kinds and reading anomalies of a gRPC call (``kind`` from
    ``grpc_kind`` of its request's ``content_type``; ``+json`` messages are read as text)."""
    anomalies: list[str] = []
    code = _code(obs, kind) if obs.status is not None else None
    status, error = obs.status, None
    if code is not None:
        error = f"grpc-status {code} {status_name(code)}" if code else None
        if obs.status == 200:
            status = http_status(code)
            if error:
                error += " (HTTP 200)"
    elif obs.status == 200 and not obs.partial and not obs.blocked:
        error = "gRPC response without grpc-status"
        anomalies.append("grpc_status_missing")
    as_json = "+json" in content_type.lower()
    text, read = _texts(obs.response_body, obs.response_headers, kind, as_json, "")
    anomalies += read
    counts = scan_text(text) if text else {}
    facts = None
    asked, read = _texts(obs.request_body, obs.request_headers, kind, as_json, "request")
    anomalies += read
    if asked:
        sent = scan_text(asked)
        if sent:
            facts = json.dumps({"request_sensitive": dict(sorted(sent.items()))}, sort_keys=True)
    return GrpcCall(
        status,
        code,
        error,
        tuple(sorted(counts.items())),
        tuple(anomalies),
        outcome_of(code, obs.status),
        facts,
    )
