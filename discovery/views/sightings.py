"""Where a subject was seen: its credentials' sightings (credential x endpoint x client)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.graph.focus import credentials_of
from discovery.views.subjects import Subject


@dataclass(frozen=True, slots=True)
class SightingRow:
    """A credential seen calling an endpoint from a client, with counts and times."""

    credential: str
    identity: str | None
    client: str
    host: str
    method: str
    template: str
    endpoint_status: str
    requests: int
    successes: int
    first_seen: float | None
    last_seen: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "credential": self.credential,
            "identity": self.identity,
            "client": self.client,
            "host": self.host,
            "method": self.method,
            "template": self.template,
            "endpoint_status": self.endpoint_status,
            "requests": self.requests,
            "successes": self.successes,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
        }


def sightings_of(store: Store, subject: Subject) -> tuple[list[str], list[SightingRow]]:
    """The subject's credentials (sorted) and their sightings that concern it, newest first: at
    the endpoint or host for those, from the address for a client, everywhere otherwise."""
    credentials = sorted(credentials_of(store, subject))
    if not credentials:
        return credentials, []
    where, args = ["s.credential_id IN (SELECT value FROM json_each(?))"], [json.dumps(credentials)]
    if subject.type == "endpoint":
        host, method, template = subject.id.split(" ", 2)
        where.append("ep.host = ? AND ep.method = ? AND ep.template = ?")
        args += [host, method, template]
    elif subject.type == "host":
        where.append("ep.host = ?")
        args.append(subject.id)
    elif subject.type == "client":
        where.append("s.client_ip = ?")
        args.append(subject.id)
    rows = store.conn.execute(
        "SELECT s.credential_id, c.identity_id, s.client_ip, ep.host, ep.method, ep.template, "
        "ep.status, s.requests, s.successes, s.first_seen, s.last_seen FROM sightings s "
        "JOIN endpoints ep ON ep.id = s.endpoint_id JOIN credentials c ON c.id = s.credential_id "
        f"WHERE {' AND '.join(where)} ORDER BY s.last_seen DESC",
        args,
    ).fetchall()
    return credentials, [SightingRow(*r) for r in rows]
