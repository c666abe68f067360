"""gRPC calls on HTTP: recognised by content type, their messages and their status.

gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md): a request with ``content-type:
application/grpc`` (``+proto``, ``+json``, parameters) to ``/package.Service/Method``; each
message is length-prefixed (1 byte flags, bit 0 = compressed with ``grpc-encoding``; 4 bytes
big-endian length); the outcome is ``grpc-status`` in the trailers (or in the headers of a
trailers-only response). gRPC-Web (grpc/doc/PROTOCOL-WEB.md), over HTTP/1.1 too:
``application/grpc-web`` (``+proto``...), or ``application/grpc-web-text`` whose body is base64
(segments, each padded); its trailers travel in the body as a last frame whose flags have bit 7
set, holding HTTP/1-style header lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from discovery.wire.bodies import decode_body
from discovery.wire.protobuf import Scan, scan_message

MAX_MESSAGES: Final = 64  # messages read at most from one body prefix
STATUS_NAMES: Final = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
# The HTTP status of each code, as google/rpc/code.proto documents it (and grpc-gateway maps
# it): a refusal reads as a refusal (7 -> 403, 16 -> 401), a failure as a failure.
HTTP_STATUS: Final = (
    200,
    499,
    500,
    400,
    504,
    404,
    409,
    403,
    429,
    400,
    409,
    400,
    501,
    500,
    503,
    500,
    401,
)


# A service's full name as gRPC paths carry it: protobuf identifiers joined by dots, the service
# itself PascalCase as every style guide and generator writes it ("lab.v1.Accounts").
_SERVICE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\.)+[A-Z][A-Za-z0-9_]*")


def is_service_name(segment: str) -> bool:
    """True for a path segment shaped like a gRPC service's full name (``package.Service``)."""
    return len(segment) < 256 and _SERVICE.fullmatch(segment) is not None


def grpc_kind(content_type: str | None) -> str | None:
    """ "grpc", "grpc-web" or "grpc-web-text" for a gRPC content type; None otherwise."""
    if content_type is None or len(content_type) < 16:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if not media.startswith("application/grpc"):
        return None
    rest = media[16:]
    if rest.startswith("-web-text"):
        tail, kind = rest[9:], "grpc-web-text"
    elif rest.startswith("-web"):
        tail, kind = rest[4:], "grpc-web"
    else:
        tail, kind = rest, "grpc"
    return kind if not tail or tail.startswith("+") else None


def status_name(code: int) -> str:
    """The name of a status code ("PERMISSION_DENIED"); "CODE_n" for one past the table."""
    return STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else f"CODE_{code}"


def http_status(code: int) -> int:
    """The HTTP status a gRPC status code corresponds to (unknown codes: 500, as UNKNOWN)."""
    return HTTP_STATUS[code] if 0 <= code < len(HTTP_STATUS) else 500


def parse_status(value: str | None) -> int | None:
    """A ``grpc-status`` value as its code (a non-negative decimal), else None."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def web_text(body: bytes) -> bytes:
    """A grpc-web-text body decoded: base64 segments (each may end with padding) in turn; an
    undecodable rest is dropped (a prefix may end inside a segment)."""
    out = bytearray()
    data = b"".join(body.split())
    pos, size = 0, len(data)
    while pos < size:
        pad = data.find(b"=", pos)
        if pad < 0:
            stop = size - (size - pos) % 4
        else:
            stop = pad
            while stop < size and data[stop] == 0x3D:  # "="
                stop += 1
        try:
            out += base64.b64decode(data[pos:stop], validate=True)
        except (binascii.Error, ValueError):
            break
        if stop <= pos:
            break
        pos = stop
    return bytes(out)


def frames(body: bytes) -> tuple[list[tuple[int, bytes, bool]], bool]:
    """The length-prefixed frames of a body prefix: ([(flags, payload, complete)], malformed).

    The last frame may be cut by the prefix (``complete`` False). At most ``MAX_MESSAGES``.
    """
    out: list[tuple[int, bytes, bool]] = []
    pos, size = 0, len(body)
    while pos < size and len(out) < MAX_MESSAGES:
        if size - pos < 5:
            return out, False  # a prefix cut inside the frame header
        flags = body[pos]
        if flags & 0x7E:  # bits 1-6 are reserved
            return out, True
        length = int.from_bytes(body[pos + 1 : pos + 5], "big")
        start = pos + 5
        stop = start + length
        out.append((flags, body[start:stop], stop <= size))
        pos = stop
    return out, False


def web_trailers(body: bytes) -> list[tuple[str, str]]:
    """The trailers a gRPC-Web response carries in its body (its frame with bit 7 set)."""
    for flags, payload, _complete in frames(body)[0]:
        if flags & 0x80:
            out: list[tuple[str, str]] = []
            for line in payload.decode("latin-1").split("\n"):
                name, sep, value = line.partition(":")
                if sep:
                    out.append((name.strip().lower(), value.strip()))
            return out
    return []


def payloads(
    body: bytes, encoding: str | None, kind: str
) -> tuple[list[tuple[bytes, bool]], str | None]:
    """The messages of a body prefix, decompressed (bounded) where flagged:
    ([(message, complete)], the reason some were not read or None)."""
    if kind == "grpc-web-text":
        body = web_text(body)
    found, malformed = frames(body)
    out: list[tuple[bytes, bool]] = []
    problem = "gRPC frame with reserved flags" if malformed else None
    for flags, payload, complete in found:
        if flags & 0x80:
            continue  # gRPC-Web trailers
        if flags & 1:
            if not encoding or encoding.strip().lower() == "identity":
                problem = problem or "gRPC message flagged compressed without grpc-encoding"
                continue
            if not complete:
                continue  # a cut compressed message does not decode
            payload, reason = decode_body(payload, encoding)
            if reason is not None:
                problem = problem or f"gRPC message not decompressed: {reason}"
                continue
            complete = True
        out.append((payload, complete))
    return out, problem


def message_texts(
    body: bytes, encoding: str | None, kind: str, as_json: bool
) -> tuple[list[tuple[str, str]], list[str]]:
    """The text inside the messages of a body prefix, never kept: ([(where, text)], reading
    anomalies). A protobuf message is read without its schema (each string field with its
    field path, "1.3"); a ``+json`` message is one text ("json")."""
    anomalies: list[str] = []
    messages, problem = payloads(body, encoding, kind)
    if problem:
        anomalies.append(f"grpc_message_unread: {problem}")
    if as_json:
        return [("json", m.decode("utf-8", "replace")) for m, _ in messages], anomalies
    scan = Scan()
    for payload, complete in messages:
        scan_message(payload, complete, scan)
    if scan.cut:
        anomalies.append(f"protobuf_cut: {scan.cut}")
    return list(zip(scan.paths, scan.strings, strict=True)), anomalies
