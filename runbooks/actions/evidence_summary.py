"""``evidence.summary``: what a subject reached (blast radius) and where it was seen (sightings).

Reads through ``discovery.views``: the sightings, and the graph's answers (imported lazily:
networkx is slow to import): blast radius for credentials, identities and clients, exposure for
endpoints and hosts; without the graph, what the sightings show.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from discovery.case.store import Store
from discovery.views.sightings import sightings_of
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
        credentials, sightings = sightings_of(ctx.store, subject)
        rows = [r.to_json() for r in sightings]
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


def _blast_radius(
    store: Store, subject: Subject, rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], str]:
    """From the graph (blast radius, or exposure for endpoints and hosts), else the sightings."""
    try:
        answers = importlib.import_module("discovery.views.graph.answers")
    except ImportError as exc:
        log.warning("graph analyses unavailable (%s); blast radius from sightings", exc)
    else:
        if subject.type in ("endpoint", "host"):
            return dict(answers.exposure(store, subject)), "graph.exposure"
        return dict(answers.blast_radius(store, subject)), "graph.blast_radius"
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
