"""The graph of a case built from a real loopback capture (tcpdump, tests/fixtures/pcap), checked
against answers computed independently with SQL over the exchanges."""

from __future__ import annotations

import pytest

from discovery.case.store import Store
from discovery.views.graph import analyses, focus
from discovery.views.graph.build import build_graph
from discovery.views.subjects import resolve_subject
from tests.paths import FIXTURES

CAPTURE = FIXTURES / "pcap" / "http_api.pcap"


@pytest.fixture
def captured(store: Store) -> Store:
    from discovery.ingest.files import ingest_files

    ingest_files(store, [CAPTURE])
    assert store.conn.execute("SELECT COUNT(*) FROM endpoints").fetchone()[0] > 0
    return store


def expected_endpoints(store: Store, credential: str) -> list[str]:
    return sorted(
        f"{h} {m} {t}"
        for h, m, t in store.conn.execute(
            "SELECT DISTINCT ep.host, ep.method, ep.template FROM exchange_credentials ec "
            "JOIN exchanges e ON e.id = ec.exchange_id JOIN endpoints ep ON ep.id = e.endpoint_id "
            "WHERE ec.credential_id = ?",
            (credential,),
        )
    )


def test_blast_radius_and_exposure_match_the_capture(captured: Store) -> None:
    store = captured
    g = build_graph(store)
    credentials = [r[0] for r in store.conn.execute("SELECT id FROM credentials ORDER BY id")]
    # one Bearer token, one API key, and one API key per httpx client
    assert len(credentials) >= 10
    for credential in credentials:
        result = analyses.blast_radius(g, f"credential:{credential}")
        assert sorted(e["id"] for e in result["endpoints"]) == expected_endpoints(
            store, credential
        ), credential
        clients = sorted(
            r[0]
            for r in store.conn.execute(
                "SELECT DISTINCT e.client_ip FROM exchange_credentials ec JOIN exchanges e "
                "ON e.id = ec.exchange_id WHERE ec.credential_id = ? AND e.endpoint_id IS NOT NULL",
                (credential,),
            )
        )
        assert [c["address"] for c in result["clients"]] == clients
        # every client of this loopback capture is the same host: all others are co-credentials
        others = sorted(
            set(
                r[0]
                for r in store.conn.execute(
                    "SELECT DISTINCT credential_id FROM sightings WHERE client_ip IN "
                    f"({','.join('?' for _ in clients)})",
                    clients,
                )
            )
            - {credential}
        )
        assert [c["id"] for c in result["co_credentials"]] == others
        # the focused build the CLI uses gives the same answer
        subject = resolve_subject(store, credential)
        focused = build_graph(store, focus.for_blast_radius(store, subject))
        assert analyses.blast_radius(focused, f"credential:{credential}") == result
    for endpoint_id, host, method, template in store.conn.execute(
        "SELECT id, host, method, template FROM endpoints"
    ).fetchall():
        expected = sorted(
            r[0]
            for r in store.conn.execute(
                "SELECT DISTINCT ec.credential_id FROM exchange_credentials ec JOIN exchanges e "
                "ON e.id = ec.exchange_id WHERE e.endpoint_id = ?",
                (endpoint_id,),
            )
        )
        found = analyses.exposure(g, f"endpoint:{host} {method} {template}")
        assert sorted(c["id"] for c in found["credentials"]) == expected


def test_what_if_on_the_capture(captured: Store) -> None:
    g = build_graph(captured)
    (bearer,) = [
        r[0]
        for r in captured.conn.execute(
            "SELECT id FROM credentials WHERE kind = 'jwt' OR kind LIKE 'bearer%'"
        )
    ]
    result = analyses.what_if(g, [f"credential:{bearer}"])
    # endpoints only the Bearer token called are no longer reached by anyone
    only_bearer = {
        f"{h} {m} {t}"
        for h, m, t in captured.conn.execute(
            "SELECT ep.host, ep.method, ep.template FROM endpoints ep WHERE "
            "(SELECT COUNT(DISTINCT credential_id) FROM sightings s WHERE s.endpoint_id = ep.id) = 1 "
            "AND EXISTS (SELECT 1 FROM sightings s WHERE s.endpoint_id = ep.id "
            "AND s.credential_id = ?)",
            (bearer,),
        )
    }
    assert only_bearer
    assert {e["id"] for e in result["endpoints"] if e["unreached"]} == only_bearer
