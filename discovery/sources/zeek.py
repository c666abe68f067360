"""Zeek ``http.log``, ``ssl.log`` and ``conn.log``, TSV (with the ``#fields`` header) or JSON (one
object a line).

Zeek sees no raw headers, so credentials come from what it logs: the Basic-auth username (and the
password when a deployment enables ``HTTP::default_capture_password``), and, when our policy script
``discovery/zeek/ir_console_credentials.zeek`` runs, ``irc_cred_hmacs``: an HMAC-SHA256 of each
credential header under the *deployment's* key. Those digests are not comparable with the case's
fingerprints, so they enter the case as kind ``zeek_hmac`` in their own namespace (``zeek-hmac``).
``ssl.log`` entries are opaque TLS connections known by their SNI (``server_name``).
``conn.log`` gives the context of each TCP connection (what Zeek saw of it, whether or not an
``http.log`` or ``ssl.log`` record names it: a TLS connection whose ``ssl.log`` was not shipped,
a rejected or unanswered connection): each becomes an opaque connection to its server address,
with its payload bytes each way and, as its stored facts, its duration, ``conn_state``,
``history`` and ``service``; a connection that was never established carries that as its error.
Other transports (UDP, ICMP) are counted and left out: no API runs over them here.

Values are checked at the edge (``bounds``): a record with an implausible ``ts`` (NaN, infinite,
outside 1970-9999) or port is skipped and counted, an implausible status or size is dropped. A
JSON line nested deeper than the parser goes is skipped like any line that is not valid JSON. A
log that grew since it was read (Zeek's ``current/http.log``) is read on from the first line after
the last whole one read before; a last line without its newline is being written and is left for
the next read.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from discovery.errors import InputError
from discovery.models import CredentialSighting, ObservedExchange, PrecomputedCredential
from discovery.sources import bounds
from discovery.sources.window import open_window
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)

HMAC_FIELD = "irc_cred_hmacs"
HMAC_NAMESPACE = "zeek-hmac"
BASIC_USER_NAMESPACE = "zeek-basic-user"
PROGRESS_EVERY = 4096
# lines per block when children share a log (``read_share``): child ``i`` of ``n`` converts the
# blocks whose number is ``i`` modulo ``n``, so each child's rows come in whole blocks in order
BLOCK_LINES = 512
GZIP_MAGIC = b"\x1f\x8b"
MEMO_SIZE = 16384  # entries kept by the per-process memos before they start over
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
_HEX = re.compile(r"^[0-9a-f]{64}$")
# the TSV fields read as sets or vectors (the others are single values)
_SET_FIELDS = frozenset((HMAC_FIELD, "orig_mime_types", "resp_mime_types"))
_ADDRESS_FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")
# the http.log columns ``_http_tsv`` reads, in this order: the sets last
_HTTP_COLUMNS = (
    *_ADDRESS_FIELDS,
    "trans_depth",
    "method",
    "host",
    "uri",
    "referrer",
    "version",
    "user_agent",
    "origin",
    "request_body_len",
    "response_body_len",
    "status_code",
    "username",
    "password",
    "orig_mime_types",
    "resp_mime_types",
    HMAC_FIELD,
)
_FIRST_SET = len(_HTTP_COLUMNS) - len(_SET_FIELDS)  # the columns from here on are sets
# the TSV columns each kind of log's converter reads (the others are not split into the record)
_USED_FIELDS = {
    "http": frozenset(_HTTP_COLUMNS),
    "ssl": frozenset((*_ADDRESS_FIELDS, "server_name", "established", "next_protocol", "ja4")),
    "conn": frozenset(
        (
            *_ADDRESS_FIELDS,
            "proto",
            "service",
            "duration",
            "conn_state",
            "history",
            "orig_bytes",
            "resp_bytes",
            "orig_pkts",
            "resp_pkts",
            "missed_bytes",
        )
    ),
}

Record = Mapping[str, Any]
# an exchange's stored row as a fast path builds it: ``case.store.PreparedExchange``'s shape
# (its ``exchange_fields``, its time, its credential sightings)
Prepared = tuple[tuple[Any, ...], float, Sequence[CredentialSighting]]
_HMAC_MEMO: dict[tuple[str, str | None, str | None], PrecomputedCredential]
_HMAC_MEMO = {}


class _BadRecord(ValueError):
    """A record that cannot become an exchange."""


class _NotHere(ValueError):
    """A valid record of what the case does not keep (counted under its reason)."""


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
    ts: float | None = None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            ts = float(value)
        elif isinstance(value, str):
            try:
                ts = float(value)
            except ValueError:
                ts = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        ts = None
    checked = None if ts is None else bounds.timestamp(ts)
    if checked is None:
        raise _BadRecord(f"bad ts {str(value)[:40]!r} (a time in 1970-9999)")
    return checked


def _str(record: Record, name: str) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    return str(value)


def _int(record: Record, name: str) -> int | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, float):  # a log shipper may have turned counts into floats
        if not value.is_integer() or abs(value) > bounds.MAX_SIZE:
            raise _BadRecord(f"{name} is not a count: {str(value)[:40]!r}")
        return int(value)
    if isinstance(value, str) and len(value) > 20:
        raise _BadRecord(f"{name} is not a count: {value[:40]!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadRecord(f"{name} is not a number: {str(value)[:40]!r}") from None


def _port(record: Record, name: str) -> int | None:
    value = _int(record, name)
    if value is not None and bounds.port(value) is None:
        raise _BadRecord(f"{name} is not a port: {value}")
    return value


def _size(record: Record, name: str) -> int:
    try:
        value = _int(record, name)
    except _BadRecord:
        return 0
    return bounds.size(value) or 0


def _list(record: Record, name: str) -> list[str]:
    value = record.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _cred_hmacs(record: Record, host: str | None, user: str | None) -> list[PrecomputedCredential]:
    """Our policy script's ``name:scheme:hmac`` entries as precomputed credentials."""
    return [_hmac_entry(item, host, user) for item in _list(record, HMAC_FIELD)]


