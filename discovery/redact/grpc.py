"""What a gRPC call stores: its outcome and what its messages hold, never the messages.

The outcome is ``grpc-status``: a call answered HTTP 200 with a non-zero status failed, so the
stored status is the HTTP status google/rpc/code.proto gives the code (PERMISSION_DENIED 403,
UNAUTHENTICATED 401, INTERNAL 500...) and every count of successes, failures and refusals
reads a gRPC call as it reads an HTTP one; the code and its name are kept in ``error``
("grpc-status 7 PERMISSION_DENIED (HTTP 200)"; ``grpc-message`` is not kept: servers echo
request text in it). A response that is not HTTP 200 keeps its HTTP status.

The response's messages are read without a schema (``discovery.wire.protobuf``) and the text
inside goes through the sensitive-data scan; metadata (``authorization``, ``x-api-key``...) is
headers, read by the credential detectors as every request's are.
"""

from __future__ import annotations

from discovery.models import Headers, ObservedExchange
from discovery.redact.sensitive import scan_text
from discovery.wire.grpc import (
    grpc_kind,
    http_status,
    parse_status,
    payloads,
    status_name,
    web_text,
    web_trailers,
)
from discovery.wire.protobuf import Scan, scan_message

__all__ = ["GrpcCall", "grpc_call", "grpc_kind"]


class GrpcCall:
    """The stored facts of one gRPC call."""

    __slots__ = ("anomalies", "code", "error", "sensitive", "status")

    def __init__(
        self,
        status: int | None,
        code: int | None,
        error: str | None,
        sensitive: tuple[tuple[str, int], ...],
        anomalies: tuple[str, ...],
    ) -> None:
        self.status = status
        self.code = code
        self.error = error
        self.sensitive = sensitive
        self.anomalies = anomalies


def _first(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _code(obs: ObservedExchange, kind: str) -> int | None:
    code = parse_status(_first(obs.response_headers, "grpc-status"))
    if code is None and kind != "grpc" and obs.response_body:
        body = web_text(obs.response_body) if kind == "grpc-web-text" else obs.response_body
        code = parse_status(_first(tuple(web_trailers(body)), "grpc-status"))
    return code


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
    scan = Scan()
    messages, problem = payloads(
        obs.response_body, _first(obs.response_headers, "grpc-encoding"), kind
    )
    if problem:
        anomalies.append(f"grpc_message_unread: {problem}")
    as_json = "+json" in content_type.lower()
    for payload, complete in messages:
        if as_json:
            scan.strings.append(payload.decode("utf-8", "replace"))
        else:
            scan_message(payload, complete, scan)
    if scan.cut:
        anomalies.append(f"protobuf_cut: {scan.cut}")
    counts = scan_text("\n".join(scan.strings)) if scan.strings else {}
    return GrpcCall(status, code, error, tuple(sorted(counts.items())), tuple(anomalies))
