"""HTTP/1.x message heads read as leniently as the most lenient common servers (Zeek's and
Suricata's libhtp parsers are the model), every deviation from RFC 9112 recorded as an anomaly.

Accepted and flagged: bare LF line endings, obs-fold continuation lines, control bytes in header
values, whitespace before a header's colon, lines without a colon (skipped), any token as a
method, odd versions (``HTTP/1.0.8``, ``HTTP/2.0``) and a missing version. The body framing a
head declares is read here too, with both readings when it is ambiguous (``Framing``): the
caller follows the longer one and looks for a request hidden in the difference (smuggling).

Anomalies are short codes, optionally ``code: detail``; a detail names headers and counts only,
never a header's value (it may be a secret).
"""

from __future__ import annotations

import re
from typing import Final

MAX_TARGET: Final = 16 * 1024
MAX_HEADERS: Final = 200
MAX_HEADER_BYTES: Final = 64 * 1024

# codes of the anomalies (the exchange's ``anomalies``; docs/findings.md lists them)
BARE_LF: Final = "bare_lf"
OBS_FOLD: Final = "obs_fold"
CONTROL_BYTES: Final = "control_bytes"
SPACE_BEFORE_COLON: Final = "space_before_colon"
HEADER_WITHOUT_COLON: Final = "header_without_colon"
NONSTANDARD_METHOD: Final = "nonstandard_method"
ODD_VERSION: Final = "odd_version"
MISSING_VERSION: Final = "missing_version"
MISSING_TARGET: Final = "missing_target"
START_LINE_WHITESPACE: Final = "start_line_whitespace"
TE_AND_CL: Final = "te_and_cl"
DUPLICATE_CL: Final = "duplicate_content_length"
CONFLICTING_CL: Final = "conflicting_content_length"
INVALID_CL: Final = "invalid_content_length"
AMBIGUOUS_TE: Final = "ambiguous_transfer_encoding"
BAD_CHUNK: Final = "bad_chunk"
CHUNK_OVERFLOW: Final = "chunk_size_overflow"
FRAMING_CONFLICT: Final = "framing_conflict"
SMUGGLED: Final = "smuggled_request"
AFTER_CLOSE: Final = "request_after_close"
MISSING_HOST: Final = "missing_host"
UNFINISHED_HEAD: Final = "unfinished_head"
HEADERS_DROPPED: Final = "headers_dropped"

# methods of the IANA registry (and common extensions): any other token is read, and flagged
KNOWN_METHODS: Final = frozenset(
    {
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
        "PURGE", "ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "LABEL", "LINK",
        "MERGE", "MKACTIVITY", "MKCALENDAR", "MKREDIRECTREF", "MKWORKSPACE", "ORDERPATCH",
        "PRI", "QUERY", "REBIND", "UNBIND", "UNCHECKOUT", "UNLINK", "UPDATE",
        "UPDATEREDIRECTREF", "VERSION-CONTROL", "MSEARCH", "M-SEARCH", "NOTIFY", "SUBSCRIBE",
        "UNSUBSCRIBE", "RPC_IN_DATA", "RPC_OUT_DATA",
    }
)  # fmt: skip
_METHOD_NAMES: Final = {m.encode(): m for m in KNOWN_METHODS}
# methods common enough to recognise a stream by, even without a version or mid-line
_COMMON = (
    b"GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|"
    b"LOCK|UNLOCK|REPORT|SEARCH|PURGE|QUERY|RPC_IN_DATA|RPC_OUT_DATA"
)
METHOD_PREFIXES: Final = tuple(m + b" " for m in _COMMON.split(b"|"))
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}"
_TARGET = rb"[\x21-\x7e\x80-\xff]+"
_VERSION = rb"HTTP/[0-9][0-9.]{0,15}"
# Where a request starts in a stream: a common method anywhere (garbage before it is skipped),
# any token at the start of a line; then a target and a version, or (common methods only) a
# target alone ending the line (HTTP/0.9 style, version-less beacons).
REQUEST_START: Final = re.compile(
    rb"(?:(?:" + _COMMON + rb")|(?:(?<=\n)|^)" + _TOKEN + rb")[ \t]+" + _TARGET + rb"[ \t]+"
    + _VERSION + rb"[ \t]*\r?\n|(?:" + _COMMON + rb")[ \t]+/" + _TARGET[:-1] + rb"*\r?\n"
    rb"|(?:" + _COMMON + rb")[ \t]+" + _VERSION + rb"[ \t]*\r?\n"
)  # fmt: skip
_NO_TARGET: Final = re.compile(rb"(" + _TOKEN + rb")[ \t]+(" + _VERSION + rb")[ \t]*\r?$")
RESPONSE_START: Final = re.compile(rb"HTTP/[0-9][0-9.]{0,15} +[0-9][0-9][0-9](?:[ \t\r\n]|$)")
_REQUEST_LINE: Final = re.compile(
    rb"(" + _TOKEN + rb")([ \t]+)(" + _TARGET + rb")(?:([ \t]+)(" + _VERSION + rb"|[^\x00-\x20\x7f]{1,24}))?[ \t]*\r?$"
)  # fmt: skip
_STATUS_LINE: Final = re.compile(
    rb"HTTP/([0-9][0-9.]{0,15})( +)([0-9][0-9][0-9])(?:[ \t]([^\r\n]*))?\r?$"
)
_CTL: Final = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CTL_BYTES: Final = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])  # as _CTL
_NOT_IN_TARGET: Final = bytes([*range(0x21), 0x7F])  # what _TARGET excludes
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAFE_NAME: Final = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_DIGITS: Final = re.compile(r"[0-9]+")
_HEAD_END: Final = re.compile(rb"\n\r?\n")

