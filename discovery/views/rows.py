"""The typed rows the read side returns: frozen dataclasses, times as epoch seconds.

``to_json()`` gives the documented JSON shape of the CLI's ``--json`` (docs/cli.md: times as ISO
8601 UTC strings); the console and the runbooks read the fields. Text is as the case holds it
(invalid UTF-8 already shown as U+FFFD by the store): callers sanitize before display.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from discovery.timeutil import iso

log = logging.getLogger(__name__)


def loads(text: str | bytes | None, default: Any) -> Any:
    """A JSON column's value; a damaged or empty one reads as ``default`` (logged)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        log.warning("damaged JSON column value %r; shown as %r", str(text)[:40], default)
        return default


def endpoint_key(host: str, method: str, template: str) -> str:
    """How the CLI, the blocklist and the graph name an endpoint: ``HOST METHOD TEMPLATE``."""
    return f"{host} {method} {template}"


@dataclass(frozen=True, slots=True)
class HostRow:
    """A host seen in traffic (TLS-only hosts included) and the spec that documents it."""

    host: str
    tls: bool
    requests: int
    endpoints: int
    first_seen: float | None
    last_seen: float | None
    spec: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "tls": self.tls,
            "requests": self.requests,
            "endpoints": self.endpoints,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "spec": self.spec,
        }


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """One (host, method, template) of the inventory and its classification."""

    id: int
    host: str
    method: str
    template: str
    status: str
    requests: int
    first_seen: float | None
    last_seen: float | None
    statuses: Mapping[str, int] = field(default_factory=dict)
    credentials: tuple[str, ...] = ()  # ids of the credentials that called it
    blocked: bool = False
    # an API operation carried by the template's path (GraphQL): its protocol, its name
    # ("mutation createUser"), and its answers by the protocol's own outcome ({"errors": n})
    protocol: str | None = None
    operation: str | None = None
    outcomes: Mapping[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return endpoint_key(self.host, self.method, self.template)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "method": self.method,
            "template": self.template,
            "status": self.status,
            "requests": self.requests,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "statuses": dict(self.statuses),
            "credentials": list(self.credentials),
        }
        if self.protocol:  # an API operation's endpoint says what it is
            out |= {
                "protocol": self.protocol,
                "operation": self.operation,
                "outcomes": dict(self.outcomes),
            }
        return out


@dataclass(frozen=True, slots=True)
class EndpointRef:
    """An endpoint named by its parts (what a credential reached)."""

    host: str
    method: str
    template: str

    def to_json(self) -> dict[str, str]:
        return {"host": self.host, "method": self.method, "template": self.template}


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """A credential seen in traffic: redacted, never raw."""

    id: str
    kind: str
    redacted: str
    identity: str | None
    first_seen: float | None
    last_seen: float | None
    requests: int
    issued_at: float | None
    expires_at: float | None
    claims: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # client addresses that presented it
    endpoints: tuple[EndpointRef, ...] = ()
    blocked: bool = False
    issued_by: str | None = None  # the client identity that obtained it (OAuth lineage)
    # how the clients that presented it look: {"ja4": [...], "ja4h": [...], "user_agents": [...]}
    fingerprints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def lifetime_s(self) -> float | None:
        """Seconds from issue to expiry, when both are known."""
        if self.issued_at is None or not self.expires_at:
            return None
        return self.expires_at - self.issued_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "redacted": self.redacted,
            "identity": self.identity,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "requests": self.requests,
            "sources": list(self.sources),
            "endpoints": [e.to_json() for e in self.endpoints],
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
            "claims": dict(self.claims),
            "blocked": self.blocked,
            "issued_by": self.issued_by,
            "fingerprints": {
                "ja4": list(self.fingerprints.get("ja4", ())),
                "ja4h": list(self.fingerprints.get("ja4h", ())),
                "user_agents": list(self.fingerprints.get("user_agents", ())),
            },
        }


