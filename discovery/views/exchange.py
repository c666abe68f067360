"""One exchange in full: what the case keeps of a request and its response, its credentials
(redacted), where it came from, and the command that extracts exactly its packets.

The case never stores raw headers (a header may hold a secret): the request and response are
shown as the header lines the case can rebuild from what it keeps (Host, User-Agent, content
types, sizes, and each credential in its place, redacted). The evidence reference leads back to
the capture: ``extraction`` gives a ``tshark`` command that writes this exchange's frames (those
of its TCP connection within its frame range) to a new pcap, and the ``editcap`` range.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.rows import loads

_FRAMES = re.compile(r"^frames? (\d+)(?:-(\d+))?")
_ENTRY = re.compile(r"^entry (\d+)")
_UID = re.compile(r"^uid (\S+)")


@dataclass(frozen=True, slots=True)
class PresentedCredential:
    """A credential as this exchange carried it: where (header, query, cookie, body) and as what."""

    credential_id: str
    location: str
    name: str
    kind: str | None
    redacted: str | None
    identity: str | None


@dataclass(frozen=True, slots=True)
class ExchangeDetail:
    """Every stored field of one exchange, its credentials, endpoint and input file."""

    id: int
    ts: float
    source: str
    evidence: str
    input_path: str | None
    input_format: str | None
    client_ip: str | None
    client_port: int | None
    server_ip: str | None
    server_port: int | None
    tls: bool
    sni: str | None
    alpn: str | None
    ja4: str | None
    http_version: str | None
    method: str | None
    host: str | None
    path: str | None
    raw_path: str | None
    query_names: tuple[str, ...]
    status: int | None
    request_bytes: int
    response_bytes: int
    request_content_type: str | None
    response_content_type: str | None
    user_agent: str | None
    partial: bool
    blocked: bool
    error: str | None
    websocket: bool
    sensitive: dict[str, int]
    credentials: tuple[PresentedCredential, ...]
    endpoint: str | None  # HOST METHOD TEMPLATE
    endpoint_status: str | None
    anomalies: tuple[str, ...] = ()  # HTTP parsing deviations, where the case records them
    # where the request really went (host:port; the default port left out) and how its Host
    # header or SNI contradicts that (``wire.destinations``)
    destination: str | None = None
    host_mismatch: str | None = None
    # sensitive-data kinds found in the request's own text (gRPC request messages, GraphQL
    # variables and arguments), counted
    request_sensitive: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def request_lines(self) -> list[str]:
        """The request's head as the case can show it (secrets redacted, other headers unknown)."""
        if self.method is None:
            return [f"(opaque TLS connection to {self.sni or self.host or '?'})"]
        target = self.raw_path or self.path or "/"
        query = [f"{n}=…" for n in self.query_names]
        for c in self.credentials:
            if c.location == "query":
                query = [q for q in query if q != f"{c.name}=…"] + [f"{c.name}={c.redacted}"]
        if query and "?" not in target:
            target += "?" + "&".join(query)
        version = f"HTTP/{self.http_version}" if self.http_version else "HTTP/?"
        lines = [f"{self.method} {target} {version}"]
        if self.host:
            lines.append(f"Host: {self.host}")
        if self.user_agent:
            lines.append(f"User-Agent: {self.user_agent}")
        if self.request_content_type:
            lines.append(f"Content-Type: {self.request_content_type}")
        if self.request_bytes:
            lines.append(f"Content-Length: {self.request_bytes}")
        for c in self.credentials:
            if c.location == "header":
                lines.append(f"{c.name}: {c.redacted}")
            elif c.location == "cookie":
                lines.append(f"Cookie: {c.name}={c.redacted}")
            elif c.location not in ("query",):
                lines.append(f"({c.location}) {c.name}: {c.redacted}")
        return lines

    def sensitive_text(self, *, request: bool = False) -> str:
        """The sensitive-data kinds found in the response (or the request) with their counts,
        ``email×2, jwt×1``; empty when none was found."""
        found = self.request_sensitive if request else self.sensitive
        return ", ".join(f"{k}×{v}" for k, v in sorted(found.items()))

    def response_lines(self) -> list[str]:
        """The response's head as the case can show it."""
        if self.status is None:
            return ["(no response seen)"]
        version = f"HTTP/{self.http_version}" if self.http_version else "HTTP/?"
        lines = [
            f"{version} {self.status}"
            + ("  (refused by the proxy's block)" if self.blocked else "")
        ]
        if self.response_content_type:
            lines.append(f"Content-Type: {self.response_content_type}")
        lines.append(f"Content-Length: {self.response_bytes}")
        return lines


