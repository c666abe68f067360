"""Graph answers about resolved subjects, straight from the case: what the CLI's ``graph``
commands, the console's graph explorer and the runbooks' ``evidence.summary`` all call.

Each builds the graph of only the credentials its analysis needs (``focus``: the same answer as
on the whole graph) and runs the analysis (``analyses``), so every reader gets the same answer
for the same case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from discovery.case.store import Store
from discovery.views.graph import analyses, focus
from discovery.views.graph.build import build_graph, node_for
from discovery.views.subjects import Subject


def blast_radius(store: Store, subject: Subject) -> dict[str, Any]:
    """What a credential, identity or client reaches (``analyses.blast_radius``)."""
    graph = build_graph(store, focus.for_blast_radius(store, subject))
    return analyses.blast_radius(graph, node_for(subject))


def exposure(store: Store, subject: Subject) -> dict[str, Any]:
    """Who reached an endpoint, a host or a credential (``analyses.exposure``)."""
    graph = build_graph(store, focus.for_exposure(store, subject))
    return analyses.exposure(graph, node_for(subject))


def paths(
    store: Store, subject: Subject, target: Subject | None = None, max_paths: int = 20
) -> list[dict[str, Any]]:
    """Paths from a subject to the risky endpoints it reaches, or to ``target``."""
    graph = build_graph(store, focus.for_paths(store, subject))
    return analyses.paths(
        graph, node_for(subject), None if target is None else node_for(target), max_paths
    )


def what_if(store: Store, removed: Sequence[Subject]) -> dict[str, Any]:
    """What is still reached once ``removed`` are contained (``analyses.what_if``)."""
    graph = build_graph(store, focus.for_what_if(store, removed))
    return analyses.what_if(graph, [node_for(s) for s in removed])


def choke_points(store: Store, top: int = 10) -> list[dict[str, Any]]:
    """The credentials and clients whose removal cuts the most reach (whole graph)."""
    return analyses.choke_points(build_graph(store), top)
