"""Endpoint and scope findings against a real spec import: each rule with a positive case and a
near-miss negative (docs/findings.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from discovery.analyse.findings.scopes import Presented, fits_scheme, satisfied, token_scopes
from discovery.analyse.recompute import recompute
from discovery.analyse.specs import import_spec_file
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.views import queries
from tests.discovery.redact.credentials import tokens as t

T0 = 1_790_000_000.0
API = "api.acme.example"
SPEC = """
openapi: 3.0.3
info: {title: Acme, version: "1"}
servers: [{url: "https://api.acme.example/v1"}]
security: [{oauth2: []}]
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://auth.acme.example/token
          scopes: {orders:read: r, orders:write: w, refunds:write: rf, admin: a}
    partnerKey: {type: apiKey, in: header, name: X-API-Key}
paths:
  /orders:
    get: {security: [{oauth2: [orders:read]}], responses: {"200": {description: ok}}}
    post: {security: [{oauth2: [orders:write]}], responses: {"201": {description: ok}}}
  /orders/{id}:
    get:
      security: [{oauth2: [orders:read]}, {partnerKey: []}]
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses: {"200": {description: ok}}
  /refunds:
    post: {security: [{oauth2: [refunds:write]}], responses: {"201": {description: ok}}}
  /admin/settings:
    get: {security: [{oauth2: [admin]}], responses: {"200": {description: ok}}}
  /reports/legacy:
    get: {deprecated: true, responses: {"200": {description: ok}}}
  /health:
    get: {security: [], responses: {"200": {description: ok}}}