_COLUMNS = (
    "e.id, e.ts, e.source, e.evidence, i.path, i.format, e.client_ip, e.client_port, e.server_ip, "
    "e.server_port, e.tls, e.sni, e.alpn, e.ja4, e.http_version, e.method, e.host, e.path, "
    "e.raw_path, e.query_names, e.status, e.request_bytes, e.response_bytes, "
    "e.request_content_type, e.response_content_type, e.user_agent, e.partial, e.blocked, "
    "e.error, e.websocket, e.sensitive, ep.host, ep.method, ep.template, ep.status, e.facts, "
    "e.destination, e.host_mismatch"
)
# the facts a Zeek conn.log record gives its connection (``discovery.sources.zeek``)
CONNECTION_FACTS = ("duration", "conn_state", "history", "service", "orig_pkts", "resp_pkts")


def exchange_detail(store: Store, exchange_id: int) -> ExchangeDetail | None:
    """One exchange by id, or None."""
    conn = store.conn
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM exchanges e LEFT JOIN inputs i ON i.id = e.input_id "
        "LEFT JOIN endpoints ep ON ep.id = e.endpoint_id WHERE e.id = ?",
        (exchange_id,),
    ).fetchone()
    if row is None:
        return None
    credentials = tuple(
        PresentedCredential(*r)
        for r in conn.execute(
            "SELECT ec.credential_id, ec.location, ec.name, c.kind, c.redacted, c.identity_id "
            "FROM exchange_credentials ec LEFT JOIN credentials c ON c.id = ec.credential_id "
            "WHERE ec.exchange_id = ? ORDER BY ec.location, ec.name LIMIT 50",
            (exchange_id,),
        )
    )
    endpoint = f"{row[31]} {row[32]} {row[33]}" if row[31] is not None else None
    facts = loads(row[35], {})
    if not isinstance(facts, dict):
        facts = {}
    return ExchangeDetail(
        id=row[0],
        ts=row[1],
        source=row[2],
        evidence=row[3],
        input_path=row[4],
        input_format=row[5],
        client_ip=row[6],
        client_port=row[7],
        server_ip=row[8],
        server_port=row[9],
        tls=bool(row[10]),
        sni=row[11],
        alpn=row[12],
        ja4=row[13],
        http_version=row[14],
        method=row[15],
        host=row[16],
        path=row[17],
        raw_path=row[18],
        query_names=tuple(str(n) for n in loads(row[19], [])),
        status=row[20],
        request_bytes=int(row[21] or 0),
        response_bytes=int(row[22] or 0),
        request_content_type=row[23],
        response_content_type=row[24],
        user_agent=row[25],
        partial=bool(row[26]),
        blocked=bool(row[27]),
        error=row[28],
        websocket=bool(row[29]),
        sensitive=_counts(loads(row[30], {})),
        credentials=credentials,
        endpoint=endpoint,
        endpoint_status=row[34],
        anomalies=_anomalies(store, exchange_id),
        extra=_connection(facts) if row[15] is None else {},
        destination=row[36],
        host_mismatch=row[37],
        request_sensitive=_request_sensitive(facts),
    )


# where the request's own text was scanned, the kinds found are kept in facts: a gRPC call's
# request messages (``redact.grpc``), a GraphQL operation's variables and arguments
# (``redact.graphql``)
REQUEST_SENSITIVE_FACTS = ("request_sensitive", "variables_sensitive")


def _request_sensitive(facts: dict[str, Any]) -> dict[str, int]:
    """The sensitive-data kinds found in what the request itself carried, counted."""
    counts: dict[str, int] = {}
    for name in REQUEST_SENSITIVE_FACTS:
        found = facts.get(name)
        if isinstance(found, dict):
            for kind, n in _counts(found).items():
                counts[kind] = counts.get(kind, 0) + n
    return counts


