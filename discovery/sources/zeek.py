"""Zeek ``http.log`` and ``ssl.log``, TSV (with the ``#fields`` header) or JSON (one object a line).

Zeek sees no raw headers, so credentials come from what it logs: the Basic-auth username (and the
password when a deployment enables ``HTTP::default_capture_password``), and, when our policy script
``discovery/zeek/ir_console_credentials.zeek`` runs, ``irc_cred_hmacs``: an HMAC-SHA256 of each
credential header under the *deployment's* key. Those digests are not comparable with the case's
fingerprints, so they enter the case as kind ``zeek_hmac`` in their own namespace (``zeek-hmac``).
``ssl.log`` entries are opaque TLS connections known by their SNI (``server_name``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from discovery.errors import InputError
from discovery.models import ObservedExchange, PrecomputedCredential
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)

HMAC_FIELD = "irc_cred_hmacs"
HMAC_NAMESPACE = "zeek-hmac"
BASIC_USER_NAMESPACE = "zeek-basic-user"
PROGRESS_EVERY = 4096
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
_HEX = re.compile(r"^[0-9a-f]{64}$")

Record = Mapping[str, Any]


class _BadRecord(ValueError):
    """A record that cannot become an exchange."""


def hmac_pads(key: bytes) -> tuple[str, str]:
    """The HMAC-SHA256 inner and outer pads of a deployment key, as hex for the Zeek script's
    ``IRConsole::ipad_hex`` / ``opad_hex`` (Zeek script has no byte XOR, so they are precomputed)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def _unescape(value: str) -> str:
    """Zeek's ``\\xHH`` escapes back to bytes, decoded as UTF-8 (bad bytes kept as escapes)."""
    if "\\x" not in value:
        return value
    raw = _ESCAPE.sub(
        lambda m: bytes([int(m.group(1), 16)]), value.encode("utf-8", "surrogateescape")
    )
    return raw.decode("utf-8", "surrogateescape")