@dataclass(frozen=True, slots=True)
class IdentityRow:
    """A registered or observed identity and the credentials it holds."""

    id: str
    name: str
    kind: str | None
    owner: str | None
    source: str
    registered: bool
    first_seen: float | None
    last_seen: float | None
    credentials: tuple[str, ...] = ()
    requests: int = 0
    rowid: int = 0  # opens the identity byte-exactly, whatever its id holds
    issued_tokens: int = 0  # tokens token responses issued to it (OAuth lineage)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "owner": self.owner,
            "source": self.source,
            "registered": self.registered,
            "credentials": list(self.credentials),
            "requests": self.requests,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "issued_tokens": self.issued_tokens,
        }


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A finding: which rule fired, how severe, about which subject, with which evidence."""

    id: str
    rule: str
    severity: str
    title: str
    subject_type: str
    subject_id: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    first_seen: float | None = None
    last_seen: float | None = None
    created_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "subject": {"type": self.subject_type, "id": self.subject_id},
            "evidence": dict(self.evidence),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
        }


@dataclass(frozen=True, slots=True)
class ExchangeRow:
    """One stored exchange (metadata only: the case holds no raw secret)."""

    id: int
    ts: float
    source: str
    evidence: str
    client_ip: str | None
    host: str | None
    method: str | None
    path: str | None
    raw_path: str | None
    status: int | None
    user_agent: str | None
    tls: bool
    sni: str | None
    blocked: bool


@dataclass(frozen=True, slots=True)
class Caller:
    """A credential that called an endpoint, with its counts there."""

    credential_id: str
    kind: str | None
    redacted: str | None
    identity: str | None
    requests: int
    successes: int
    clients: int
    last_seen: float | None


@dataclass(frozen=True, slots=True)
class EndpointUse:
    """An endpoint an identity's credentials reached, and how often."""

    endpoint_id: int
    host: str
    method: str
    template: str
    status: str
    requests: int


@dataclass(frozen=True, slots=True)
class GrpcMethod:
    """An endpoint that is a gRPC method: its service, its name, and its outcomes by status
    name (the endpoint's ``outcomes``; in a case ingested before they were stored, read back
    from the HTTP statuses, codes sharing one, such as INTERNAL and UNKNOWN under 500, named
    together)."""

    service: str
    method: str
    outcomes: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class EndpointDetail:
    """One endpoint: why its template, its callers, a sample of its evidence, its findings."""

    endpoint: EndpointRow
    explanation: Any
    sensitive: Mapping[str, int]
    callers: tuple[Caller, ...]
    samples: tuple[ExchangeRow, ...]
    findings: tuple[FindingRow, ...]
    grpc: GrpcMethod | None = None  # set when the endpoint's calls were gRPC


@dataclass(frozen=True, slots=True)
class CredentialDetail:
    """One credential with its findings."""

    credential: CredentialRow
    findings: tuple[FindingRow, ...]


@dataclass(frozen=True, slots=True)
class IdentityDetail:
    """One identity: what the register says, the credentials it holds, what it reaches."""

    identity: IdentityRow
    allowed_scopes: Any
    max_token_lifetime: float | None
    rotation_period: float | None
    credentials: tuple[CredentialRow, ...]
    endpoints: tuple[EndpointUse, ...]
    findings: tuple[FindingRow, ...]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One entry of the hash-chained audit log (``details`` parsed when it is JSON)."""

    seq: int
    ts: float
    actor: str
    action: str
    subject: str | None
    details: Any
    hash: str


@dataclass(frozen=True, slots=True)
class RunRow:
    """A runbook run as the engine recorded it."""

    id: str
    runbook_id: str
    target: str
    dry_run: bool
    state: str
    started_at: float | None
    finished_at: float | None
    outcome: str | None
    operator: str | None


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step of a run."""

    idx: int
    step_id: str
    state: str
    attempts: int
    started_at: float | None
    finished_at: float | None
    error: str | None
    output: Any
