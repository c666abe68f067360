"""Build the identity-to-API graph from the case with a handful of bulk queries."""

from __future__ import annotations

import gc
import json
import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import networkx as nx

from discovery.case.store import Store
from discovery.views.subjects import Subject

log = logging.getLogger(__name__)

# Node types and edge kinds (edges point from controller to controlled).
IDENTITY, CREDENTIAL, CLIENT, ENDPOINT, SERVICE = (
    "identity",
    "credential",
    "client",
    "endpoint",
    "service",
)
HOLDS, CALLS, PART_OF, PRESENTS = "HOLDS", "CALLS", "PART_OF", "PRESENTS"
ISSUED = "ISSUED"  # a credential that obtained a token at an OAuth token endpoint -> the token

# A path segment naming one of these makes an endpoint privileged (explained per endpoint).
_PRIVILEGED_WORDS = frozenset(
    {
        "admin",
        "admins",
        "administrator",
        "internal",
        "debug",
        "actuator",
        "management",
        "manage",
        "mgmt",
        "superuser",
        "sudo",
        "root",
        "impersonate",
        "impersonation",
        "keys",
        "apikeys",
        "api-keys",
        "api_keys",
        "tokens",
        "secrets",
        "credentials",
        "roles",
        "permissions",
        "privileges",
        "iam",
        "policies",
        "grants",
        "config",
        "settings",
    }
)
_PRIVILEGED_SCOPE = re.compile(
    r"admin|root|superuser|(^|[:._/-])(write|manage|delete)($|[:._/-])", re.IGNORECASE
)


def node_id(node_type: str, ident: str) -> str:
    """The graph node id of a subject: ``TYPE:ID`` (a host is a ``service`` node)."""
    return f"{node_type}:{ident}"


def node_for(subject: Subject) -> str:
    """The graph node id of a resolved subject."""
    return node_id(SERVICE if subject.type == "host" else subject.type, subject.id)


def privileged_reasons(method: str, template: str, scopes: list[str]) -> list[str]:
    """Why an endpoint counts as privileged: path words and spec scopes (empty when it does not)."""
    reasons = []
    for segment in template.lower().split("/"):
        if segment in _PRIVILEGED_WORDS:
            reasons.append(f"path segment {segment!r}")
    for scope in scopes:
        if isinstance(scope, str) and _PRIVILEGED_SCOPE.search(scope):
            reasons.append(f"spec scope {scope!r}")
    return reasons


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _scopes(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(s) for s in raw]
    return []


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while creating many small dicts (about a third of the build time);
    the graph holds no reference cycles for it to find."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_graph(store: Store, focus: Collection[str] | None = None) -> nx.MultiDiGraph:
    """The case as a graph; node attributes carry what the analyses and exports need.

    With ``focus`` (credential ids, see ``discovery.views.graph.focus``) only those credentials and
    their HOLDS/CALLS/PRESENTS edges are loaded, with every identity, endpoint and service: an
    analysis whose answer lies within the focus gets it from a fraction of a large case. The
    counts on identities, credentials, clients and on the endpoints the focus reaches describe
    the whole case; endpoints outside the focus carry zero credential/client counts.
    """
    with _gc_paused():
        return _build(store, None if focus is None else sorted(set(focus)))


