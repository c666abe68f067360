"""Subjects are named one way everywhere: every accepted form resolves to the right subject."""

from __future__ import annotations

import json

import pytest

from discovery.case.blocklist import block_credential, block_endpoint
from discovery.case.store import Store
from discovery.errors import SubjectNotFound
from discovery.views.subjects import Subject, resolve_subject
from tests.discovery.casebuilder import (
    API,
    AWS_IDENTITY,
    EXPORT,
    JWT_IDENTITY,
    USERS,
    SmallCase,
    build_small_case,
)


@pytest.fixture
def small(store: Store) -> SmallCase:
    return build_small_case(store)


def _forms(case: SmallCase) -> list[tuple[str, str, str]]:
    """(text the user types, expected type, expected canonical id)."""
    return [
        (case.a, "credential", case.a),
        (case.a.upper(), "credential", case.a),
        (f"credential:{case.a}", "credential", case.a),
        (f"  {case.c}  ", "credential", case.c),
        (JWT_IDENTITY, "identity", JWT_IDENTITY),
        (f"identity:{JWT_IDENTITY}", "identity", JWT_IDENTITY),
        ("billing-service", "identity", JWT_IDENTITY),  # registered name
        (AWS_IDENTITY, "identity", AWS_IDENTITY),
        ("ops-robot", "identity", "register:ops-robot"),
        (f"cred:{case.d}", "identity", f"cred:{case.d}"),  # a credential that is its own identity
        (USERS, "endpoint", USERS),
        ("API.EXAMPLE.COM get /v1/users/{id}", "endpoint", USERS),
        (f"endpoint:{EXPORT}", "endpoint", EXPORT),
        (API, "host", API),
        ("Api.Example.Com", "host", API),
        (f"host:{API}", "host", API),
        (f"service:{API}", "host", API),
        ("10.0.0.5", "client", "10.0.0.5"),
        ("client:10.0.0.9", "client", "10.0.0.9"),
    ]


def test_every_accepted_form_resolves(store: Store, small: SmallCase) -> None:
    for text, kind, ident in _forms(small):
        subject = resolve_subject(store, text)
        assert (subject.type, subject.id) == (kind, ident), text
        # the explicit form round-trips to the same subject
        assert resolve_subject(store, subject.ref) == subject


@pytest.mark.parametrize(
    "text",
    [
        "c-000000000000",
        "credential:c-000000000000",
        "jwt:https://nobody|none",
        "api.example.com GET /nope",
        "endpoint:api.example.com GET /nope",
        "endpoint:not an endpoint form",
        "nowhere.example.com",
        "10.9.9.9",
        "identity:",
        "   ",
        "host:api.example.com:\x1b[31m",
    ],
)
def test_unknown_subjects_raise_one_line_exit_2(store: Store, small: SmallCase, text: str) -> None:
    with pytest.raises(SubjectNotFound) as info:
        resolve_subject(store, text)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert info.value.exit_code == 2


def test_credential_facts_are_non_secret_and_complete(store: Store, small: SmallCase) -> None:
    subject = resolve_subject(store, small.a)
    facts = subject.facts
    assert facts["kind"] == "jwt"
    assert facts["redacted"].startswith("eyJ…")
    assert facts["identity"] == JWT_IDENTITY
    assert facts["identity_name"] == "billing-service"
    assert facts["claims"] == {
        "iss": "https://idp.example",
        "sub": "billing",
        "scope": "users:read",
    }
    assert facts["sources"] == ["10.0.0.5"]
    assert facts["requests"] == 3
    assert facts["endpoints"] == 2
    assert facts["first_seen"].endswith("Z") and facts["first_seen"] < facts["last_seen"]
    assert facts["blocked"] is False
    # the fingerprint is available for the blocklist, but is not a fact and not in the JSON form
    fingerprint = store.conn.execute(
        "SELECT fingerprint FROM credentials WHERE id = ?", (small.a,)
    ).fetchone()[0]
    assert subject.fingerprint == fingerprint
    rendered = json.dumps(subject.to_json())
    assert fingerprint not in rendered and "token-A" not in rendered
    assert fingerprint not in repr(subject)


def test_blocked_flag_follows_the_blocklist(store: Store, small: SmallCase) -> None:
    block_credential(store, small.c, reason="leak")
    block_endpoint(store, EXPORT)
    assert resolve_subject(store, small.c).facts["blocked"] is True
    assert resolve_subject(store, EXPORT).facts["blocked"] is True
    assert resolve_subject(store, USERS).facts["blocked"] is False


def test_endpoint_host_identity_and_client_facts(store: Store, small: SmallCase) -> None:
    export = resolve_subject(store, EXPORT).facts
    assert (export["status"], export["sensitive"], export["requests"]) == (
        "shadow",
        {"email": 5},
        2,
    )
    assert (export["credentials"], export["clients"]) == (2, 1)
    host = resolve_subject(store, API).facts
    assert host["endpoints"] == {"documented": 1, "orphan": 1, "shadow": 1, "zombie": 1}
    assert host["requests"] == 7
    ident = resolve_subject(store, "billing-service")
    assert ident.label == "billing-service"
    assert ident.facts["owner"] == "team-billing" and ident.facts["registered"] is True
    assert sorted(ident.facts["credentials"]) == sorted([small.a, small.b])
    client = resolve_subject(store, "10.0.0.5").facts
    assert sorted(client["credentials"]) == sorted([small.a, small.d])
    assert client["hosts"] == [API]


def test_ambiguous_name_is_refused_not_guessed(store: Store, small: SmallCase) -> None:
    # an identity whose name is also a host: the user must say which
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO identities(id, name, source, registered) "
            "VALUES ('register:api', ?, 'register', 1)",
            (API,),
        )
    with pytest.raises(SubjectNotFound, match="ambiguous"):
        resolve_subject(store, API)
    assert resolve_subject(store, f"host:{API}").type == "host"
    assert resolve_subject(store, f"identity:{API}").id == "register:api"


def test_subject_is_hashable_and_compares_by_identity() -> None:
    one = Subject("host", "h", "h", {"x": 1})
    two = Subject("host", "h", "h", {"x": 2})
    assert one == two and len({one, two}) == 1


def test_damaged_json_columns_read_as_empty(store: Store, small: SmallCase) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE endpoints SET sensitive = '{not json', statuses = '['")
        conn.execute("UPDATE credentials SET claims = 'x' WHERE id = ?", (small.a,))
    assert resolve_subject(store, EXPORT).facts["sensitive"] == {}
    assert resolve_subject(store, small.a).facts["claims"] == {}