def _hmac_entry(item: str, host: str | None, user: str | None) -> PrecomputedCredential:
    """One ``name:scheme:hmac`` entry. The same few credentials recur on most records of a log:
    each is built once (``_HMAC_MEMO``), by the entry alone unless the record names a username
    (a Basic pair's identity names the user and the host)."""
    key = (item, host, user) if user is not None else (item, None, None)
    known = _HMAC_MEMO.get(key)
    if known is None:
        known = _parse_hmac(item, host, user)
        if len(_HMAC_MEMO) >= MEMO_SIZE:
            _HMAC_MEMO.clear()
        _HMAC_MEMO[key] = known
    return known


def _parse_hmac(item: str, host: str | None, user: str | None) -> PrecomputedCredential:
    name, _, rest = item.partition(":")
    scheme, _, digest = rest.rpartition(":")
    digest = digest.lower()
    if not name or not _HEX.match(digest):
        raise _BadRecord(f"{HMAC_FIELD} entry is not name:scheme:hmac-sha256-hex: {item!r}")
    basic = scheme.lower() == "basic" and user is not None
    return PrecomputedCredential(
        namespace=HMAC_NAMESPACE,
        digest=digest,
        kind="zeek_hmac",
        location="header",
        name=name.lower(),
        redacted=f"{user}:…" if basic else f"{scheme.lower() or name.lower()} hmac …{digest[-6:]}",
        public_id=user if basic else None,
        identity=f"basic:{user}@{host or '?'}" if basic else None,
        identity_kind="basic" if basic else None,
        claims=(
            ("scheme", scheme.lower()),
            ("header", name.lower()),
            ("keyed_by", "zeek deployment key"),
        ),
    )


