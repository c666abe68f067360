"""``evidence.summary``: what a subject reached (blast radius) and where it was seen (sightings).

Uses the graph's blast radius when ``discovery.graph`` offers one (imported lazily: networkx is
slow to import); otherwise it is computed from the case's sightings and exchanges.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from discovery.store import Store
from discovery.subjects import resolve_subject
from discovery.timeutil import iso
from runbooks.actions.base import Action, ActionContext, Args

log = logging.getLogger(__name__)
MAX_ROWS = 200


class SummaryArgs(Args):
    subject: str  # anything discovery.subjects.resolve_subject accepts


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
        radius, how = _blast_radius(ctx.store, subject.ref, rows)
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
        return [r[0] for r in conn.execute(
            "SELECT id FROM credentials WHERE identity_id = ? ORDER BY id", (ident,))]
    if kind == "endpoint":
        host, method, template = ident.split(" ", 2)
        return [r[0] for r in conn.execute(
            "SELECT DISTINCT s.credential_id FROM sightings s JOIN endpoints ep "
            "ON ep.id = s.endpoint_id WHERE ep.host = ? AND ep.method = ? AND ep.template = ? "
            "ORDER BY 1", (host, method, template))]
    if kind == "host":
        return [r[0] for r in conn.execute(
            "SELECT DISTINCT s.credential_id FROM sightings s JOIN endpoints ep "
            "ON ep.id = s.endpoint_id WHERE ep.host = ? ORDER BY 1", (ident,))]
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT credential_id FROM sightings WHERE client_ip = ? ORDER BY 1", (ident,))]


def _sightings(store: Store, kind: str, ident: str, credentials: list[str]) -> list[dict[str, Any]]:
    where, params = "s.credential_id IN ({})".format(",".join("?" for _ in credentials)), \
        list(credentials)
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
        f"WHERE {where} ORDER BY s.last_seen DESC", params,
    ).fetchall()
    return [
        {"credential": r[0], "identity": r[1], "client": r[2], "host": r[3], "method": r[4],
         "template": r[5], "endpoint_status": r[6], "requests": r[7], "successes": r[8],
         "first_seen": iso(r[9]), "last_seen": iso(r[10])}
        for r in rows
    ]


def _blast_radius(store: Store, ref: str,
                  rows: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """From the graph when it offers ``blast_radius(store, subject)``, else from the sightings."""
    try:
        graph = importlib.import_module("discovery.graph")
    except ImportError:
        graph = None
    func = getattr(graph, "blast_radius", None) if graph is not None else None
    if callable(func):
        try:
            result = func(store, ref)
        except TypeError as exc:
            log.warning("discovery.graph.blast_radius has another signature (%s); using sightings",
                        exc)
        else:
            data = result.to_json() if hasattr(result, "to_json") else result
            if isinstance(data, dict):
                return data, "graph"
    endpoints = sorted({f"{r['host']} {r['method']} {r['template']}" for r in rows})
    return {
        "endpoints": endpoints,
        "services": sorted({r["host"] for r in rows}),
        "sensitive_endpoints": sorted({f"{r['host']} {r['method']} {r['template']}"
                                       for r in rows if r["endpoint_status"] != "documented"}),
    }, "sightings"


ACTION = EvidenceSummary()
