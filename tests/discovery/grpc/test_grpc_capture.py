"""A grpcio client and server on loopback (h2c), captured with tcpdump and ingested: each call is
its method, with grpc-status as its outcome, its metadata credentials fingerprinted and the text
inside its protobuf responses scanned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discovery.case.store import Store
from tests.discovery.grpc.conftest import Captured

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
        "delete": "OK",
        "dump": "OK",
    }
    rows = [(m, p, s, e) for m, p, s, e, _ in _rows(captured.case)]
    assert rows == [
        ("POST", "/lab.v1.Accounts/GetAccount", 200, None),  # grpc-status 0 in the trailers
        ("POST", "/lab.v1.Accounts/GetAccount", 401, "grpc-status 16 UNAUTHENTICATED (HTTP 200)"),
        ("POST", "/lab.v1.Accounts/GetAccount", 403, "grpc-status 7 PERMISSION_DENIED (HTTP 200)"),
        ("POST", "/lab.v1.Accounts/DeleteAccount", 200, None),
        ("POST", "/lab.internal.Debug/Dump", 200, None),
    ]


def test_methods_are_endpoints_as_they_are_and_refusals_count_as_refusals(
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
    assert endpoints["/lab.v1.Accounts/GetAccount"]["statuses"] == {"200": 1, "401": 1, "403": 1}


def test_text_inside_protobuf_responses_is_scanned_compressed_ones_too(captured: Captured) -> None:
    sensitive = {(p, s): sens for _m, p, s, _e, sens in _rows(captured.case)}
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
