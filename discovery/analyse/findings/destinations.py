"""Findings about where requests really went (docs/findings.md): ``host_mismatch``."""

from __future__ import annotations

from collections.abc import Iterator

from discovery.analyse.findings import Finding, rule
from discovery.analyse.findings.endpoints import exchange_samples
from discovery.case.store import Store

MAX_LISTED = 20


@rule("host_mismatch", traffic_only=True)
def host_mismatch(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """Requests whose Host header or SNI names another host than where they really went (the
    target a client named through a proxy, an IP-literal Host against the server address, a
    Host against the SNI of the same TLS connection): one finding per client."""
    conn = store.conn
    for client, count, forwarded, succeeded, first, last in conn.execute(
        "SELECT COALESCE(client_ip, ''), COUNT(*), SUM(blocked = 0), "
        "SUM(blocked = 0 AND status BETWEEN 200 AND 399), MIN(ts), MAX(ts) FROM exchanges "
        "WHERE host_mismatch IS NOT NULL GROUP BY COALESCE(client_ip, '') ORDER BY 1"
    ).fetchall():
        where = "e.host_mismatch IS NOT NULL AND COALESCE(e.client_ip, '') = ?"
        mismatches = [
            {"what": what, "requests": n, "destination": destination}
            for what, destination, n in conn.execute(
                "SELECT host_mismatch, destination, COUNT(*) FROM exchanges "
                "WHERE host_mismatch IS NOT NULL AND COALESCE(client_ip, '') = ? "
                f"GROUP BY host_mismatch, destination ORDER BY 3 DESC, 1 LIMIT {MAX_LISTED}",
                (client,),
            )
        ]
        who = client or "an unknown client"
        yield Finding(
            rule="host_mismatch",
            severity="high" if forwarded else "medium",
            title=(
                f"{who} sent {count} request(s) whose Host or SNI names another host than "
                f"where they went ({forwarded} not blocked, {succeeded} answered with success)"
            ),
            subject_type="client",
            subject_id=client or "unknown",
            evidence={
                "requests": count,
                "not_blocked": forwarded,
                "succeeded": succeeded,
                "mismatches": mismatches,
                "samples": exchange_samples(store, where, (client,)),
            },
            first_seen=first,
            last_seen=last,
        )