# body framing kinds
NO_BODY: Final = 0
LENGTH: Final = 1
CHUNKED: Final = 2
UNTIL_CLOSE: Final = 3


def looks_like_request(data: bytes) -> bool:
    """True when data starts with an HTTP/1 request line (or the cut start of a common one)."""
    match = REQUEST_START.match(data)
    if match is not None:
        return True
    return data.startswith(METHOD_PREFIXES) and b"\n" not in data[:MAX_TARGET]


def looks_like_response(data: bytes) -> bool:
    """True when data starts with an HTTP/1 status line."""
    return data.startswith(b"HTTP/") and RESPONSE_START.match(data) is not None


def head_end(data: bytes, start: int = 0) -> int:
    """Offset just past the empty line ending a head in ``data``, or -1."""
    found = _HEAD_END.search(data, start)
    return -1 if found is None else found.end()


def safe_name(name: str) -> str:
    """A header name fit for an anomaly's detail (token characters only, bounded)."""
    return _SAFE_NAME.sub("?", name[:64])


class Framing:
    """How a message's body is delimited: the reading followed and, when a head is ambiguous,
    the other reading a different server would make (``alt_length`` >= 0)."""

    __slots__ = ("alt_label", "alt_length", "kind", "label", "length")

    def __init__(self, kind: int, length: int, label: str) -> None:
        self.kind = kind
        self.length = length
        self.label = label
        self.alt_length = -1
        self.alt_label = ""


class Head:
    """A parsed message head."""

    __slots__ = (
        "anomalies",
        "close",
        "framing",
        "headers",
        "host",
        "method",
        "partial",
        "status",
        "target",
        "upgrade",
        "version",
    )

    def __init__(self) -> None:
        self.method: str | None = None
        self.target = b""
        self.version: str | None = None
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.anomalies: list[str] = []
        self.framing = Framing(NO_BODY, 0, "")
        self.close = False  # Connection: close
        self.upgrade = False  # an Upgrade request (Connection: upgrade)
        self.host: str | None = None
        self.partial = False  # target cut, headers dropped


def parse_request_line(line: bytes, head: Head) -> bool:
    """Fill method, target and version from a request line; False when it is none."""
    parts = line.split(b" ")
    if len(parts) == 3:  # the common case without the regular expression: same result
        method = _METHOD_NAMES.get(parts[0])
        target, version = parts[1], parts[2]
        if version[-1:] == b"\r":
            version = version[:-1]
        if (
            method is not None
            and (version == b"HTTP/1.1" or version == b"HTTP/1.0")
            and target
            and len(target.translate(None, _NOT_IN_TARGET)) == len(target)
        ):
            head.method = method
            if len(target) > MAX_TARGET:
                head.partial = True
                target = target[:MAX_TARGET]
            head.target = target
            head.version = "1.1" if version == b"HTTP/1.1" else "1.0"
            return True
    return request_line_by_pattern(line, head)


