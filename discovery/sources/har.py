"""HAR 1.2 files (browser devtools, Burp, Charles, Fiddler), tolerant of missing optional fields.

Each entry becomes an exchange; an unusable entry is skipped with a warning naming its JSON
pointer (``/log/entries/7/request/url``); a file that is not a HAR at all (also: JSON nested deeper
than the parser goes, a number of thousands of digits) raises ``InputError``. Values are checked at
the edge (``bounds``): an entry with an implausible time is skipped, an implausible status, port
or size is dropped (the status with the entry marked).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from discovery.errors import InputError
from discovery.models import Headers, ObservedExchange
from discovery.sources import bounds
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)

BODY_LIMIT = 64 * 1024
_VERSIONS = {
    "http/1.0": "1.0",
    "http/1.1": "1.1",
    "http/2": "2",
    "http/2.0": "2",
    "h2": "2",
    "h2c": "2",
    "http/3": "3",
    "http/3.0": "3",
    "h3": "3",
}


class _BadEntry(ValueError):
    """An entry that cannot become an exchange; ``pointer`` is relative to the entry."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(reason)
        self.pointer = pointer


def parse_time(value: object) -> float:
    """HAR ``startedDateTime`` (ISO 8601, with or without offset; UTC when none) as epoch seconds."""
    if not isinstance(value, str) or not value:
        raise _BadEntry("/startedDateTime", "missing or not a string")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _BadEntry("/startedDateTime", f"not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        ts = bounds.timestamp(moment.timestamp())
    except (OverflowError, ValueError):  # e.g. year 1 with an offset that leaves the range
        ts = None
    if ts is None:
        raise _BadEntry("/startedDateTime", f"time out of range (1970-9999): {value!r}")
    return ts


def http_version(value: object) -> str | None:
    """HAR's many spellings of a protocol version (``HTTP/1.1``, ``http/2.0``, ``h3``) as ours."""
    if not isinstance(value, str):
        return None
    return _VERSIONS.get(value.strip().lower())


def _headers(message: Mapping[str, Any], pointer: str) -> tuple[Headers, str | None]:
    """(headers without HTTP/2 pseudo-headers, the :authority value if any)."""
    raw = message.get("headers") or []
    if not isinstance(raw, list):
        raise _BadEntry(f"{pointer}/headers", "not a list")
    out: list[tuple[str, str]] = []
    authority = None
    for item in raw:
        if not isinstance(item, dict):
            continue
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        if name.startswith(":"):
            if name == ":authority":
                authority = value
            continue
        out.append((name, value))
    return tuple(out), authority


def _cookie_header(request: Mapping[str, Any], headers: Headers) -> Headers:
    """Add a Cookie header from ``cookies`` when the producer listed cookies but not the header."""
    if any(k.lower() == "cookie" for k, _ in headers):
        return headers
    pairs = [
        f"{c['name']}={c.get('value', '')}"
        for c in request.get("cookies") or []
        if isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and isinstance(c.get("value", ""), str)
    ]
    return (*headers, ("Cookie", "; ".join(pairs))) if pairs else headers


def _text(holder: Mapping[str, Any] | None, limit: int) -> bytes:
    """A HAR body (``text``, plain or ``encoding: base64``) as bytes, bounded."""
    if not isinstance(holder, dict):
        return b""
    text = holder.get("text")
    if not isinstance(text, str) or not text:
        return b""
    if str(holder.get("encoding", "")).lower() == "base64":
        try:
            return base64.b64decode(text[: (limit * 4 // 3) + 4], validate=False)[:limit]
        except (binascii.Error, ValueError):
            return b""
    return text[:limit].encode("utf-8", "surrogateescape")[:limit]


def _size(*candidates: object) -> int:
    for value in candidates:
        size = bounds.size(value)
        if size is not None:
            return size
    return 0


def entry_to_observed(
    entry: Mapping[str, Any], index: int, body_limit: int = BODY_LIMIT
) -> ObservedExchange:
    """One HAR entry as an observed exchange; raises ``_BadEntry`` naming the bad field."""
    request = entry.get("request")
    if not isinstance(request, dict):
        raise _BadEntry("/request", "missing or not an object")
    method = request.get("method")
    if not isinstance(method, str) or not method.strip():
        raise _BadEntry("/request/method", "missing")
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise _BadEntry("/request/url", "missing")
    try:
        parts = urlsplit(url)
        port = parts.port  # 0-65535, else ValueError
    except ValueError as exc:
        raise _BadEntry("/request/url", f"not a URL: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise _BadEntry("/request/url", "not an absolute http(s) or ws(s) URL")
    ts = parse_time(entry.get("startedDateTime"))
    req_headers, authority = _headers(request, "/request")
    req_headers = _cookie_header(request, req_headers)
    host = (
        authority
        or next((v for k, v in req_headers if k.lower() == "host"), None)
        or parts.netloc.rpartition("@")[2]
    )
    tls = parts.scheme.lower() in ("https", "wss")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    response = entry.get("response")
    response = response if isinstance(response, dict) else {}
    resp_headers, _ = _headers(response, "/response")
    raw_status = response.get("status")
    status = bounds.status(raw_status)
    error = response.get("_error") or response.get("_errorText") or None
    if status is None and not error:
        unset = raw_status in (None, 0, -1) or isinstance(raw_status, bool)
        error = "no response" if unset else f"invalid status code {str(raw_status)[:20]}"
    content = response.get("content")
    request_body = _text(request.get("postData"), body_limit)
    response_body = _text(content if isinstance(content, dict) else None, body_limit)
    server_ip = entry.get("serverIPAddress")
    server_ip = server_ip.strip("[]")[:64] if isinstance(server_ip, str) and server_ip else None
    resource = str(entry.get("_resourceType") or "").lower()
    websocket = (
        resource == "websocket"
        or parts.scheme.lower() in ("ws", "wss")
        or (
            status == 101
            and any(k.lower() == "upgrade" and v.lower() == "websocket" for k, v in resp_headers)
        )
    )
    return ObservedExchange(
        ts=ts,
        source="har",
        evidence=f"entry {index}",
        server_ip=server_ip,
        server_port=port or (443 if tls else 80),
        tls=tls,
        http_version=http_version(request.get("httpVersion") or response.get("httpVersion")),
        method=method.strip().upper(),
        target=target,
        host=host,
        status=status,
        request_headers=req_headers,
        response_headers=resp_headers,
        request_body=request_body,
        response_body=response_body,
        request_bytes=_size(request.get("bodySize"), len(request_body)),
        response_bytes=_size(
            response.get("bodySize"), content.get("size") if isinstance(content, dict) else None
        ),
        error=str(error)[:500] if error else None,
        websocket=websocket,
    )


def read(
    path: Path,
    stats: IngestStats,
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> Iterator[ObservedExchange]:
    """Yield one observed exchange per usable HAR entry (a HAR is read as a whole: ``start``
    must be 0 and ``end`` is not used)."""
    if start:
        raise InputError(str(path), "a HAR file is read as a whole, not from an offset")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "not UTF-8 text", where=f"byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            str(path), f"not valid JSON: {exc.msg}", where=f"line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InputError(str(path), "JSON nested deeper than the parser goes") from exc
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise InputError(str(path), f"not usable JSON: {exc}") from exc
    log_obj = doc.get("log") if isinstance(doc, dict) else None
    entries = log_obj.get("entries") if isinstance(log_obj, dict) else None
    if not isinstance(entries, list):
        raise InputError(str(path), "not a HAR file (no list of entries)", where="/log/entries")
    if progress:
        progress(len(raw))
    for index, entry in enumerate(entries):
        stats.flows += 1
        pointer = f"/log/entries/{index}"
        if not isinstance(entry, dict):
            stats.skip("bad_entry", f"{path} ({pointer}): not an object")
            continue
        try:
            yield entry_to_observed(entry, index)
        except _BadEntry as exc:
            stats.skip("bad_entry", f"{path} ({pointer}{exc.pointer}): {exc}")
