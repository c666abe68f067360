"""``credential_client_change`` on real TLS conversations (OpenSSL in this process, the client's
key log given to the ingest): a key used first by one tool, then by another."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from discovery.case.store import Store
from discovery.ingest.files import ingest_files
from discovery.views.queries import credentials, findings
from discovery.wire.keylog import load
from tests.discovery.wire import tls_memory as mem

TOKEN = "Bearer 9f1c" + "e4b7a0d2c5f8e1b3a6d9c2f5e8b1a4d7"


def _call(method: str, path: str, agent: str) -> bytes:
    body = b'{"n": 1}' if method == "POST" else b""
    extra = b"Content-Type: application/json\r\nContent-Length: 8\r\n" if body else b""
    return (
        (
            f"{method} {path} HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: {agent}\r\n"
            f"Authorization: {TOKEN}\r\nAccept: */*\r\n"
        ).encode()
        + extra
        + b"\r\n"
        + body
    )


def _case(tmp_path: Path, calls: list[tuple[dict[str, Any], bytes]]) -> Path:
    frames: list[bytes] = []
    keylog = tmp_path / "keys.log"
    for port, (options, request) in enumerate(calls, 41000):
        chunks = mem.conversation(tmp_path, keylog, [request], mem.http1_response, **options)
        frames += mem.frames(chunks, client_port=port)
    capture = tmp_path / "calls.pcap"
    capture.write_bytes(mem.pcap(frames))
    case = tmp_path / "case.db"
    with Store.open(case) as store:
        ingest_files(store, [capture], secrets=load([keylog]))
    return case


OTHER_TLS = {"version": ssl.TLSVersion.TLSv1_2, "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"}


def _client_changes(store: Store) -> list[dict[str, Any]]:
    return [f for f in findings(store) if f["rule"] == "credential_client_change"]


def test_a_key_replayed_from_another_tool_is_a_finding(tmp_path: Path) -> None:
    case = _case(
        tmp_path,
        [
            ({}, _call("GET", "/v1/invoices/1", "svc-billing/2.3")),
            ({}, _call("POST", "/v1/invoices", "svc-billing/2.4")),
            (OTHER_TLS, _call("GET", "/v1/invoices/1", "python-requests/2.31.0")),
        ],
    )
    with Store.open(case) as store:
        found = _client_changes(store)
        creds = credentials(store)
    assert len(found) == 1 and found[0]["severity"] == "high"
    evidence = found[0]["evidence"]
    assert evidence["first_client"]["user_agent"] == "svc-billing/2.3"
    assert [c["user_agent"] for c in evidence["new_clients"]] == ["python-requests/2.31.0"]
    first_ja4, new_ja4 = evidence["first_client"]["ja4"], evidence["new_clients"][0]["ja4"]
    assert first_ja4 and new_ja4 and first_ja4 != new_ja4
    assert found[0]["subject"] == {"type": "credential", "id": creds[0]["id"]}
    prints = creds[0]["fingerprints"]
    assert set(prints["ja4"]) == {first_ja4, new_ja4}
    assert len(prints["ja4h"]) == 2  # GET and POST (content headers): header names only
    assert all(p.startswith(("ge11", "po11")) for p in prints["ja4h"])
    assert "python-requests/2.31.0" in prints["user_agents"]


def test_a_spoofed_user_agent_is_caught_by_the_tls_fingerprint(tmp_path: Path) -> None:
    case = _case(
        tmp_path,
        [
            ({}, _call("GET", "/v1/invoices/1", "svc-billing/2.3")),
            (OTHER_TLS, _call("GET", "/v1/invoices/2", "svc-billing/2.3")),
        ],
    )
    with Store.open(case) as store:
        found = _client_changes(store)
    assert len(found) == 1
    assert found[0]["evidence"]["new_clients"][0]["user_agent"] == "svc-billing/2.3"


def test_near_miss_same_tool_new_version_other_requests_is_no_finding(tmp_path: Path) -> None:
    """One tool: a version bump of its user agent, other methods and headers (another JA4H),
    the same TLS stack: the same client."""
    case = _case(
        tmp_path,
        [
            ({}, _call("GET", "/v1/invoices/1", "svc-billing/2.3")),
            ({}, _call("POST", "/v1/invoices", "svc-billing/2.4")),
            ({}, _call("GET", "/v1/invoices/9", "svc-billing/2.4")),
        ],
    )
    with Store.open(case) as store:
        assert _client_changes(store) == []
        prints = credentials(store)[0]["fingerprints"]
    assert len(prints["ja4"]) == 1 and len(prints["ja4h"]) == 2


def test_the_shared_client_groups_are_the_groups_sql_makes_even_of_invalid_text(
    tmp_path: Path,
) -> None:
    """Two rules group a credential's traffic from one shared pass: by (JA4, user agent) and
    by client address. Hostile bytes that decode to the same text (b"\\xff" and b"\\xfe" both
    read as U+FFFD) stay apart, as SQL's own GROUP BY keeps them."""
    from discovery.analyse.findings.credentials import credential_groups
    from tests.paths import FIXTURES

    with Store.open(tmp_path / "case.db") as store:
        ingest_files(store, [FIXTURES / "pcap" / "http_api.pcap"])
        (cid,) = store.conn.execute(
            "SELECT credential_id FROM exchange_credentials GROUP BY 1 ORDER BY COUNT(*) DESC, 1"
        ).fetchone()
        ids = [
            r[0]
            for r in store.conn.execute(
                "SELECT exchange_id FROM exchange_credentials WHERE credential_id = ? ORDER BY 1",
                (cid,),
            )
        ]
        assert len(ids) >= 5
        # one credential's requests: two invalid byte strings that read the same, one again,
        # an empty text, and a row with no request line (no method) and no text at all
        hostile = [("x'ff'", True), ("x'fe'", True), ("x'ff'", True), ("''", True), ("NULL", False)]
        for exchange_id, (raw, request) in zip(ids, hostile, strict=False):
            store.conn.execute(
                f"UPDATE exchanges SET user_agent = CAST({raw} AS TEXT), "
                f"client_ip = CAST({raw} AS TEXT), method = {'method' if request else 'NULL'} "
                "WHERE id = ?",
                (exchange_id,),
            )
        by_tool = store.conn.execute(
            "SELECT ec.credential_id, e.ja4, e.user_agent, MIN(e.ts), MAX(e.ts), COUNT(*) "
            "FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
            "WHERE e.method IS NOT NULL GROUP BY ec.credential_id, e.ja4, e.user_agent"
        ).fetchall()
        by_client = store.conn.execute(
            "SELECT ec.credential_id, e.client_ip, MIN(e.ts), MAX(e.ts), COUNT(*) "
            "FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
            "WHERE e.client_ip IS NOT NULL GROUP BY ec.credential_id, e.client_ip"
        ).fetchall()
        assert credential_groups(store, "tool") == by_tool
        assert credential_groups(store, "client") == by_client
    assert [row[2] for row in by_tool if row[0] == cid].count("\ufffd") == 2  # apart, though
    assert [row[1] for row in by_client if row[0] == cid].count("\ufffd") == 2  # they read alike