"""


def obs(
    target: str,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    method: str = "GET",
    status: int = 200,
    client: str = "10.0.0.5",
    host: str = API,
    ts: float = T0,
    source: str = "pcap",
) -> ObservedExchange:
    return ObservedExchange(
        ts=ts,
        source=source,
        evidence=f"frames {int(ts) % 10000}",
        client_ip=client,
        tls=True,
        method=method,
        target=target,
        host=host,
        status=status,
        request_headers=headers,
    )


def bearer(scope: str | None, sub: str = "svc") -> tuple[tuple[str, str], ...]:
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": "https://auth.acme.example",
        "iat": T0,
        "exp": T0 + 3600,
    }
    if scope is not None:
        claims["scope"] = scope
    return (("Authorization", f"Bearer {t.hs256_jwt(claims)}"),)


PARTNER = (("X-API-Key", "pk_live_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"),)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(SPEC)
    return path


def load(store: Store, spec: Path | None, *items: ObservedExchange) -> None:
    store.add_exchanges([to_exchange(o, store.fingerprint) for o in items])
    if spec is not None:
        import_spec_file(store, spec)
    else:
        recompute(store)


def found(store: Store, rule: str) -> list[dict[str, Any]]:
    return queries.findings(store, rule=rule)


def subjects(store: Store, rule: str) -> set[str]:
    return {r["subject"]["id"] for r in found(store, rule)}


# ----------------------------------------------------------------- shadow_endpoint_access


def test_shadow_endpoints_on_documented_and_undocumented_hosts(
    store: Store, spec_file: Path
) -> None:
    token = bearer("orders:read orders:write")
    load(
        store,
        spec_file,
        obs("/v1/orders", headers=token),  # documented
        obs("/v1/internal/export", headers=token),  # unknown path
        obs("/v1/orders/7", method="DELETE", status=403, headers=token),  # unknown method
        obs("/status", host="legacy.acme.example"),  # host without a spec
        obs("/export.csv", host="legacy.acme.example"),
    )
    rows = {r["subject"]["id"]: r for r in found(store, "shadow_endpoint_access")}
    assert set(rows) == {
        f"{API} GET /v1/internal/export",
        f"{API} DELETE /v1/orders/{{id}}",
        "legacy.acme.example",
    }
    export = rows[f"{API} GET /v1/internal/export"]
    assert export["severity"] == "medium" and export["evidence"]["successes"] == 1
    assert "no documented path" in export["evidence"]["why_shadow"]
    assert export["evidence"]["samples"][0]["evidence"].startswith("frames")
    # every call refused: still served, but low
    assert rows[f"{API} DELETE /v1/orders/{{id}}"]["severity"] == "low"
    assert "not for DELETE" in rows[f"{API} DELETE /v1/orders/{{id}}"]["evidence"]["why_shadow"]
    legacy = rows["legacy.acme.example"]
    assert legacy["subject"]["type"] == "host" and legacy["evidence"]["endpoint_count"] == 2


def test_no_shadow_findings_without_any_spec(store: Store) -> None:
    load(store, None, obs("/v1/internal/export"), obs("/v1/orders"))
    assert {e["status"] for e in queries.endpoints(store)} == {"shadow"}
    assert found(store, "shadow_endpoint_access") == []


def test_unauthenticated_shadow_success_is_high(store: Store, spec_file: Path) -> None:
    load(store, spec_file, obs("/v1/debug/vars"))
    (row,) = found(store, "shadow_endpoint_access")
    assert row["severity"] == "high" and row["evidence"]["unauthenticated_requests"] == 1


# ----------------------------------------------------------------- zombie_endpoint_access


def test_zombie_endpoint_access(store: Store, spec_file: Path) -> None:
    load(
        store,
        spec_file,
        obs("/v1/reports/legacy", headers=bearer("orders:read"), client="10.0.0.8"),
        obs("/v1/orders", headers=bearer("orders:read")),
    )
    (row,) = found(store, "zombie_endpoint_access")
    assert row["subject"]["id"] == f"{API} GET /v1/reports/legacy"
    assert row["evidence"]["spec"] == "Acme" and row["evidence"]["successes"] == 1
    assert row["evidence"]["identities"]["items"] == ["jwt:https://auth.acme.example|svc"]


def test_deprecated_but_never_called_is_an_orphan_not_a_finding(
    store: Store, spec_file: Path
) -> None:
    load(store, spec_file, obs("/v1/orders", headers=bearer("orders:read")))
    assert found(store, "zombie_endpoint_access") == []
    status = {(e["method"], e["template"]): e["status"] for e in queries.endpoints(store)}
    assert status[("GET", "/v1/reports/legacy")] == "orphan"


# ----------------------------------------------------------------- unauthenticated_access


def test_unauthenticated_access(store: Store, spec_file: Path) -> None:
    load(
        store,
        spec_file,
        obs("/v1/orders/7", client="10.9.9.9"),  # no credential, 200
        obs("/v1/orders/8", client="10.9.9.9", status=401),  # refused: enforced
        obs("/v1/orders", headers=bearer("orders:read")),  # has a credential
        obs("/v1/health"),  # security: []
        obs("/v1/orders", source="zeek"),
    )  # Zeek logs no headers
    (row,) = found(store, "unauthenticated_access")
    assert row["subject"]["id"] == f"{API} GET /v1/orders/{{id}}"
    assert row["evidence"]["successful_unauthenticated_requests"] == 1
    assert row["evidence"]["clients"]["items"] == ["10.9.9.9"]
    assert row["severity"] == "high"


def test_refused_anonymous_calls_are_not_unauthenticated_access(
    store: Store, spec_file: Path
) -> None:
    load(store, spec_file, obs("/v1/orders", status=401), obs("/v1/admin/settings", status=403))
    assert found(store, "unauthenticated_access") == []


# ----------------------------------------------------------------- route_probing

PROBES = [
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/actuator/env",
    "/admin.php",
    "/phpinfo.php",
    "/server-status",
    "/.aws/credentials",
    "/config.json",
    "/backup.zip",
    "/debug",
    "/console",
]


def test_route_probing(store: Store, spec_file: Path) -> None:
    scanner = [obs(p, client="10.6.6.6", status=404, ts=T0 + i) for i, p in enumerate(PROBES)]
    shy = [obs(p, client="10.7.7.7", status=404) for p in PROBES[:5]]
    load(store, spec_file, *scanner, *shy, obs("/v1/orders", headers=bearer("orders:read")))
    (row,) = found(store, "route_probing")
    assert row["subject"] == {"type": "client", "id": "10.6.6.6"}
    assert row["evidence"]["hosts"][API]["count"] == len(PROBES)
    assert row["evidence"]["requests"] == len(PROBES)
    # probed paths are not endpoints
    assert not any(e["template"] in PROBES for e in queries.endpoints(store))


def test_a_404_path_that_answers_elsewhere_is_not_a_probe(store: Store, spec_file: Path) -> None:
    scanner = [obs(p, client="10.6.6.6", status=404) for p in PROBES[:10]]
    # one of them answers 200 to somebody: it is a real route, so only 9 probes remain
    load(store, spec_file, *scanner, obs(PROBES[0], client="10.1.1.1", status=200))
    assert found(store, "route_probing") == []


# ----------------------------------------------------------------- scope_violation


def test_scope_violation_missing_scope(store: Store, spec_file: Path) -> None:
    load(
        store,
        spec_file,
        obs("/v1/admin/settings", headers=bearer("orders:read", sub="weak")),  # violation
        obs("/v1/admin/settings", headers=bearer("admin", sub="root")),  # allowed
        obs("/v1/admin/settings", headers=bearer("orders:read", sub="denied"), status=403),
    )
    (row,) = found(store, "scope_violation")
    assert row["subject"]["id"] == f"{API} GET /v1/admin/settings"
    (cred,) = row["evidence"]["credentials"]
    assert cred["identity"] == "jwt:https://auth.acme.example|weak"
    assert cred["missing"] == ["oauth2 scope admin"]


def test_scope_violation_wrong_kind_of_credential(store: Store, spec_file: Path) -> None:
    # the partner key is one alternative of GET /orders/{id}, but not of GET /orders
    load(store, spec_file, obs("/v1/orders/7", headers=PARTNER), obs("/v1/orders", headers=PARTNER))
    (row,) = found(store, "scope_violation")
    assert row["subject"]["id"] == f"{API} GET /v1/orders"
    assert row["evidence"]["credentials"][0]["presented_as"] == "header x-api-key"


def test_opaque_tokens_are_never_judged_on_scopes(store: Store, spec_file: Path) -> None:
    load(
        store,
        spec_file,
        obs(
            "/v1/admin/settings",
            headers=(("Authorization", "Bearer 8f1c2d3e4b5a69788796a5b4c3d2e1f0"),),
        ),
    )
    assert found(store, "scope_violation") == []


# ----------------------------------------------------------------- excess_privilege


def test_excess_privilege(store: Store, spec_file: Path) -> None:
    load(
        store,
        spec_file,
        obs("/v1/orders", headers=bearer("orders:read refunds:write openid", sub="wide")),
        obs("/v1/orders", headers=bearer("orders:read openid", sub="tight")),
    )
    (row,) = found(store, "excess_privilege")
    evidence = row["evidence"]
    assert evidence["identity"] == "jwt:https://auth.acme.example|wide"
    assert evidence["unused"] == ["refunds:write"]  # openid: no spec names it, not judged
    assert evidence["not_in_any_spec"] == ["openid"]
    assert evidence["needed"] == ["orders:read"]
    assert row["severity"] == "medium"  # refunds:write writes


def test_excess_privilege_beyond_the_register(
    store: Store, spec_file: Path, tmp_path: Path
) -> None:
    from discovery.analyse.register import import_register

    register = tmp_path / "r.yaml"
    register.write_text(
        "- identity: svc\n  matchers: [{jwt_sub: svc}]\n  allowed_scopes: [orders:read]\n"
    )
    load(
        store,
        spec_file,
        obs("/v1/orders", headers=bearer("orders:read orders:write")),
        obs("/v1/orders", method="POST", status=201, headers=bearer("orders:read orders:write")),
    )
    assert found(store, "excess_privilege") == []  # both scopes are used
    import_register(store, register)
    recompute(store)
    (row,) = found(store, "excess_privilege")
    assert row["evidence"]["beyond_register"] == ["orders:write"]
    assert row["evidence"]["unused"] == []


# ----------------------------------------------------------------- the pure helpers

SCHEMES = {
    "key": {"type": "apiKey", "in": "query", "name": "api_key"},
    "basic": {"type": "http", "scheme": "basic"},
    "oauth": {"type": "oauth2"},
}


@pytest.mark.parametrize(
    ("cred", "scheme", "fits"),
    [
        (Presented("c", "api_key", "query", "api_key", None), "key", True),
        (Presented("c", "api_key", "header", "api_key", None), "key", False),
        (Presented("c", "basic", "header", "authorization", None), "basic", True),
        (Presented("c", "jwt", "header", "authorization", None), "basic", False),
        (Presented("c", "jwt", "header", "authorization", frozenset()), "oauth", True),
        (Presented("c", "basic", "header", "authorization", None), "oauth", False),
        (Presented("c", "api_key", "header", "x-whatever", None), "unknown", True),
    ],
)
def test_fits_scheme(cred: Presented, scheme: str, fits: bool) -> None:
    assert fits_scheme(cred, SCHEMES.get(scheme)) is fits


def test_satisfied_needs_every_scheme_of_an_alternative() -> None:
    token = Presented("c", "jwt", "header", "authorization", frozenset({"a", "b"}))
    assert satisfied({"oauth": ["a"]}, SCHEMES, [token])[0]
    ok, _, missing = satisfied({"oauth": ["a"], "key": []}, SCHEMES, [token])
    assert not ok and missing == ["key (apiKey)"]
    assert token_scopes({"scp": ["x", "y"]}) == {"x", "y"}
    assert token_scopes({"sub": "s"}) is None