class HttpRecord:
    """The values of one http.log record an exchange is made of, checked (``http_values``):
    what ``http_record`` builds its observed exchange from, and what a row-building fast path
    (``discovery.ingest.zeek_rows``) reads without building one. ``password`` is a raw secret
    (a deployment that logs passwords): it goes no further than ``discovery.redact``."""

    __slots__ = (
        "client_ip",
        "client_port",
        "evidence",
        "extra",
        "host",
        "method",
        "origin",
        "password",
        "referrer",
        "request_bytes",
        "request_type",
        "response_bytes",
        "response_type",
        "server_ip",
        "server_port",
        "status",
        "target",
        "ts",
        "user",
        "user_agent",
        "version",
    )

    def __init__(
        self,
        ts: float,
        evidence: str,
        client_ip: str | None,
        client_port: int | None,
        server_ip: str | None,
        server_port: int | None,
        version: str | None,
        method: str,
        target: str,
        host: str | None,
        status: int | None,
        user_agent: str | None,
        referrer: str | None,
        origin: str | None,
        user: str | None,
        password: str | None,
        extra: list[PrecomputedCredential],
        request_type: str | None,
        response_type: str | None,
        request_bytes: int,
        response_bytes: int,
    ) -> None:
        self.ts = ts
        self.evidence = evidence
        self.client_ip = client_ip
        self.client_port = client_port
        self.server_ip = server_ip
        self.server_port = server_port
        self.version = version
        self.method = method
        self.target = target
        self.host = host
        self.status = status
        self.user_agent = user_agent
        self.referrer = referrer
        self.origin = origin
        self.user = user
        self.password = password
        self.extra = extra
        self.request_type = request_type
        self.response_type = response_type
        self.request_bytes = request_bytes
        self.response_bytes = response_bytes


# a row-building fast path: an http.log record's values to its stored row, or None when the
# record needs the general conversion (``read_rows``)
FastPath = Callable[[HttpRecord], Prepared | None]


def http_values(record: Record, where: str) -> HttpRecord:
    """One http.log record's values, checked at the edge (a ``_BadRecord`` when it cannot be
    an exchange); ``where`` is its place in the log (``line N``)."""
    method = _str(record, "method")
    if method is None:
        raise _BadRecord("no method")
    server_ip, server_port = _str(record, "id.resp_h"), _port(record, "id.resp_p")
    host = _str(record, "host")
    if host is None and server_ip is not None:
        host = server_ip if server_port in (None, 80) else f"{server_ip}:{server_port}"
    user, password = _str(record, "username"), _str(record, "password")
    extra = _cred_hmacs(record, host, user)
    if user is not None and password is None and not any(pc.public_id == user for pc in extra):
        extra.append(_basic_user(user, host))
    orig_types, resp_types = _list(record, "orig_mime_types"), _list(record, "resp_mime_types")
    uid = _str(record, "uid") or "?"
    depth = _str(record, "trans_depth")
    try:
        status = bounds.status(_int(record, "status_code"))
    except _BadRecord:
        status = None
    return HttpRecord(
        ts=_ts(record.get("ts")),
        evidence=f"uid {uid}" + (f"#{depth}" if depth else "") + f" ({where})",
        client_ip=_str(record, "id.orig_h"),
        client_port=_port(record, "id.orig_p"),
        server_ip=server_ip,
        server_port=server_port,
        version=_str(record, "version"),
        method=method,
        target=_str(record, "uri") or "/",
        host=host,
        status=status,
        user_agent=_str(record, "user_agent"),
        referrer=_str(record, "referrer"),
        origin=_str(record, "origin"),
        user=user,
        password=password,
        extra=extra,
        request_type=orig_types[0] if orig_types else None,
        response_type=resp_types[0] if resp_types else None,
        request_bytes=_size(record, "request_body_len"),
        response_bytes=_size(record, "response_body_len"),
    )