def _ts(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise _BadRecord(f"bad ts {value!r}")


def _str(record: Record, name: str) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    return str(value)


def _int(record: Record, name: str) -> int | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadRecord(f"{name} is not a number: {value!r}") from None


def _list(record: Record, name: str) -> list[str]:
    value = record.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _cred_hmacs(record: Record, host: str | None, user: str | None) -> list[PrecomputedCredential]:
    """Our policy script's ``name:scheme:hmac`` entries as precomputed credentials."""
    out = []
    for item in _list(record, HMAC_FIELD):
        name, _, rest = item.partition(":")
        scheme, _, digest = rest.rpartition(":")
        digest = digest.lower()
        if not name or not _HEX.match(digest):
            raise _BadRecord(f"{HMAC_FIELD} entry is not name:scheme:hmac-sha256-hex: {item!r}")
        basic = scheme.lower() == "basic" and user is not None
        out.append(
            PrecomputedCredential(
                namespace=HMAC_NAMESPACE,
                digest=digest,
                kind="zeek_hmac",
                location="header",
                name=name.lower(),
                redacted=f"{user}:…"
                if basic
                else f"{scheme.lower() or name.lower()} hmac …{digest[-6:]}",
                public_id=user if basic else None,
                identity=f"basic:{user}@{host or '?'}" if basic else None,
                identity_kind="basic" if basic else None,
                claims=(
                    ("scheme", scheme.lower()),
                    ("header", name.lower()),
                    ("keyed_by", "zeek deployment key"),
                ),
            )
        )
    return out


def http_record(record: Record, where: str) -> ObservedExchange:
    """One http.log record as an observed exchange (cleartext HTTP as Zeek parsed it)."""
    method = _str(record, "method")
    if method is None:
        raise _BadRecord("no method")
    server_ip, server_port = _str(record, "id.resp_h"), _int(record, "id.resp_p")
    host = _str(record, "host")
    if host is None and server_ip is not None:
        host = server_ip if server_port in (None, 80) else f"{server_ip}:{server_port}"
    headers: list[tuple[str, str]] = []
    for field, header in (
        ("user_agent", "User-Agent"),
        ("referrer", "Referer"),
        ("origin", "Origin"),
    ):
        value = _str(record, field)
        if value is not None:
            headers.append((header, value))
    user, password = _str(record, "username"), _str(record, "password")
    extra = _cred_hmacs(record, host, user)
    if user is not None and password is not None:
        # the deployment logs passwords: rebuild the header in memory so the normal detector
        # fingerprints it under the case key, like the same credential seen in a capture
        token = base64.b64encode(f"{user}:{password}".encode("utf-8", "surrogateescape"))
        headers.append(("Authorization", "Basic " + token.decode()))
    elif user is not None and not any(pc.public_id == user for pc in extra):
        extra.append(
            PrecomputedCredential(
                namespace=BASIC_USER_NAMESPACE,
                digest=f"{user}@{host or '?'}",
                kind="basic_user",
                location="header",
                name="authorization",
                redacted=f"{user}:…",
                public_id=user,
                identity=f"basic:{user}@{host or '?'}",
                identity_kind="basic",
                claims=(("note", "Zeek logged the Basic username only"),),
            )
        )
    orig_types, resp_types = _list(record, "orig_mime_types"), _list(record, "resp_mime_types")
    if orig_types:
        headers.append(("Content-Type", orig_types[0]))
    uid = _str(record, "uid") or "?"
    depth = _str(record, "trans_depth")
    status = _int(record, "status_code")
    return ObservedExchange(
        ts=_ts(record.get("ts")),
        source="zeek",
        evidence=f"uid {uid}" + (f"#{depth}" if depth else "") + f" ({where})",
        client_ip=_str(record, "id.orig_h"),
        client_port=_int(record, "id.orig_p"),
        server_ip=server_ip,
        server_port=server_port,
        http_version=_str(record, "version"),
        method=method,
        target=_str(record, "uri") or "/",
        host=host,
        status=status if status else None,
        request_headers=tuple(headers),
        response_headers=(("Content-Type", resp_types[0]),) if resp_types else (),
        request_bytes=_int(record, "request_body_len") or 0,
        response_bytes=_int(record, "response_body_len") or 0,
        extra=tuple(extra),
    )


def ssl_record(record: Record, where: str) -> ObservedExchange:
    """One ssl.log record: an opaque TLS connection, known by its SNI."""
    sni = _str(record, "server_name")
    server_ip = _str(record, "id.resp_h")
    established = record.get("established")
    failed = established is False or established == "F"
    return ObservedExchange(
        ts=_ts(record.get("ts")),
        source="zeek",
        evidence=f"uid {_str(record, 'uid') or '?'} ({where})",
        client_ip=_str(record, "id.orig_h"),
        client_port=_int(record, "id.orig_p"),
        server_ip=server_ip,
        server_port=_int(record, "id.resp_p"),
        tls=True,
        sni=sni,
        alpn=_str(record, "next_protocol"),
        ja4=_str(record, "ja4"),
        host=sni or server_ip,
        error="TLS handshake not established" if failed else None,
    )


_CONVERTERS = {"http": http_record, "ssl": ssl_record}


def _kind_of(record: Record, declared: str | None) -> str | None:
    path = declared or _str(record, "_path")
    if path:
        return path
    if "method" in record or "uri" in record:
        return "http"
    if "server_name" in record or "cipher" in record:
        return "ssl"
    return None


def _convert(
    record: Record, kind: str | None, where: str, path: Path, stats: IngestStats
) -> ObservedExchange | None:
    converter = _CONVERTERS.get(kind or "")
    if converter is None:
        stats.skip(f"zeek_{kind or 'unknown'}_record")
        return None
    try:
        return converter(record, where)
    except _BadRecord as exc:
        stats.skip(f"bad_{kind}_record", f"{path} ({where}): {exc}")
        return None


def _tsv(
    path: Path, lines: Iterator[tuple[int, bytes]], stats: IngestStats
) -> Iterator[ObservedExchange]:
    sep, set_sep, empty, unset = "\t", ",", "(empty)", "-"
    fields: list[str] | None = None
    kind: str | None = None
    for number, raw in lines:
        line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#separator"):
                sep = _unescape(line.split(" ", 1)[1]) if " " in line else "\t"
                continue
            key, _, value = line.partition(sep)
            if key == "#set_separator":
                set_sep = _unescape(value)
            elif key == "#empty_field":
                empty = value
            elif key == "#unset_field":
                unset = value
            elif key == "#path":
                kind = value
            elif key == "#fields":
                fields = value.split(sep)
            continue
        if fields is None:
            raise InputError(
                str(path), "Zeek TSV data before its #fields header", where=f"line {number}"
            )
        values = line.split(sep)
        if len(values) != len(fields):
            stats.skip(
                "bad_zeek_line",
                f"{path} (line {number}): expected {len(fields)} fields, got {len(values)}",
            )
            continue
        record: dict[str, Any] = {}
        for name, value in zip(fields, values, strict=True):
            if value == unset:
                record[name] = None
            elif value == empty:
                record[name] = []
            elif name in (HMAC_FIELD, "orig_mime_types", "resp_mime_types"):
                record[name] = [_unescape(v) for v in value.split(set_sep)]
            else:
                record[name] = _unescape(value)
        if record.get("established") in ("T", "F"):
            record["established"] = record["established"] == "T"
        stats.flows += 1
        observed = _convert(record, kind, f"line {number}", path, stats)
        if observed is not None:
            yield observed


def _json_lines(
    path: Path, lines: Iterator[tuple[int, bytes]], stats: IngestStats
) -> Iterator[ObservedExchange]:
    for number, raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            stats.skip("bad_zeek_line", f"{path} (line {number}): not valid JSON ({exc})")
            continue
        if not isinstance(record, dict):
            stats.skip("bad_zeek_line", f"{path} (line {number}): not a JSON object")
            continue
        stats.flows += 1
        observed = _convert(record, _kind_of(record, None), f"line {number}", path, stats)
        if observed is not None:
            yield observed


def read(
    path: Path, stats: IngestStats, progress: Progress | None = None
) -> Iterator[ObservedExchange]:
    """Yield one observed exchange per http.log or ssl.log record (TSV or JSON lines)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        head = handle.read(4096).lstrip()
        handle.seek(0)
        lines = _numbered(handle, progress)
        if head.startswith(b"#"):
            yield from _tsv(path, lines, stats)
        elif head.startswith(b"{"):
            yield from _json_lines(path, lines, stats)
        elif not head:
            raise InputError(str(path), "empty Zeek log")
        else:
            raise InputError(
                str(path), "not a Zeek log (neither #fields TSV nor JSON lines)", where="line 1"
            )
        if progress:
            progress(handle.tell())


def _numbered(handle: BinaryIO, progress: Progress | None) -> Iterator[tuple[int, bytes]]:
    """Lines with their numbers, reporting bytes consumed every few thousand lines."""
    consumed = 0
    for number, raw in enumerate(handle, start=1):
        consumed += len(raw)
        if progress and number % PROGRESS_EVERY == 0:
            progress(consumed)
        yield number, raw
