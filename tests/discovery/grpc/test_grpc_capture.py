"""A grpcio client and server on loopback (h2c), captured with tcpdump and ingested: each call is
its method, with grpc-status as its outcome (by name: codes sharing an HTTP status stay apart),
its metadata credentials fingerprinted, the text inside its protobuf responses scanned, and its
request messages read by the credential detectors and the sensitive-data scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discovery.case.store import Store
from tests.discovery.grpc.conftest import Captured
from tests.discovery.grpc.grpc_lab import GET_ACCOUNT_OUTCOMES

pytestmark = pytest.mark.integration


def _rows(case: Path) -> list[tuple[str, str, int, str | None, dict[str, int]]]:
    with Store.open(case) as store:
        return [
            (m, p, s, e, json.loads(sens))
            for m, p, s, e, sens in store.conn.execute(
                "SELECT method, path, status, error, sensitive FROM exchanges ORDER BY ts, id"
            )
        ]


def test_every_call_is_its_method_with_grpc_status_as_the_outcome(captured: Captured) -> None:
    assert captured.outcomes == {
        "get": "OK",
        "get_unauthenticated": "UNAUTHENTICATED",
        "get_forbidden": "PERMISSION_DENIED",
        "get_broken": "INTERNAL",
        "get_lost": "DATA_LOSS",
        "get_crash": "UNKNOWN",
        "get_with_context": "OK",
        "delete": "OK",
        "dump": "OK",
    }
    with Store.open(captured.case) as store:
        rows = store.conn.execute(
            "SELECT method, path, status, protocol, outcome, operation FROM exchanges "
            "ORDER BY ts, id"
        ).fetchall()
    get = ("POST", "/lab.v1.Accounts/GetAccount")
    assert rows == [
        (*get, 200, "grpc", "OK", None),  # grpc-status 0 in the trailers
        (*get, 401, "grpc", "UNAUTHENTICATED", None),  # the HTTP status google.rpc gives it
        (*get, 403, "grpc", "PERMISSION_DENIED", None),
        (*get, 500, "grpc", "INTERNAL", None),  # three codes under HTTP 500, each by its name
        (*get, 500, "grpc", "DATA_LOSS", None),
        (*get, 500, "grpc", "UNKNOWN", None),
        (*get, 200, "grpc", "OK", None),
        ("POST", "/lab.v1.Accounts/DeleteAccount", 200, "grpc", "OK", None),
        ("POST", "/lab.internal.Debug/Dump", 200, "grpc", "OK", None),
    ]
    errors = [e for (e,) in _column(captured.case, "error")]
    assert errors[1] == "grpc-status 16 UNAUTHENTICATED (HTTP 200)"
    assert errors[3] == "grpc-status 13 INTERNAL (HTTP 200)"


def _column(case: Path, name: str) -> list[tuple[str | None]]:
    with Store.open(case) as store:
        return store.conn.execute(f"SELECT {name} FROM exchanges ORDER BY ts, id").fetchall()


def test_methods_are_endpoints_with_outcomes_by_status_name_and_refusals_as_refusals(
    captured: Captured,
) -> None:
    from discovery.views import queries

    with Store.open(captured.case) as store:
        endpoints = {e["template"]: e for e in queries.endpoints(store)}
    assert set(endpoints) == {
        "/lab.v1.Accounts/GetAccount",
        "/lab.v1.Accounts/DeleteAccount",
        "/lab.internal.Debug/Dump",
    }
    get = endpoints["/lab.v1.Accounts/GetAccount"]
    assert get["statuses"] == {"200": 2, "401": 1, "403": 1, "500": 3}
    assert get["protocol"] == "grpc" and get["operation"] == "/lab.v1.Accounts/GetAccount"
    assert get["outcomes"] == GET_ACCOUNT_OUTCOMES
    assert endpoints["/lab.internal.Debug/Dump"]["outcomes"] == {"OK": 1}


def test_text_inside_protobuf_responses_is_scanned_compressed_ones_too(captured: Captured) -> None:
    sensitive: dict[tuple[str, int], dict[str, int]] = {}
    for _m, p, s, _e, sens in _rows(captured.case):
        sensitive.setdefault((p, s), sens)
    # the account's email, the email and card number in its nested profile
    assert sensitive["/lab.v1.Accounts/GetAccount", 200] == {"email": 2, "payment_card": 1}
    # DeleteAccount answers with a gzip-compressed message (grpc-encoding: gzip)
    assert sensitive["/lab.v1.Accounts/DeleteAccount", 200] == {"email": 2, "payment_card": 1}
    assert sensitive["/lab.v1.Accounts/GetAccount", 401] == {}


def test_metadata_credentials_are_detected_and_never_stored_raw(captured: Captured) -> None:
    from discovery.views import queries

    with Store.open(captured.case) as store:
        creds = {c["kind"]: c for c in queries.credentials(store)}
        places = set(store.conn.execute("SELECT DISTINCT location, name FROM exchange_credentials"))
    assert {"bearer", "api_key"} <= set(creds)
    assert creds["bearer"]["redacted"].endswith(captured.lab.token[-4:])
    assert ("header", "authorization") in places and ("header", "x-api-key") in places
    for path in captured.case.parent.glob("case.db*"):
        raw = path.read_bytes()
        assert captured.lab.token.encode() not in raw
        assert captured.lab.api_key.encode() not in raw


def test_request_messages_are_read_for_credentials_and_sensitive_data(captured: Captured) -> None:
    """A JWT inside a request message (a nested field) is a credential of its call, stored as
    its fingerprint and redacted form; the email beside it is counted, never kept."""
    from discovery.views import queries

    token = captured.lab.message_token
    with Store.open(captured.case) as store:
        creds = [c for c in queries.credentials(store) if c["kind"] == "jwt"]
        places = store.conn.execute(
            "SELECT e.outcome, ec.location, ec.name FROM exchange_credentials ec "
            "JOIN exchanges e ON e.id = ec.exchange_id JOIN credentials c "
            "ON c.id = ec.credential_id WHERE c.kind = 'jwt'"
        ).fetchall()
        facts = [f for (f,) in store.conn.execute("SELECT facts FROM exchanges ORDER BY ts, id")]
        calls = {e["template"]: e for e in queries.endpoints(store)}
    assert len(creds) == 1
    (cred,) = creds
    assert cred["claims"]["sub"] == "svc-ledger" and cred["claims"]["iss"].endswith("lab.example")
    assert cred["redacted"].endswith(token[-4:]) and token not in cred["redacted"]
    assert places == [("OK", "body", "protobuf field 2.1")]
    # counted on its endpoint as a credential in an HTTP request's body is (the one rule for
    # what a client sends: secrets are credentials; ``sensitive`` is what the endpoint returns)
    get = calls["/lab.v1.Accounts/GetAccount"]
    assert cred["id"] in get["credentials"]
    assert cred["id"] not in calls["/lab.v1.Accounts/DeleteAccount"]["credentials"]
    assert {"host": get["host"], "method": "POST", "template": get["template"]} in cred["endpoints"]
    # the request's text went through the sensitive-data scan: kinds and counts, in facts
    assert json.loads(facts[6]) == {"request_sensitive": {"email": 1, "jwt": 1}}
    assert [f for i, f in enumerate(facts) if i != 6] == [None] * 8
    for path in captured.case.parent.glob("case.db*"):
        raw = path.read_bytes()
        assert token.encode() not in raw and token.split(".")[1].encode() not in raw
        assert b"contact.lab@example.org" not in raw