def request_line_by_pattern(line: bytes, head: Head) -> bool:
    """``parse_request_line`` by the regular expressions alone (the reference)."""
    found = _REQUEST_LINE.match(line)
    if found is None or (found.group(3)[:5] == b"HTTP/" and found.group(5) is None):
        bare = _NO_TARGET.match(line)  # "GET HTTP/1.1": read as libhtp does, target empty
        if bare is None:
            return found is not None and _fill_request(found, line, head)
        head.method = bare.group(1).decode("ascii")
        head.anomalies.append(MISSING_TARGET)
        if head.method not in KNOWN_METHODS:
            head.anomalies.append(NONSTANDARD_METHOD)
        version = bare.group(2).decode("latin-1")
        head.version = version[5:]
        if version != "HTTP/1.1" and version != "HTTP/1.0":
            head.anomalies.append(ODD_VERSION)
        return True
    return _fill_request(found, line, head)


def _fill_request(found: re.Match[bytes], line: bytes, head: Head) -> bool:
    method, gap1, target, gap2, version = found.groups()
    head.method = method.decode("ascii")
    if head.method not in KNOWN_METHODS:
        head.anomalies.append(NONSTANDARD_METHOD)
    if len(target) > MAX_TARGET:
        head.partial = True
        target = target[:MAX_TARGET]
    head.target = target
    if (gap1 != b" " or (gap2 is not None and gap2 != b" ")) or line.rstrip(b"\r")[-1:] in (
        b" ",
        b"\t",
    ):
        head.anomalies.append(START_LINE_WHITESPACE)
    if version is None:
        head.anomalies.append(MISSING_VERSION)
        head.version = None
    else:
        text = version.decode("latin-1")
        if text == "HTTP/1.1" or text == "HTTP/1.0":
            head.version = text[5:]
        else:
            head.anomalies.append(ODD_VERSION)
            head.version = (text[5:] if text[:5] == "HTTP/" else text)[:16]
    return True


def parse_status_line(line: bytes, head: Head) -> bool:
    """Fill version and status from a status line; False when it is none."""
    if line[:5] == b"HTTP/" and line[8:9] == b" " and line[9:12].isdigit():
        version = line[5:8]
        reason = line[12:-1] if line[-1:] == b"\r" else line[12:]
        if (version == b"1.1" or version == b"1.0") and (
            not reason or (reason[:1] in (b" ", b"\t") and b"\r" not in reason)
        ):  # the common case without the regular expression: same result
            head.version = "1.1" if version == b"1.1" else "1.0"
            head.status = int(line[9:12])
            return True
    return status_line_by_pattern(line, head)


def status_line_by_pattern(line: bytes, head: Head) -> bool:
    """``parse_status_line`` by the regular expression alone (the reference)."""
    found = _STATUS_LINE.match(line)
    if found is None:
        return False
    version, gap, status, _reason = found.groups()
    text = version.decode("ascii")
    head.version = text
    if text != "1.1" and text != "1.0":
        head.anomalies.append(ODD_VERSION)
    if gap != b" ":
        head.anomalies.append(START_LINE_WHITESPACE)
    head.status = int(status)
    return True


def parse_head(
    data: bytes, is_request: bool, head: Head | None = None, fast: bool = True
) -> Head | None:
    """Parse a complete head (start line, header lines, the empty line optional); None when
    its start line is no request (or status) line. ``fast=False`` reads the start line by
    the regular expressions alone (the reference the fast paths are tested against)."""
    if head is None:
        head = Head()
    anomalies = head.anomalies
    nl = data.find(b"\n")
    line = data if nl < 0 else data[:nl]
    if is_request:
        started = parse_request_line(line, head) if fast else request_line_by_pattern(line, head)
    else:
        started = parse_status_line(line, head) if fast else status_line_by_pattern(line, head)
    if not started:
        return None
    if nl < 0:
        _framing(head, [], [], is_request)
        return head
    rest = data[nl + 1 :]
    crlf = rest.count(b"\r\n")
    all_crlf = crlf == rest.count(b"\n")
    if not all_crlf or line[-1:] != b"\r":
        anomalies.append(BARE_LF)
    if len(rest.translate(None, _CTL_BYTES)) != len(rest):  # a control byte (faster than _CTL)
        _control_bytes(rest, anomalies)
    text = rest.decode("latin-1")
    headers = head.headers
    te: list[str] = []
    cl: list[str] = []
    size = 0
    folded = False
    for raw in text.split("\r\n") if all_crlf else text.split("\n"):
        if not all_crlf and raw[-1:] == "\r":
            raw = raw[:-1]
        if not raw:
            continue  # the empty line ending the head (or a stray one)
        first = raw[0]
        if first == " " or first == "\t":
            if headers and not folded:
                anomalies.append(OBS_FOLD)
                folded = True
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, (value + " " + raw.strip(" \t")).strip(" "))
                _track(name, headers[-1][1], te, cl, head, replace=True)
            continue
        colon = raw.find(":")
        if colon <= 0:
            if HEADER_WITHOUT_COLON not in anomalies:
                anomalies.append(HEADER_WITHOUT_COLON)
            continue
        name = raw[:colon]
        if name[-1] == " " or name[-1] == "\t":
            name = name.rstrip(" \t")
            anomalies.append(SPACE_BEFORE_COLON + ": " + safe_name(name))
        value = raw[colon + 1 :].strip(" \t")
        size += len(name) + len(value)
        if len(headers) >= MAX_HEADERS or size > MAX_HEADER_BYTES:
            if not head.partial:
                head.partial = True
                anomalies.append(HEADERS_DROPPED)
            continue
        headers.append((name, value))
        _track(name, value, te, cl, head, replace=False)
    _framing(head, te, cl, is_request)
    return head