def _basic_user(user: str, host: str | None) -> PrecomputedCredential:
    """A Basic username Zeek logged without its password (nor a digest naming it)."""
    return PrecomputedCredential(
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


def request_headers(values: HttpRecord) -> tuple[tuple[str, str], ...]:
    """The request headers an http.log record stands for (what Zeek logged of them). A logged
    password is rebuilt into the Basic header in memory, so the normal detector fingerprints it
    under the case key, like the same credential seen in a capture."""
    headers: list[tuple[str, str]] = []
    if values.user_agent is not None:
        headers.append(("User-Agent", values.user_agent))
    if values.referrer is not None:
        headers.append(("Referer", values.referrer))
    if values.origin is not None:
        headers.append(("Origin", values.origin))
    user, password = values.user, values.password
    if user is not None and password is not None:
        token = base64.b64encode(f"{user}:{password}".encode("utf-8", "surrogateescape"))
        headers.append(("Authorization", "Basic " + token.decode()))
    if values.request_type is not None:
        headers.append(("Content-Type", values.request_type))
    return tuple(headers)


def http_record(record: Record, where: str) -> ObservedExchange:
    """One http.log record as an observed exchange (cleartext HTTP as Zeek parsed it)."""
    return http_observed(http_values(record, where))


def http_observed(values: HttpRecord) -> ObservedExchange:
    """An http.log record's values as an observed exchange."""
    return ObservedExchange(
        ts=values.ts,
        source="zeek",
        evidence=values.evidence,
        client_ip=values.client_ip,
        client_port=values.client_port,
        server_ip=values.server_ip,
        server_port=values.server_port,
        http_version=values.version,
        method=values.method,
        target=values.target,
        host=values.host,
        status=values.status,
        request_headers=request_headers(values),
        response_headers=(
            (("Content-Type", values.response_type),) if values.response_type is not None else ()
        ),
        request_bytes=values.request_bytes,
        response_bytes=values.response_bytes,
        extra=tuple(values.extra),
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
        client_port=_port(record, "id.orig_p"),
        server_ip=server_ip,
        server_port=_port(record, "id.resp_p"),
        tls=True,
        sni=sni,
        alpn=_str(record, "next_protocol"),
        ja4=_str(record, "ja4"),
        host=sni or server_ip,
        error="TLS handshake not established" if failed else None,
    )


# conn_state values of a connection that was never established (Zeek's base/protocols/conn)
_NOT_ESTABLISHED = {
    "S0": "no reply to the connection attempt",
    "REJ": "connection attempt rejected",
    "RSTOS0": "the client sent SYN then RST, no SYN-ACK seen",
    "SH": "the client sent SYN then FIN, no SYN-ACK seen",
}
# conn_state values where Zeek saw only part of the connection (no handshake seen)
_PART_SEEN = frozenset(("RSTRH", "SHR", "OTH"))
_FACT_LIMIT = 64  # characters kept of a conn.log string fact (history, service, state)


def _fact(record: Record, name: str) -> str | None:
    value = _str(record, name)
    if value is None:
        return None
    return "".join(c for c in value[:_FACT_LIMIT] if c.isprintable())


def conn_record(record: Record, where: str) -> ObservedExchange:
    """One conn.log record of a TCP connection: an opaque connection with its context."""
    proto = (_str(record, "proto") or "tcp").lower()
    if proto != "tcp":
        raise _NotHere(f"zeek_conn_{proto[:8]}_record")
    server_ip = _str(record, "id.resp_h")
    if server_ip is None:
        raise _BadRecord("no id.resp_h (the server address)")
    state, service = _fact(record, "conn_state"), _fact(record, "service")
    services = {s.strip().lower() for s in (service or "").split(",")}
    facts: dict[str, Any] = {}
    duration = record.get("duration")
    if duration is not None and duration != "":
        try:
            seconds = float(duration)
        except (TypeError, ValueError):
            seconds = -1.0
        if 0 <= seconds < 1e9:
            facts["duration"] = round(seconds, 6)
    for name, value in (
        ("conn_state", state),
        ("history", _fact(record, "history")),
        ("service", service),
    ):
        if value:
            facts[name] = value
    for name in ("orig_pkts", "resp_pkts", "missed_bytes"):
        try:
            count = _int(record, name)
        except _BadRecord:
            count = None
        if count is not None and 0 <= count <= bounds.MAX_SIZE:
            facts[name] = count
    return ObservedExchange(
        ts=_ts(record.get("ts")),
        source="zeek",
        evidence=f"uid {_str(record, 'uid') or '?'} ({where})",
        client_ip=_str(record, "id.orig_h"),
        client_port=_port(record, "id.orig_p"),
        server_ip=server_ip,
        server_port=_port(record, "id.resp_p"),
        tls="ssl" in services,
        host=server_ip,
        request_bytes=_size(record, "orig_bytes"),
        response_bytes=_size(record, "resp_bytes"),
        partial=state in _PART_SEEN or bool(facts.get("missed_bytes")),
        error=(
            f"connection not established (conn_state {state}: {_NOT_ESTABLISHED[state]})"
            if state in _NOT_ESTABLISHED
            else None
        ),
        facts=json.dumps(facts, sort_keys=True) if facts else None,
    )


_CONVERTERS = {"http": http_record, "ssl": ssl_record, "conn": conn_record}


def _kind_of(record: Record, declared: str | None) -> str | None:
    path = declared or _str(record, "_path")
    if path:
        return path
    if "method" in record or "uri" in record:
        return "http"
    if "server_name" in record or "cipher" in record:
        return "ssl"
    if "conn_state" in record or "history" in record:
        return "conn"
    return None


def _convert(
    record: Record,
    kind: str | None,
    where: str,
    path: Path,
    stats: IngestStats,
    fast: FastPath | None = None,
) -> ObservedExchange | Prepared | None:
    converter = _CONVERTERS.get(kind or "")
    if converter is None:
        stats.skip(f"zeek_{kind or 'unknown'}_record")
        return None
    try:
        if fast is not None and kind == "http":
            values = http_values(record, where)
            row = fast(values)
            return http_observed(values) if row is None else row
        return converter(record, where)
    # one name per except clause: mypyc types a name shared by two clauses as the first class
    except _NotHere as elsewhere:
        stats.skip(str(elsewhere))
        return None
    except _BadRecord as bad:
        stats.skip(f"bad_{kind}_record", f"{path} ({where}): {bad}")
        return None


def _separator(line: str, path: Path, number: int) -> str:
    """The field separator a ``#separator`` line declares (one or more characters)."""
    sep = _unescape(line.split(" ", 1)[1]) if " " in line else ""
    if not sep:
        raise InputError(
            str(path),
            f"Zeek TSV header declares no usable field separator ({line[:40]!r})",
            where=f"line {number}",
        )
    return sep


def _http_columns(fields: list[str]) -> list[int]:
    """Where each of ``_HTTP_COLUMNS`` is in a log's ``#fields`` (-1: not logged)."""
    where = {name: index for index, name in enumerate(fields)}
    return [where.get(name, -1) for name in _HTTP_COLUMNS]


def _digits(value: str | None) -> int:
    """A count as ``_int`` reads it when it is plain digits; -1 when unset, -2 otherwise."""
    if value is None:
        return -1
    if len(value) > 20 or not (value.isascii() and value.isdigit()):
        return -2
    return int(value)


def _http_tsv(
    values: list[str], columns: list[int], unset: str, empty: str, set_sep: str, where: str
) -> HttpRecord | None:
    """``http_values`` of a TSV line's fields (without escapes) read without building its
    record, or None when any value is not plain (an empty set or value, a count that is not
    plain digits, a value out of bounds, a digest that is no digest): ``http_values`` of the
    record then decides, as for any record."""
    raw: list[str | None] = []
    for position, index in enumerate(columns):
        if index < 0:
            raw.append(None)
            continue
        value = values[index]
        if value == unset:
            raw.append(None)
        elif value == empty or (not value and position >= _FIRST_SET):
            return None
        else:
            raw.append(value or None)
    method = raw[7]
    if method is None:
        return None
    server_ip = raw[4]
    server = _digits(raw[5])
    client = _digits(raw[3])
    status = _digits(raw[16])
    sent, received = _digits(raw[14]), _digits(raw[15])
    if server == -2 or client == -2 or status == -2 or sent == -2 or received == -2:
        return None
    server_port = None if server == -1 else bounds.port(server)
    client_port = None if client == -1 else bounds.port(client)
    if (server != -1 and server_port is None) or (client != -1 and client_port is None):
        return None
    stamp = raw[0]
    if stamp is None:
        return None
    try:
        ts = bounds.timestamp(float(stamp))
    except ValueError:
        return None
    if ts is None:
        return None
    host = raw[8]
    if host is None and server_ip is not None:
        host = server_ip if server_port in (None, 80) else f"{server_ip}:{server_port}"
    user, password = raw[17], raw[18]
    extra: list[PrecomputedCredential] = []
    digests = raw[21]
    if digests is not None:
        try:
            extra = [_hmac_entry(item, host, user) for item in digests.split(set_sep)]
        except _BadRecord:
            return None
    if user is not None and password is None and not any(pc.public_id == user for pc in extra):
        extra.append(_basic_user(user, host))
    orig_types, resp_types = raw[19], raw[20]
    depth = raw[6]
    return HttpRecord(
        ts=ts,
        evidence=f"uid {raw[1] or '?'}" + (f"#{depth}" if depth else "") + f" ({where})",
        client_ip=raw[2],
        client_port=client_port,
        server_ip=server_ip,
        server_port=server_port,
        version=raw[11],
        method=method,
        target=raw[9] or "/",
        host=host,
        status=None if status == -1 else bounds.status(status),
        user_agent=raw[12],
        referrer=raw[10],
        origin=raw[13],
        user=user,
        password=password,
        extra=extra,
        request_type=None if orig_types is None else orig_types.split(set_sep, 1)[0],
        response_type=None if resp_types is None else resp_types.split(set_sep, 1)[0],
        request_bytes=0 if sent == -1 else bounds.size(sent) or 0,
        response_bytes=0 if received == -1 else bounds.size(received) or 0,
    )


def _tsv(
    path: Path, lines: Iterator[tuple[int, bytes]], stats: IngestStats, fast: FastPath | None
) -> Iterator[tuple[int, ObservedExchange | Prepared]]:
    sep, set_sep, empty, unset = "\t", ",", "(empty)", "-"
    fields: list[str] | None = None
    kind: str | None = None
    # (column, name, is a set) of the columns the converter of this kind of log reads
    columns: list[tuple[int, str, bool]] = []
    # of an http.log read with a fast path: where ``_http_tsv`` finds its columns
    http_columns: list[int] | None = None
    for number, raw in lines:
        line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#separator"):
                sep = _separator(line, path, number)
                continue
            key, _, value = line.partition(sep)
            if key == "#set_separator":
                set_sep = _unescape(value) or ","
            elif key == "#empty_field":
                empty = value
            elif key == "#unset_field":
                unset = value
            elif key == "#path":
                kind = value
            elif key == "#fields":
                fields = value.split(sep)
            if fields is not None:
                used = _USED_FIELDS.get(kind or "")
                columns = [
                    (index, name, name in _SET_FIELDS)
                    for index, name in enumerate(fields)
                    if used is None or name in used
                ]
                http_columns = (
                    _http_columns(fields) if fast is not None and kind == "http" else None
                )
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
        escaped = "\\x" in line  # nearly no line has an escape: looked for once per line
        if http_columns is not None and fast is not None and not escaped:
            where = f"line {number}"
            plain = _http_tsv(values, http_columns, unset, empty, set_sep, where)
            if plain is not None:
                stats.flows += 1
                row = fast(plain)
                yield number, http_observed(plain) if row is None else row
                continue
        record: dict[str, Any] = {}
        for index, name, is_set in columns:
            value = values[index]
            if value == unset:
                record[name] = None
            elif value == empty:
                record[name] = []
            elif is_set:
                items = value.split(set_sep)
                record[name] = [_unescape(v) for v in items] if escaped else items
            else:
                record[name] = _unescape(value) if escaped else value
        if record.get("established") in ("T", "F"):
            record["established"] = record["established"] == "T"
        stats.flows += 1
        observed = _convert(record, kind, f"line {number}", path, stats, fast)
        if observed is not None:
            yield number, observed


def _json_lines(
    path: Path, lines: Iterator[tuple[int, bytes]], stats: IngestStats, fast: FastPath | None
) -> Iterator[tuple[int, ObservedExchange | Prepared]]:
    for number, raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except RecursionError:
            stats.skip("bad_zeek_line", f"{path} (line {number}): JSON nested too deeply")
            continue
        except ValueError as exc:  # not JSON, not UTF-8, or a number of thousands of digits
            stats.skip("bad_zeek_line", f"{path} (line {number}): not valid JSON ({exc})"[:300])
            continue
        if not isinstance(record, dict):
            stats.skip("bad_zeek_line", f"{path} (line {number}): not a JSON object")
            continue
        stats.flows += 1
        observed = _convert(record, _kind_of(record, None), f"line {number}", path, stats, fast)
        if observed is not None:
            yield number, observed


def read(
    path: Path,
    stats: IngestStats,
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> Iterator[ObservedExchange]:
    """Yield one observed exchange per http.log, ssl.log or conn.log record (of a TCP
    connection) whose line (TSV or JSON) begins at or after byte ``start`` and ends by ``end``.

    A gzip-compressed log (a rotated one: ``http.10:00:00-11:00:00.log.gz``) is read streamed,
    and its offsets (``start``, ``end``, ``stats.consumed``) are in its decompressed bytes, as
    ``discovery.case.inputs`` knows it: the archive of a log read while it was written is read on
    from there. A gzip stream cut short (still being compressed, or damaged) gives the lines
    before the cut and a warning."""
    for _number, observed in _read(path, stats, progress, start, end, None, None):
        assert isinstance(observed, ObservedExchange)  # no fast path: observed exchanges only
        yield observed


def read_rows(
    path: Path,
    stats: IngestStats,
    fast: FastPath,
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
    share: tuple[int, int] | None = None,
) -> Iterator[tuple[int, ObservedExchange | Prepared]]:
    """As ``read`` (or ``read_share`` with ``share``), with each line's number: an http.log
    record's values are handed to ``fast``, and its answer (the exchange's stored row) yielded
    in place of the observed exchange; when it answers None (the record needs what only the
    general conversion does), the observed exchange is yielded as ``read`` does."""
    if share is not None and (share[1] < 1 or not 0 <= share[0] < share[1]):
        raise ValueError(f"no share {share[0]} of {share[1]}")
    yield from _read(path, stats, progress, start, end, share, fast)


def read_share(
    path: Path,
    stats: IngestStats,
    share: tuple[int, int],
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> Iterator[tuple[int, ObservedExchange]]:
    """As ``read``, for child ``share[0]`` of ``share[1]`` reading one log together: every
    line is read (and the header lines used), the records of blocks of ``BLOCK_LINES`` lines
    numbered ``share[0]`` modulo ``share[1]`` converted, each yielded with its block's number.
    What concerns the whole file (its last line still being written, a gzip stream cut short)
    is counted by share 0 only, so the shares' counters add up to one reader's."""
    index, count = share
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"no share {index} of {count}")
    for number, observed in _read(path, stats, progress, start, end, share, None):
        assert isinstance(observed, ObservedExchange)  # no fast path: observed exchanges only
        yield (number - 1) // BLOCK_LINES, observed


def _read(
    path: Path,
    stats: IngestStats,
    progress: Progress | None,
    start: int,
    end: int | None,
    share: tuple[int, int] | None,
    fast: FastPath | None,
) -> Iterator[tuple[int, ObservedExchange | Prepared]]:
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        # a compressed file's ``end`` bounds its decompressed bytes (``limit``), not the file
        handle = open_window(path, None if compressed else end)
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        limit = None
        if compressed:
            stream: gzip.GzipFile | io.BufferedReader = gzip.GzipFile(fileobj=handle, mode="rb")
            limit = end
        else:
            stream = handle
        try:
            head = stream.peek(4096)[:4096].lstrip()
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(str(path), f"not a readable gzip file ({exc})") from exc
        lines = _numbered(path, stream, progress, stats, start, handle.tell, limit, share)
        if head.startswith(b"#"):
            yield from _tsv(path, lines, stats, fast)
        elif head.startswith(b"{"):
            yield from _json_lines(path, lines, stats, fast)
        elif not head:
            raise InputError(str(path), "empty Zeek log")
        else:
            raise InputError(
                str(path), "not a Zeek log (neither #fields TSV nor JSON lines)", where="line 1"
            )
        if progress:
            progress(handle.tell())


def _numbered(
    path: Path,
    handle: gzip.GzipFile | io.BufferedReader,
    progress: Progress | None,
    stats: IngestStats,
    start: int,
    read_so_far: Callable[[], int],
    limit: int | None = None,
    share: tuple[int, int] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Lines with their numbers, from the first line at or after ``start`` (the header lines
    at the top are given first, also when starting later); ``stats.consumed`` follows the end
    of the last whole line. A last line without its newline is being written: it is left for
    the next read, unless it is a whole JSON object. ``read_so_far`` is the bytes of the file
    read (of a compressed file: compressed bytes), for ``progress``; ``limit`` ends the lines at
    that byte (of a compressed file, whose window cannot); ``share`` (``read_share``) gives
    header lines and the lines of its blocks only."""
    number = 0
    pos = 0
    if start:
        while True:  # the TSV header, needed to read any line
            raw = handle.readline()
            if not raw.startswith(b"#") or not raw.endswith(b"\n") or pos + len(raw) > start:
                break
            number += 1
            pos += len(raw)
            yield number, raw
        handle.seek(pos)
        while pos < start:  # the lines read before: counted, not read again
            block = handle.read(min(1 << 20, start - pos))
            if not block:
                break
            number += block.count(b"\n")
            pos += len(block)
        handle.seek(start)
        pos = start
    stats.consumed = pos
    whole_file = share is None or share[0] == 0  # the share that reports on the whole file
    mine, shares = share if share is not None else (0, 1)
    for raw in _lines(path, handle, stats, whole_file):
        if limit is not None and pos + len(raw) > limit:  # past the bytes the input was hashed at
            raw = raw[: limit - pos]
            if not raw:
                break
        if not raw.endswith(b"\n") and not _whole_json(raw):
            if whole_file:
                stats.counts["incomplete last line (read when the log grows)"] += 1
                stats.warn(
                    f"{path} (line {number + 1}): the last line has no newline yet (being "
                    "written): it is read when the log has grown"
                )
            break
        number += 1
        pos += len(raw)
        stats.consumed = pos
        if progress and number % PROGRESS_EVERY == 0:
            progress(read_so_far())
        if shares == 1 or (number - 1) // BLOCK_LINES % shares == mine or raw[:1] == b"#":
            yield number, raw


def _lines(
    path: Path, handle: gzip.GzipFile | io.BufferedReader, stats: IngestStats, report: bool = True
) -> Iterator[bytes]:
    """The lines of the file; a compressed stream that ends early or is damaged ends them
    (counted, with a warning, when ``report``): the lines before are kept."""
    try:
        # not ``yield from``: closing this generator early would close the file with it
        for raw in handle:  # noqa: UP028
            yield raw
    except EOFError:
        if report:
            stats.counts["gzip stream cut short (the lines before it read)"] += 1
            stats.warn(f"{path}: the gzip stream ends early (cut, or still being written)")
    except (OSError, zlib.error) as exc:
        if report:
            stats.counts["gzip stream damaged (the lines before it read)"] += 1
            stats.warn(f"{path}: the gzip stream is damaged ({exc})")


def _whole_json(raw: bytes) -> bool:
    """A line that is a complete JSON object (a JSON log's last line without its newline)."""
    text = raw.strip()
    if not text.startswith(b"{") or not text.endswith(b"}"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False
