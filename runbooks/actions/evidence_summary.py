"""``evidence.summary``: what a subject reached (blast radius) and where it was seen (sightings).

Uses the graph (``discovery.views.graph``, imported lazily: networkx is slow to import): blast radius
for credentials, identities and clients, exposure for endpoints and hosts; without it, what the
sightings show.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso
from discovery.views.subjects import Subject, resolve_subject
from runbooks.actions.base import Action, ActionContext, Args

log = logging.getLogger(__name__)
MAX_ROWS = 200


class SummaryArgs(Args):
    subject: str  # anything discovery.views.subjects.resolve_subject accepts


class EvidenceSummary(Action[SummaryArgs]):
    """Blast radius and sightings of a credential, identity, endpoint, host or client."""

    name = "evidence.summary"
    args = SummaryArgs

    def plan(self, args: SummaryArgs, ctx: ActionContext) -> str:
        return f"summarise sightings and blast radius of {args.subject} (reads the case only)"

    def run(self, args: SummaryArgs, ctx: ActionContext) -> dict[str, Any]:
        subject = resolve_subject(ctx.store, args.subject)
        credentials = _credentials_of(ctx.store, subject.type, subject.id)
        rows = _sightings(ctx.store, subject.type, subject.id, credentials)
        radius, how = _blast_radius(ctx.store, subject, rows)
        return {
            "subject": subject.to_json(),
            "credentials": credentials,
            "sightings": rows[:MAX_ROWS],
            "sightings_total": len(rows),
            "requests": sum(r["requests"] for r in rows),
            "successes": sum(r["successes"] for r in rows),
            "clients": sorted({r["client"] for r in rows if r["client"]}),
            "blast_radius": radius,
            "blast_radius_from": how,
        }


def _credentials_of(store: Store, kind: str, ident: str) -> list[str]:
    conn = store.conn
    if kind == "credential":
        return [ident]
    if kind == "identity":
        return [
            r[0]
            for r in conn.execute(
                "SELECT id FROM credentials WHERE identity_id = ? ORDER BY id", (ident,)
            )
        ]
    if kind == "endpoint":
        host, method, template = ident.split(" ", 2)
        return [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT s.credential_id FROM sightings s JOIN endpoints ep "
                "ON ep.id = s.endpoint_id WHERE ep.host = ? AND ep.method = ? AND ep.template = ? "
                "ORDER BY 1",
                (host, method, template),
            )
        ]
    if kind == "host":
        return [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT s.credential_id FROM sightings s JOIN endpoints ep "
                "ON ep.id = s.endpoint_id WHERE ep.host = ? ORDER BY 1",
                (ident,),
            )
        ]
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT credential_id FROM sightings WHERE client_ip = ? ORDER BY 1", (ident,)
        )
    ]


def _sightings(store: Store, kind: str, ident: str, credentials: list[str]) -> list[dict[str, Any]]:
    where, params = (
        "s.credential_id IN ({})".format(",".join("?" for _ in credentials)),
        list(credentials),
    )
    if kind == "endpoint":
        host, method, template = ident.split(" ", 2)
        where += " AND ep.host = ? AND ep.method = ? AND ep.template = ?"
        params += [host, method, template]
    elif kind == "host":
        where += " AND ep.host = ?"
        params.append(ident)
    elif kind == "client":
        where += " AND s.client_ip = ?"
        params.append(ident)
    if not credentials:
        return []
    rows = store.conn.execute(
        "SELECT s.credential_id, c.identity_id, s.client_ip, ep.host, ep.method, ep.template, "
        "ep.status, s.requests, s.successes, s.first_seen, s.last_seen FROM sightings s "
        "JOIN endpoints ep ON ep.id = s.endpoint_id JOIN credentials c ON c.id = s.credential_id "
        f"WHERE {where} ORDER BY s.last_seen DESC",
        params,
    ).fetchall()
    return [
        {
            "credential": r[0],
            "identity": r[1],
            "client": r[2],
            "host": r[3],
            "method": r[4],
            "template": r[5],
            "endpoint_status": r[6],
            "requests": r[7],
            "successes": r[8],
            "first_seen": iso(r[9]),
            "last_seen": iso(r[10]),
        }
        for r in rows
    ]


def _blast_radius(
    store: Store, subject: Subject, rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], str]:
    """From the graph (blast radius, or exposure for endpoints and hosts), else the sightings."""
    try:
        analyses = importlib.import_module("discovery.views.graph.analyses")
        build = importlib.import_module("discovery.views.graph.build")
    except ImportError as exc:
        log.warning("graph analyses unavailable (%s); blast radius from sightings", exc)
    else:
        graph = build.build_graph(store)
        node = build.node_for(subject)
        if subject.type in ("endpoint", "host"):
            return dict(analyses.exposure(graph, node)), "graph.exposure"
        return dict(analyses.blast_radius(graph, node)), "graph.blast_radius"
    endpoints = sorted({f"{r['host']} {r['method']} {r['template']}" for r in rows})
    return {
        "endpoints": endpoints,
        "services": sorted({r["host"] for r in rows}),
        "shadow": sorted(
            {
                f"{r['host']} {r['method']} {r['template']}"
                for r in rows
                if r["endpoint_status"] == "shadow"
            }
        ),
    }, "sightings"


ACTION = EvidenceSummary()