def _counts(found: Any) -> dict[str, int]:
    """Stored sensitive-data counts (kind -> count) as a dict."""
    return {str(k): int(v) for k, v in dict(found).items()}


def _connection(facts: dict[str, Any]) -> dict[str, Any]:
    """An opaque connection's context as ``{"connection": {...}}`` (Zeek's conn.log), or {}."""
    if "conn_state" not in facts:
        return {}
    return {"connection": {k: facts[k] for k in CONNECTION_FACTS if k in facts}}


def _anomalies(store: Store, exchange_id: int) -> tuple[str, ...]:
    """The exchange's recorded HTTP anomalies, when this case's schema has them."""
    columns = {r[1] for r in store.conn.execute("PRAGMA table_info(exchanges)")}
    if "anomalies" not in columns:
        return ()
    row = store.conn.execute(
        "SELECT anomalies FROM exchanges WHERE id = ?", (exchange_id,)
    ).fetchone()
    value = loads(row[0] if row else None, [])
    if isinstance(value, dict):
        return tuple(f"{k}: {v}" if v not in (None, True) else str(k) for k, v in value.items())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


@dataclass(frozen=True, slots=True)
class Extraction:
    """How to get this exchange's own evidence out of its input file."""

    command: str | None  # a shell command (arguments quoted), or None when there is no file
    alternative: str | None
    note: str


def extraction(detail: ExchangeDetail, output: str | None = None) -> Extraction:
    """The command that extracts exactly this exchange's evidence from its input file."""
    path = detail.input_path
    if not path:
        return Extraction(
            None,
            None,
            f"no input file: this exchange came from a live {detail.source} "
            f"({detail.evidence}); its packets were not kept in a file",
        )
    frames = _FRAMES.match(detail.evidence)
    if frames and detail.input_format in ("pcap", "pcapng"):
        first = int(frames[1])
        last = int(frames[2] or frames[1])
        out = output or f"exchange-{detail.id}.pcap"
        condition = [f"frame.number >= {first}", f"frame.number <= {last}"]
        ip = "ipv6" if detail.client_ip and ":" in detail.client_ip else "ip"
        if detail.client_ip and detail.server_ip:
            condition.append(f"{ip}.addr == {detail.client_ip}")
            condition.append(f"{ip}.addr == {detail.server_ip}")
        if detail.client_port and detail.server_port:
            condition.append(f"tcp.port == {detail.client_port}")
            condition.append(f"tcp.port == {detail.server_port}")
        command = shlex.join(["tshark", "-r", path, "-Y", " && ".join(condition), "-w", out])
        alternative = shlex.join(["editcap", "-r", path, out, f"{first}-{last}"])
        return Extraction(
            command,
            alternative,
            f"frames {first}-{last} of its connection; editcap keeps the whole frame range "
            "(frames of other connections inside it too)",
        )
    entry = _ENTRY.match(detail.evidence)
    if entry and detail.input_format == "har":
        command = shlex.join(["jq", f".log.entries[{int(entry[1])}]", path])
        return Extraction(command, None, f"HAR entry {entry[1]} (with its recorded headers)")
    uid = _UID.match(detail.evidence)
    if uid:
        command = shlex.join(["grep", "-F", uid[1], path])
        return Extraction(command, None, f"the Zeek log lines of connection {uid[1]}")
    return Extraction(None, None, f"{detail.evidence} in {path}")


def to_json(detail: ExchangeDetail) -> dict[str, Any]:
    """The exchange as JSON (times ISO 8601)."""
    return {
        "id": detail.id,
        "ts": iso(detail.ts),
        "source": detail.source,
        "evidence": detail.evidence,
        "input": detail.input_path,
        "client": detail.client_ip,
        "server": detail.server_ip,
        "destination": detail.destination,
        "host_mismatch": detail.host_mismatch,
        "method": detail.method,
        "host": detail.host,
        "path": detail.raw_path,
        "status": detail.status,
        "endpoint": detail.endpoint,
        # sensitive-data kinds found in the response and in the request, counted (never values)
        "sensitive": detail.sensitive,
        "request_sensitive": detail.request_sensitive,
        **detail.extra,
        "credentials": [
            {"id": c.credential_id, "location": c.location, "name": c.name, "redacted": c.redacted}
            for c in detail.credentials
        ],
    }