def _control_bytes(rest: bytes, anomalies: list[str]) -> None:
    names: list[str] = []
    for line in rest.split(b"\n"):
        if _CTL.search(line) is not None:
            colon = line.find(b":")
            name = safe_name(line[: max(colon, 0)].decode("latin-1").strip())
            if name not in names:
                names.append(name)
    anomalies.append(CONTROL_BYTES + ": " + ", ".join(names[:8]))


def _track(name: str, value: str, te: list[str], cl: list[str], head: Head, replace: bool) -> None:
    """Note the headers that frame a message or end a connection."""
    size = len(name)
    if size == 14 and name.lower() == "content-length":
        if replace and cl:
            cl[-1] = value
        else:
            cl.append(value)
    elif size == 17 and name.lower() == "transfer-encoding":
        if replace and te:
            te[-1] = value
        else:
            te.append(value)
    elif size == 10 and name.lower() == "connection":
        tokens = value.lower()
        if "close" in tokens:
            head.close = True
        if "upgrade" in tokens:
            head.upgrade = True
    elif size == 4 and name.lower() == "host" and head.host is None:
        head.host = value


def _content_length(values: list[str], anomalies: list[str]) -> tuple[int, int]:
    """(first length, last length) of the Content-Length values; -1 when none is usable."""
    lengths: list[int] = []
    for value in values:
        for part in value.split(","):  # "5, 5" is a list of one length (RFC 9110 8.6)
            text = part.strip(" \t")
            if text.isdigit() and text.isascii() and len(text) <= 18:  # [0-9]{1,18}
                lengths.append(int(text))
            else:
                lead = _DIGITS.match(text)
                if INVALID_CL not in anomalies:
                    anomalies.append(INVALID_CL)
                if lead is not None and len(lead.group(0)) <= 18:
                    lengths.append(int(lead.group(0)))
    if not lengths:
        return -1, -1
    if len(lengths) > 1:
        if any(n != lengths[0] for n in lengths):
            anomalies.append(CONFLICTING_CL + ": " + ", ".join(str(n) for n in lengths[:4]))
        else:
            anomalies.append(DUPLICATE_CL)
    return lengths[0], lengths[-1]


def _framing(head: Head, te: list[str], cl: list[str], is_request: bool) -> None:
    anomalies = head.anomalies
    first, last = _content_length(cl, anomalies) if cl else (-1, -1)
    chunked = strict = False
    if te:
        joined = ",".join(te).lower()
        chunked = "chunked" in joined  # as libhtp: chunked anywhere in the header
        codings = [c.strip(" \t") for c in joined.split(",")]
        strict = (
            len(te) == 1
            and codings[-1] == "chunked"
            and all(_HEADER_NAME.fullmatch(c) is not None for c in codings)
        )
        if chunked != strict:
            anomalies.append(AMBIGUOUS_TE)
        if cl:
            anomalies.append(TE_AND_CL)
    if chunked:
        framing = Framing(CHUNKED, 0, "Transfer-Encoding: chunked")
        if is_request and (first >= 0 or not strict):
            # a server that ignores (or does not recognise) the chunking reads the length
            framing.alt_length = max(last, 0)
            framing.alt_label = (
                "Content-Length" if first >= 0 else "no body (Transfer-Encoding not recognised)"
            )
    elif first >= 0:
        framing = Framing(
            LENGTH, first, "Content-Length" if first == last else "first Content-Length"
        )
        if is_request and last != first:
            framing.alt_length = last
            framing.alt_label = "last Content-Length"
    elif te and not is_request:
        framing = Framing(UNTIL_CLOSE, 0, "until close")
    else:
        framing = Framing(NO_BODY if is_request else UNTIL_CLOSE, 0, "")
    head.framing = framing
