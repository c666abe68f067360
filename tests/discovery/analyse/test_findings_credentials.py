"""Credential and identity findings: each rule with a positive case and a near-miss negative."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from discovery.analyse.findings import recompute_findings
from discovery.analyse.findings.credentials import max_distinct_in_window, object_ids
from discovery.analyse.recompute import recompute
from discovery.analyse.register import import_register
from discovery.case.blocklist import block_credential
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.timeutil import iso
from discovery.views import queries
from tests.discovery.redact.credentials import tokens as t

T0 = 1_790_000_000.0
DAY = 86400.0
KEY = "Qm9vbGVhbk1hZ2ljS2V5MTIzNDU2"


def obs(
    headers: tuple[tuple[str, str], ...] = (),
    *,
    ts: float = T0,
    target: str = "/v1/orders",
    status: int = 200,
    tls: bool = True,
    client: str = "10.0.0.5",
    blocked: bool = False,
    response_body: bytes = b"",
) -> ObservedExchange:
    return ObservedExchange(
        ts=ts,
        source="pcap",
        evidence=f"frames {int(ts) % 1000}",
        client_ip=client,
        tls=tls,
        method="GET",
        target=target,
        host="api.acme.example",
        status=status,
        request_headers=headers,
        response_body=response_body,
        blocked=blocked,
    )


def ingest(store: Store, *items: ObservedExchange, analyse: bool = True) -> None:
    store.add_exchanges([to_exchange(o, store.fingerprint) for o in items])
    if analyse:
        recompute(store)


def found(store: Store, rule: str) -> list[dict[str, Any]]:
    return queries.findings(store, rule=rule)


def bearer(claims: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {t.hs256_jwt(claims)}"),)


# ----------------------------------------------------------------- long_lived_token


def test_long_lived_token(store: Store) -> None:
    ingest(
        store,
        obs(bearer({"sub": "a", "iat": T0, "exp": T0 + 30 * DAY})),
        obs(bearer({"sub": "b", "iat": T0, "exp": T0 + DAY})),
        obs(bearer({"sub": "c", "iat": T0})),
    )
    rows = found(store, "long_lived_token")
    by_days = {r["evidence"]["lifetime_days"]: r for r in rows}
    assert set(by_days) == {30.0, None}  # the one-day token is fine
    assert (
        by_days[30.0]["severity"] == "medium" and by_days[30.0]["subject"]["type"] == "credential"
    )
    assert by_days[30.0]["evidence"]["limit_from"] == "default"
    assert by_days[None]["severity"] == "high"  # issued, never expires
    assert by_days[30.0]["evidence"]["samples"][0]["evidence"].startswith("frames")


def test_long_lived_uses_the_registers_limit(store: Store, tmp_path: Path) -> None:
    ingest(store, obs(bearer({"sub": "svc", "iat": T0, "exp": T0 + DAY})))
    assert found(store, "long_lived_token") == []
    register = tmp_path / "r.yaml"
    register.write_text("- identity: svc\n  matchers: [{jwt_sub: svc}]\n  max_token_lifetime: 1h\n")
    import_register(store, register)
    recompute(store)
    (row,) = found(store, "long_lived_token")
    assert row["evidence"]["limit_from"] == "register"


def test_long_lived_threshold_is_configurable(store: Store) -> None:
    ingest(store, obs(bearer({"sub": "a", "iat": T0, "exp": T0 + 3 * DAY})))
    assert found(store, "long_lived_token") == []
    store.set_meta("thresholds", '{"long_lived_token_days": 2}')
    recompute_findings(store)
    assert len(found(store, "long_lived_token")) == 1


# ----------------------------------------------------------------- expired_token_in_use


def test_expired_token_accepted(store: Store) -> None:
    headers = bearer({"sub": "a", "iat": T0 - DAY, "exp": T0})
    ingest(
        store,
        obs(headers, ts=T0 - 60),
        obs(headers, ts=T0 + 3600),
        obs(headers, ts=T0 + 7200, status=401),
    )
    (row,) = found(store, "expired_token_in_use")
    assert row["severity"] == "high"
    assert row["evidence"]["successful_after_expiry"] == 1
    assert row["evidence"]["refused_after_expiry"] == 1


@pytest.mark.parametrize(("ts", "status"), [(T0 + 3600, 401), (T0 - 60, 200), (T0 + 60, 200)])
def test_expired_token_near_misses(store: Store, ts: float, status: int) -> None:
    # refused after expiry; used before expiry; used within the clock-skew grace
    ingest(store, obs(bearer({"sub": "a", "iat": T0 - DAY, "exp": T0}), ts=ts, status=status))
    assert found(store, "expired_token_in_use") == []


# ----------------------------------------------------------------- credential_in_query


def test_credential_in_query(store: Store) -> None:
    ingest(store, obs(target=f"/v1/reports?api_key={KEY}&date=2026-11-27", tls=False))
    (row,) = found(store, "credential_in_query")
    assert row["evidence"]["parameters"] == ["api_key"] and row["severity"] == "high"


def test_credential_in_query_near_misses(store: Store) -> None:
    presigned = (
        f"/bucket/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={t.AWS_KEY_ID}"
        f"%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={'ab' * 32}"
    )
    ingest(store, obs((("X-API-Key", KEY),)), obs(target=presigned), obs(target="/v1?key=users"))
    assert store.conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0] == 2
    assert found(store, "credential_in_query") == []


# ----------------------------------------------------------------- cleartext_credential


def test_cleartext_credential(store: Store) -> None:
    ingest(store, obs((("X-API-Key", KEY),), tls=False), obs((("X-API-Key", KEY),), tls=True))
    (row,) = found(store, "cleartext_credential")
    assert row["evidence"]["requests"] == 1 and row["evidence"]["hosts"] == ["api.acme.example"]


def test_cleartext_near_misses(store: Store) -> None:
    sigv4 = (
        f"AWS4-HMAC-SHA256 Credential={t.AWS_KEY_ID}/20261128/us-east-1/s3/aws4_request, "
        f"SignedHeaders=host, Signature={'ab' * 32}"
    )
    ingest(store, obs((("X-API-Key", KEY),), tls=True), obs((("Authorization", sigv4),), tls=False))
    assert found(store, "cleartext_credential") == []


# ----------------------------------------------------------------- credential_multiple_sources


def test_multiple_sources(store: Store) -> None:
    ingest(
        store,
        obs((("X-API-Key", KEY),), client="10.0.0.5"),
        obs((("X-API-Key", KEY),), client="203.0.113.9", ts=T0 + 100),
    )
    (row,) = found(store, "credential_multiple_sources")
    assert [s["client"] for s in row["evidence"]["sources"]] == ["10.0.0.5", "203.0.113.9"]
    assert row["evidence"]["source_count"] == 2


def test_single_source_near_miss(store: Store) -> None:
    ingest(
        store,
        obs((("X-API-Key", KEY),)),
        obs((("X-API-Key", KEY),), ts=T0 + 1),
        obs((("X-API-Key", KEY + "x"),), client="10.0.0.6"),
    )
    assert found(store, "credential_multiple_sources") == []


# ----------------------------------------------------------------- unregistered_identity


def test_unregistered_identity(store: Store, tmp_path: Path) -> None:
    ingest(
        store,
        obs(bearer({"iss": "https://idp", "sub": "svc-known"})),
        obs(bearer({"iss": "https://idp", "sub": "svc-notebook"})),
    )
    assert found(store, "unregistered_identity") == []  # no register yet: nothing to compare
    register = tmp_path / "r.csv"
    register.write_text("identity,kind,owner,matchers\nknown,bot,ops,jwt_sub:svc-known\n")
    import_register(store, register)
    recompute(store)
    (row,) = found(store, "unregistered_identity")
    assert row["subject"] == {"type": "identity", "id": "jwt:https://idp|svc-notebook"}
    assert row["evidence"]["credentials"][0]["kind"] == "jwt"


# ----------------------------------------------------------------- object_enumeration


@pytest.mark.parametrize(
    ("path", "template", "expected"),
    [
        ("/v1/orders/42", "/v1/orders/{id}", ("/v1/orders/{id}", "42")),
        ("/v1/orders/42", None, ("/v1/orders/{id}", "42")),
        ("/v1/users/me", None, None),
        ("/v1/a/1/b/2", "/v1/a/{a}/b/{b}", ("/v1/a/{a}/b/{b}", "1/2")),
        ("/v1/orders", "/v1/orders", None),
    ],
)
def test_object_ids(path: str, template: str | None, expected: tuple[str, str] | None) -> None:
    assert object_ids(path, template) == expected


def test_window() -> None:
    assert max_distinct_in_window(
        [(0, "a"), (1, "b"), (700, "c"), (701, "d"), (702, "a")], 600
    ) == (3, 700)


def test_object_enumeration(store: Store) -> None:
    headers = bearer({"iss": "https://idp", "sub": "svc-scraper"})
    ingest(
        store,
        *[
            obs(
                headers,
                ts=T0 + i * 5,
                target=f"/v1/orders/{1000 + i}",
                status=200 if i % 3 else 404,
            )
            for i in range(60)
        ],
    )
    (row,) = found(store, "object_enumeration")
    assert row["subject"] == {"type": "identity", "id": "jwt:https://idp|svc-scraper"}
    assert row["evidence"]["distinct_ids_in_window"] == 60
    assert row["evidence"]["statuses"] == {"200": 40, "404": 20}


def test_object_enumeration_counts_a_request_once_per_identity(store: Store) -> None:
    # each request carries two tokens of one identity (and one of another): read once per
    # identity, not once per credential
    scraper = [
        t.hs256_jwt({"iss": "https://idp", "sub": "svc-scraper", "jti": jti}) for jti in "ab"
    ]
    other = t.hs256_jwt({"iss": "https://idp", "sub": "svc-other"})
    headers = (
        ("Authorization", f"Bearer {scraper[0]}"),
        ("X-Api-Key", scraper[1]),
        ("X-Auth-Token", other),
    )
    items = [
        obs(headers, ts=T0 + i * 5, target=f"/v1/orders/{1000 + i}", status=200 if i % 3 else 404)
        for i in range(60)
    ]
    ingest(store, *items)
    (links,) = store.conn.execute("SELECT COUNT(*) FROM exchange_credentials").fetchone()
    assert links == 180
    rows = {r["subject"]["id"]: r for r in found(store, "object_enumeration")}
    assert set(rows) == {"jwt:https://idp|svc-scraper", "jwt:https://idp|svc-other"}
    for row in rows.values():
        assert row["evidence"]["requests"] == 60
        assert row["evidence"]["distinct_ids_in_window"] == 60
        assert row["evidence"]["statuses"] == {"200": 40, "404": 20}
        assert row["evidence"]["window_start"] == iso(T0)


def test_object_enumeration_finds_its_walkers_prepared_or_not(store: Store) -> None:
    """The walkers (identities with enough distinct paths) read before the inventory, as the
    findings child does while it waits, give the findings the rule gives alone; the rule
    leaves nothing behind in the connection."""
    from discovery.analyse.findings import PREPARE, thresholds_for
    from discovery.analyse.findings.credentials import object_enumeration

    headers = bearer({"iss": "https://idp", "sub": "svc-scraper"})
    few = bearer({"iss": "https://idp", "sub": "svc-sync"})
    ingest(
        store,
        *[obs(headers, ts=T0 + i * 5, target=f"/v1/orders/{1000 + i}") for i in range(60)],
        *[obs(few, ts=T0 + i * 5, target=f"/v1/orders/{i % 40}") for i in range(60)],
    )
    limits = thresholds_for(store)
    alone = list(object_enumeration(store, limits))
    PREPARE["object_enumeration"](store, limits)
    prepared = list(object_enumeration(store, limits))
    assert [f.subject_id for f in alone] == ["jwt:https://idp|svc-scraper"]
    assert prepared == alone
    temp = store.conn.execute("SELECT name FROM temp.sqlite_master").fetchall()
    assert temp == []


@pytest.mark.parametrize("spread", ["slow", "same id"])
def test_object_enumeration_near_misses(store: Store, spread: str) -> None:
    headers = bearer({"iss": "https://idp", "sub": "svc-sync"})
    if spread == "slow":  # 60 ids, one every two minutes: never 50 in ten minutes
        items = [obs(headers, ts=T0 + i * 120, target=f"/v1/orders/{i}") for i in range(60)]
    else:
        items = [obs(headers, ts=T0 + i, target="/v1/orders/7") for i in range(60)]
    ingest(store, *items)
    assert found(store, "object_enumeration") == []


# ----------------------------------------------------------------- sensitive_data_exposure

PII = b'[{"email":"dana@example.com","card":"4111 1111 1111 1111"},{"email":"lee@example.com"}]'


def _endpoint(store: Store, template: str, status: str) -> int:
    cur = store.conn.execute(
        "INSERT INTO endpoints(host, method, template, status) VALUES ('api.acme.example', 'GET',"
        " ?, ?)",
        (template, status),
    )
    return int(cur.lastrowid or 0)


@pytest.mark.parametrize(
    ("status", "code", "body", "expected"),
    [
        ("shadow", 200, PII, {"email": 2, "payment_card": 1}),
        ("zombie", 200, b'{"a":"x@example.com"}', {"email": 1}),
        ("shadow", 200, b'{"iban":"DE89370400440532013000"}', {"iban": 1}),
        ("shadow", 200, b"-----BEGIN EC PRIVATE KEY-----", {"private_key": 1}),
        ("documented", 200, PII, None),  # documented endpoints are expected to return their data
        ("shadow", 404, PII, None),  # an error page is not an exposure
        ("shadow", 200, b'{"count": 2}', None),
    ],
)
def test_sensitive_data_exposure(
    store: Store, status: str, code: int, body: bytes, expected: dict[str, int] | None
) -> None:
    # Endpoint rows stand in for the classification stage (issue 5), which owns that table.
    ingest(store, obs(target="/v1/internal/export", status=code, response_body=body), analyse=False)
    endpoint = _endpoint(store, "/v1/internal/export", status)
    store.conn.execute("UPDATE exchanges SET endpoint_id = ?", (endpoint,))
    recompute_findings(store)
    rows = found(store, "sensitive_data_exposure")
    if expected is None:
        assert rows == []
        return
    (row,) = rows
    assert row["evidence"]["kinds"] == expected
    assert row["subject"] == {"type": "endpoint", "id": "api.acme.example GET /v1/internal/export"}
    severe = "payment_card" in expected or "private_key" in expected
    assert row["severity"] == ("high" if severe else "medium")
    assert b"dana@example.com" not in repr(row).encode()


# ----------------------------------------------------------------- use_after_revocation


def _block(store: Store, at: float) -> None:
    cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
    block_credential(store, cid, reason="leaked")
    store.conn.execute("UPDATE blocklist SET created_at = ?", (at,))


def test_use_after_revocation(store: Store) -> None:
    headers = (("X-API-Key", KEY),)
    ingest(
        store,
        obs(headers, ts=T0),
        obs(headers, ts=T0 + 100),
        obs(headers, ts=T0 + 200, status=403, blocked=True),
    )
    _block(store, T0 + 50)
    recompute_findings(store)
    (row,) = found(store, "use_after_revocation")
    assert row["severity"] == "critical"
    assert row["evidence"]["succeeded_after_block"] == 1
    assert row["evidence"]["stopped_by_proxy"] == 1


def test_revocation_that_holds_is_not_a_finding(store: Store) -> None:
    headers = (("X-API-Key", KEY),)
    ingest(
        store,
        obs(headers, ts=T0),
        obs(headers, ts=T0 + 100, status=403, blocked=True),
        obs(headers, ts=T0 + 200, status=401),
    )
    _block(store, T0 + 50)
    recompute_findings(store)
    assert found(store, "use_after_revocation") == []


def _revoked_by_runbook(
    store: Store,
    at: float,
    *,
    dry_run: bool = False,
    output: str = '{"revoked": true, "status": 200}',
) -> None:
    # The rows the runbook engine writes for a finished revocation step (engine: issue 8).
    cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
    store.conn.execute(
        "INSERT INTO runbook_runs(id, runbook_id, runbook_sha256, target, dry_run, state, "
        "started_at) VALUES ('r-1', 'revoke-leaked-credential', 'x', ?, ?, 'succeeded', ?)",
        (f"credential:{cid}", int(dry_run), at - 5),
    )
    store.conn.execute(
        "INSERT INTO runbook_steps(run_id, idx, step_id, state, finished_at, output) "
        "VALUES ('r-1', 0, 'revoke', 'done', ?, ?)",
        (at, output),
    )


def test_use_after_runbook_revocation(store: Store) -> None:
    headers = (("X-API-Key", KEY),)
    ingest(store, obs(headers, ts=T0), obs(headers, ts=T0 + 100))
    _revoked_by_runbook(store, T0 + 50)
    recompute_findings(store)
    (row,) = found(store, "use_after_revocation")
    assert (
        row["evidence"]["contained_by"]
        == "revoked by runbook revoke-leaked-credential (step revoke)"
    )


@pytest.mark.parametrize(
    ("dry_run", "output", "at"),
    [
        (True, '{"revoked": true}', T0 + 50),  # a dry run revokes nothing
        (False, '{"plan": "would revoke"}', T0 + 50),  # the step did not report a revocation
        (False, '{"revoked": true}', T0 + 500),
    ],  # revoked after the last use
)
def test_runbook_revocation_near_misses(
    store: Store, dry_run: bool, output: str, at: float
) -> None:
    headers = (("X-API-Key", KEY),)
    ingest(store, obs(headers, ts=T0), obs(headers, ts=T0 + 100))
    _revoked_by_runbook(store, at, dry_run=dry_run, output=output)
    recompute_findings(store)
    assert found(store, "use_after_revocation") == []
