"""Findings about the clients that present a credential (docs/findings.md).

A client is told apart by what it cannot help showing: its TLS client fingerprint (JA4, the
same for every connection a TLS library makes with one configuration) and its user agent's
product (``python-requests`` of ``python-requests/2.31``: a version bump is the same tool).
A credential that, after its first use, arrives from another tool is a key copied elsewhere: a
stolen key replayed from a different tool.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from discovery.analyse.findings import Finding, rule
from discovery.analyse.findings.credentials import (
    MAX_LISTED,
    _credential,
    credential_groups,
    samples,
)
from discovery.case.store import Store
from discovery.timeutil import iso


def product(user_agent: str | None) -> str | None:
    """The tool a user agent names: its first product token, without the version."""
    if not user_agent or not user_agent.strip():
        return None
    return user_agent.strip().split()[0].split("/")[0].lower() or None


@rule("credential_client_change", traffic_only=True)
def credential_client_change(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A credential presented, after its first use, by a client with another JA4 or another
    user-agent product than the one that first used it."""
    groups: dict[str, list[tuple[float, float, str | None, str | None, int]]] = defaultdict(list)
    for cid, ja4, agent, first, last, count in credential_groups(store, "tool"):
        groups[cid].append((first, last, ja4, agent, int(count)))
    for cid, seen in sorted(groups.items()):
        seen.sort(key=lambda g: g[0])
        first_ja4 = next((g[2] for g in seen if g[2]), None)
        first_tool = next((product(g[3]) for g in seen if product(g[3])), None)
        first = seen[0]
        changed = [
            g
            for g in seen
            if (g[2] and first_ja4 and g[2] != first_ja4)
            or (product(g[3]) and first_tool and product(g[3]) != first_tool)
        ]
        if not changed:
            continue
        kind, redacted, identity = _credential(store, cid)
        new_clients: list[dict[str, Any]] = [
            {
                "ja4": ja4,
                "user_agent": agent,
                "first_seen": iso(start),
                "last_seen": iso(end),
                "requests": count,
            }
            for start, end, ja4, agent, count in changed[:MAX_LISTED]
        ]
        start, _end, ja4, agent, _count = changed[0]
        yield Finding(
            rule="credential_client_change",
            severity="high",
            title=f"{kind} {redacted} used from a new client after its first use",
            subject_type="credential",
            subject_id=cid,
            evidence={
                "identity": identity,
                "first_client": {
                    "ja4": first_ja4,
                    "user_agent": first[3],
                    "first_seen": iso(first[0]),
                },
                "new_clients": new_clients,
                "new_clients_total": len(changed),
                "samples": samples(
                    store,
                    "ec.credential_id = ? AND e.ja4 IS ? AND e.user_agent IS ?",
                    (cid, ja4, agent),
                ),
            },
            first_seen=start,
            last_seen=max(g[1] for g in changed),
        )
