"""Everything recomputed over the whole case after an ingest or a spec/register import.

Stages run in order; each is ``module:function(store)`` and owns its tables. Old traffic is
re-analysed too, so importing a spec after a capture classifies what was already there.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from discovery.store import Store

log = logging.getLogger(__name__)

STAGES: list[str] = [
    "discovery.register:apply_register",
    "discovery.inventory:rebuild_endpoints",
    "discovery.sightings:rebuild_sightings",
    "discovery.findings:recompute_findings",
]


def recompute(store: Store, progress: Callable[[str], None] | None = None) -> None:
    """Run every analysis stage over the case."""
    for target in STAGES:
        module_name, func = target.split(":")
        if progress:
            progress(module_name.rsplit(".", 1)[-1])
        stage = getattr(importlib.import_module(module_name), func)
        stage(store)
        log.debug("analysis stage %s done", target)