def _build(store: Store, focus: list[str] | None) -> nx.MultiDiGraph:
    conn = store.conn
    focus_json = json.dumps(focus) if focus is not None else None
    only = (
        (lambda column: f" {column} IN (SELECT value FROM json_each(?)) ")
        if focus is not None
        else None
    )
    args: tuple[Any, ...] = (focus_json,) if focus is not None else ()
    g: nx.MultiDiGraph = nx.MultiDiGraph(name="ir-console")

    identities = {
        row[0]: {
            "type": IDENTITY,
            "id": row[0],
            "label": row[1],
            "name": row[1],
            "kind": row[2],
            "owner": row[3],
            "source": row[4],
            "registered": bool(row[5]),
            "first_seen": row[6],
            "last_seen": row[7],
            "requests": 0,
            "credentials": 0,
        }
        for row in conn.execute(
            "SELECT id, name, kind, owner, source, registered, first_seen, last_seen "
            "FROM identities"
        )
    }

    credentials: dict[str, dict[str, Any]] = {}
    holds: list[tuple[str, str, str, dict[str, Any]]] = []
    for row in conn.execute(
        "SELECT c.id, c.kind, c.redacted, c.public_id, c.identity_id, c.claims, c.issued_at, "
        "c.expires_at, c.first_seen, c.last_seen, c.requests, b.id IS NOT NULL, c.issued_by "
        "FROM credentials c LEFT JOIN blocklist b "
        "ON b.kind = 'credential' AND b.value = c.fingerprint"
        + (" WHERE" + only("c.id") if only else ""),
        args,
    ):
        cid, ident = row[0], row[4] or f"cred:{row[0]}"
        claims = _json(row[5], {})
        credentials[cid] = {
            "type": CREDENTIAL,
            "id": cid,
            "label": f"{row[1]} {row[2]}",
            "kind": row[1],
            "redacted": row[2],
            "public_id": row[3],
            "identity": ident,
            "claims": claims,
            "scopes": _scopes(claims),
            "issued_at": row[6],
            "expires_at": row[7],
            "first_seen": row[8],
            "last_seen": row[9],
            "requests": row[10],
            "blocked": bool(row[11]),
            "issued_by": row[12],
            "endpoints": 0,
            "clients": 0,
        }
        info = identities.get(ident)
        if info is None:  # an identity row the writers never made: the credential names it
            info = identities[ident] = {
                "type": IDENTITY,
                "id": ident,
                "label": ident,
                "name": ident,
                "kind": None,
                "owner": None,
                "source": "credential",
                "registered": False,
                "first_seen": row[8],
                "last_seen": row[9],
                "requests": 0,
                "credentials": 0,
            }
        holds.append((node_id(IDENTITY, ident), node_id(CREDENTIAL, cid), HOLDS, {"kind": HOLDS}))

    issued: set[tuple[str, str, str, tuple[tuple[str, str], ...]]] = set()
    for token, parents in conn.execute(
        "SELECT DISTINCT credential_id, json_extract(claims, '$.obtained_with') FROM issued_tokens"
    ):
        if token not in credentials:
            continue  # issued, never presented (or outside the focus)
        for parent in _json(parents, []):
            if isinstance(parent, str) and parent in credentials and parent != token:
                edge = (node_id(CREDENTIAL, parent), node_id(CREDENTIAL, token), ISSUED)
                issued.add((*edge, (("kind", ISSUED),)))

    for ident, held, requests in conn.execute(
        "SELECT COALESCE(identity_id, 'cred:' || id), COUNT(*), SUM(requests) FROM credentials "
        "GROUP BY 1"
    ):
        if ident in identities:
            identities[ident]["credentials"] = held
            identities[ident]["requests"] = int(requests or 0)

    blocked_endpoints = {
        r[0] for r in conn.execute("SELECT value FROM blocklist WHERE kind = 'endpoint'")
    }
    endpoints: dict[int, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    part_of: list[tuple[str, str, str, dict[str, Any]]] = []
    for row in conn.execute(
        "SELECT e.id, e.host, e.method, e.template, e.status, e.requests, e.first_seen, "
        "e.last_seen, e.statuses, e.sensitive, so.scopes FROM endpoints e "
        "LEFT JOIN spec_operations so ON so.id = e.spec_operation_id"
    ):
        host, method, template = row[1], row[2], row[3]
        key = f"{host} {method} {template}"
        sensitive = _json(row[9], {})
        reasons = privileged_reasons(method, template, _json(row[10], []))
        endpoints[row[0]] = {
            "type": ENDPOINT,
            "id": key,
            "label": key,
            "host": host,
            "method": method,
            "template": template,
            "status": row[4],
            "requests": row[5],
            "first_seen": row[6],
            "last_seen": row[7],
            "statuses": _json(row[8], {}),
            "sensitive": sensitive,
            "sensitive_kinds": sorted(sensitive),
            "privileged": bool(reasons),
            "privileged_reasons": reasons,
            "blocked": key in blocked_endpoints,
            "credentials": 0,
            "clients": 0,
        }
        service = services.get(host)
        if service is None:
            service = services[host] = {
                "type": SERVICE,
                "id": host,
                "label": host,
                "host": host,
                "requests": 0,
                "endpoints": 0,
                "documented": 0,
                "shadow": 0,
                "zombie": 0,
                "orphan": 0,
                "first_seen": row[6],
                "last_seen": row[7],
            }
        service["requests"] += int(row[5] or 0)
        service["endpoints"] += 1
        if row[4] in ("documented", "shadow", "zombie", "orphan"):
            service[row[4]] += 1
        service["first_seen"] = _min(service["first_seen"], row[6])
        service["last_seen"] = _max(service["last_seen"], row[7])
        part_of.append((node_id(ENDPOINT, key), node_id(SERVICE, host), PART_OF, {"kind": PART_OF}))

    calls = []
    skipped = 0
    for cid, eid, requests, successes, first, last, clients in conn.execute(
        "SELECT credential_id, endpoint_id, SUM(requests), SUM(successes), MIN(first_seen), "
        "MAX(last_seen), COUNT(*) FROM sightings "
        + ("WHERE" + only("credential_id") if only else "")
        + "GROUP BY credential_id, endpoint_id",
        args,
    ):
        cred, endpoint = credentials.get(cid), endpoints.get(eid)
        if cred is None or endpoint is None:
            skipped += 1
            continue
        cred["endpoints"] += 1
        calls.append(
            (
                node_id(CREDENTIAL, cid),
                node_id(ENDPOINT, endpoint["id"]),
                CALLS,
                {
                    "kind": CALLS,
                    "requests": requests,
                    "successes": successes,
                    "first_seen": first,
                    "last_seen": last,
                    "clients": clients,
                },
            )
        )
    for eid, creds, clients in conn.execute(
        "SELECT endpoint_id, COUNT(DISTINCT credential_id), COUNT(DISTINCT NULLIF(client_ip, '')) "
        "FROM sightings "
        + (
            "WHERE endpoint_id IN (SELECT endpoint_id FROM sightings WHERE"
            + only("credential_id")
            + ") "
            if only
            else ""
        )
        + "GROUP BY endpoint_id",
        args,
    ):
        if eid in endpoints:
            endpoints[eid]["credentials"] = creds
            endpoints[eid]["clients"] = clients

    clients_info: dict[str, dict[str, Any]] = {}
    presents = []
    for address, cid, requests, successes, first, last, reached in conn.execute(
        "SELECT client_ip, credential_id, SUM(requests), SUM(successes), MIN(first_seen), "
        "MAX(last_seen), COUNT(*) FROM sightings WHERE client_ip != '' "
        + ("AND" + only("credential_id") if only else "")
        + "GROUP BY client_ip, credential_id",
        args,
    ):
        cred = credentials.get(cid)
        if cred is None:
            skipped += 1
            continue
        cred["clients"] += 1
        client = clients_info.get(address)
        if client is None:
            client = clients_info[address] = {
                "type": CLIENT,
                "id": address,
                "label": address,
                "address": address,
                "requests": 0,
                "credentials": 0,
                "first_seen": first,
                "last_seen": last,
            }
        client["requests"] += int(requests)
        client["credentials"] += 1
        client["first_seen"] = _min(client["first_seen"], first)
        client["last_seen"] = _max(client["last_seen"], last)
        presents.append(
            (
                node_id(CLIENT, address),
                node_id(CREDENTIAL, cid),
                PRESENTS,
                {
                    "kind": PRESENTS,
                    "requests": requests,
                    "successes": successes,
                    "first_seen": first,
                    "last_seen": last,
                    "endpoints": reached,
                },
            )
        )
    if focus is not None and clients_info:  # a client's totals cover all it presented
        for address, creds, requests, first, last in conn.execute(
            "SELECT client_ip, COUNT(DISTINCT credential_id), SUM(requests), MIN(first_seen), "
            "MAX(last_seen) FROM sightings WHERE client_ip IN (SELECT value FROM json_each(?)) "
            "GROUP BY client_ip",
            (json.dumps(sorted(clients_info)),),
        ):
            clients_info[address].update(
                credentials=creds, requests=int(requests or 0), first_seen=first, last_seen=last
            )
    if skipped:
        log.warning(
            "graph: %d sightings name a credential or endpoint missing from the case", skipped
        )

    g.add_nodes_from((node_id(IDENTITY, k), v) for k, v in identities.items())
    g.add_nodes_from((node_id(CREDENTIAL, k), v) for k, v in credentials.items())
    g.add_nodes_from((node_id(CLIENT, k), v) for k, v in clients_info.items())
    g.add_nodes_from((node_id(ENDPOINT, v["id"]), v) for v in endpoints.values())
    g.add_nodes_from((node_id(SERVICE, k), v) for k, v in services.items())
    for edges in (holds, calls, part_of, presents):
        g.add_edges_from(edges)
    g.add_edges_from((u, v, k, dict(attrs)) for u, v, k, attrs in sorted(issued))
    return g


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
