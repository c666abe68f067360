"""A small hand-built case with known answers, written into a real case file.

Exchanges and credentials go in through ``Store.add_exchanges``; the endpoint inventory (the
inventory stage's table) is inserted with SQL, exchanges are assigned to endpoints, and the real
``rebuild_sightings`` stage computes sightings.

    identity  jwt:https://idp.example|billing   (registered as "billing-service", owner team-billing)
      ├─ A  jwt       from 10.0.0.5 -> api GET /v1/users/{id} (documented), api GET /internal/export
      └─ B  jwt       from 10.0.0.6 -> billing GET /v2/invoices (documented)
    identity  aws:AKIAIOSFODNN7EXAMPLE
      └─ C  aws_sigv4 from 10.0.0.7 -> api POST /v1/admin/keys (zombie), api GET /v1/users/{id}
    identity  cred:<D>  (its own identity)
      └─ D  api_key   from 10.0.0.5 -> api GET /internal/export (shadow, sensitive email)
    identity  ops-robot (registered, holds nothing seen)
"""

from __future__ import annotations

from dataclasses import dataclass

from discovery.analyse.sightings import rebuild_sightings
from discovery.case.store import Store
from discovery.models import CredentialSighting
from discovery.redact.secrets import credential_id
from tests.conftest import make_exchange, make_sighting

API = "api.example.com"
BILLING = "billing.example.com"
JWT_IDENTITY = "jwt:https://idp.example|billing"
AWS_IDENTITY = "aws:AKIAIOSFODNN7EXAMPLE"

ENDPOINTS = [
    # (host, method, template, status, sensitive)
    (API, "GET", "/v1/users/{id}", "documented", "{}"),
    (API, "GET", "/internal/export", "shadow", '{"email":5}'),
    (API, "POST", "/v1/admin/keys", "zombie", "{}"),
    (BILLING, "GET", "/v2/invoices", "documented", "{}"),
    (API, "DELETE", "/v1/users/{id}", "orphan", "{}"),
]
USERS = f"{API} GET /v1/users/{{id}}"
EXPORT = f"{API} GET /internal/export"
ADMIN = f"{API} POST /v1/admin/keys"
INVOICES = f"{BILLING} GET /v2/invoices"
ORPHAN = f"{API} DELETE /v1/users/{{id}}"


@dataclass(frozen=True)
class SmallCase:
    """Ids of the small case's credentials (A-D)."""

    a: str
    b: str
    c: str
    d: str


def _jwt(store: Store, secret: str) -> CredentialSighting:
    return make_sighting(
        store,
        secret,
        kind="jwt",
        name="Authorization",
        redacted="eyJ…" + secret[-4:],
        identity=JWT_IDENTITY,
        identity_kind="jwt",
        public_id=None,
        claims=(("iss", "https://idp.example"), ("sub", "billing"), ("scope", "users:read")),
    )


def build_small_case(store: Store) -> SmallCase:
    """Write the small case into ``store`` and return its credential ids."""
    a = _jwt(store, "token-A-aaaaaaaaaaaaaaaa")
    b = _jwt(store, "token-B-bbbbbbbbbbbbbbbb")
    c = make_sighting(
        store,
        "aws-secret-cccccccccccc",
        kind="aws_sigv4",
        name="Authorization",
        redacted="AKIA…MPLE",
        public_id="AKIAIOSFODNN7EXAMPLE",
        identity=AWS_IDENTITY,
        identity_kind="aws",
    )
    d = make_sighting(store, "api-key-dddddddddddddd", kind="api_key", redacted="…dddd")
    traffic = [
        # (sighting, client, host, method, path, status, ts)
        (a, "10.0.0.5", API, "GET", "/v1/users/1", 200, 100.0),
        (a, "10.0.0.5", API, "GET", "/v1/users/2", 200, 110.0),
        (a, "10.0.0.5", API, "GET", "/internal/export", 200, 120.0),
        (b, "10.0.0.6", BILLING, "GET", "/v2/invoices", 200, 130.0),
        (c, "10.0.0.7", API, "POST", "/v1/admin/keys", 201, 140.0),
        (c, "10.0.0.7", API, "GET", "/v1/users/3", 403, 150.0),
        (d, "10.0.0.5", API, "GET", "/internal/export", 200, 160.0),
        (None, "10.0.0.9", API, "GET", "/v1/users/4", 401, 170.0),  # unauthenticated
    ]
    store.add_exchanges(
        make_exchange(
            ts=1_790_000_000.0 + ts,
            client_ip=client,
            host=host,
            method=method,
            path=path,
            raw_path=path,
            status=status,
            credentials=(sighting,) if sighting else (),
        )
        for sighting, client, host, method, path, status, ts in traffic
    )
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO endpoints(host, method, template, status, sensitive) VALUES (?,?,?,?,?)",
            ENDPOINTS,
        )
        ids = {
            (h, m, t): i
            for i, h, m, t in conn.execute("SELECT id, host, method, template FROM endpoints")
        }
        for (host, method, template), endpoint_id in ids.items():
            if "{id}" in template:
                pattern = template.replace("{id}", "%")
                conn.execute(
                    "UPDATE exchanges SET endpoint_id = ? WHERE host = ? AND method = ? "
                    "AND path LIKE ?",
                    (endpoint_id, host, method, pattern),
                )
            else:
                conn.execute(
                    "UPDATE exchanges SET endpoint_id = ? WHERE host = ? AND method = ? "
                    "AND path = ?",
                    (endpoint_id, host, method, template),
                )
        conn.execute(
            "UPDATE endpoints SET "
            "requests = (SELECT COUNT(*) FROM exchanges e WHERE e.endpoint_id = endpoints.id), "
            "first_seen = (SELECT MIN(ts) FROM exchanges e WHERE e.endpoint_id = endpoints.id), "
            "last_seen = (SELECT MAX(ts) FROM exchanges e WHERE e.endpoint_id = endpoints.id)"
        )
        conn.execute(
            "UPDATE identities SET name = 'billing-service', owner = 'team-billing', "
            "kind = 'service-account', registered = 1 WHERE id = ?",
            (JWT_IDENTITY,),
        )
        conn.execute(
            "INSERT INTO identities(id, name, kind, owner, source, registered) "
            "VALUES ('register:ops-robot', 'ops-robot', 'bot', 'team-ops', 'register', 1)"
        )
    rebuild_sightings(store)
    return SmallCase(*(credential_id(s.fingerprint) for s in (a, b, c, d)))
