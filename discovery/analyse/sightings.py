"""The ``sightings`` table: credential x endpoint x client, with counts and first/last seen."""

from __future__ import annotations

from discovery.case.store import Store


def rebuild_sightings(store: Store) -> None:
    """Recompute sightings from exchanges that have been assigned an endpoint."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM sightings")
        conn.execute(
            "INSERT INTO sightings(credential_id, endpoint_id, client_ip, requests, successes, "
            "first_seen, last_seen) "
            "SELECT ec.credential_id, e.endpoint_id, COALESCE(e.client_ip, ''), COUNT(*), "
            "SUM(CASE WHEN e.status BETWEEN 200 AND 399 THEN 1 ELSE 0 END), MIN(e.ts), MAX(e.ts) "
            "FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
            "WHERE e.endpoint_id IS NOT NULL "
            "GROUP BY ec.credential_id, e.endpoint_id, COALESCE(e.client_ip, '')"
        )
