"""Everything recomputed over the whole case after an ingest or a spec/register import.

Stages run in order; each is ``module:function(store)`` and owns its tables. Old traffic is
re-analysed too, so importing a spec after a capture classifies what was already there.

Crash safety: every write that changes what the analysis reads (exchanges, specs, the register)
marks the case "analysis pending" in its own transaction (``mark_pending``), and only a finished
``recompute`` clears the mark. An ingest killed during the analysis thus leaves the mark set, and
the next ingest re-runs the analysis even when all its inputs are already in the case.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from discovery.case.pending import PENDING_KEY
from discovery.case.store import Store

log = logging.getLogger(__name__)

REGISTER_STAGE = "discovery.analyse.register:apply_register"
FINDINGS_STAGE = "discovery.analyse.findings:recompute_findings"
STAGES: list[str] = [
    "discovery.analyse.lineage:link_issued_tokens",
    REGISTER_STAGE,
    "discovery.analyse.inventory:rebuild_endpoints",
    "discovery.analyse.sightings:rebuild_sightings",
    FINDINGS_STAGE,
]


def recompute(store: Store, progress: Callable[[str], None] | None = None) -> None:
    """Run every analysis stage over the case, then clear the pending mark seen at the start.

    Right after the register stage, the traffic-only findings rules start in a child process
    (``findings.early``, big cases only) and run while the inventory is rebuilt; the findings
    stage then runs the other rules and writes them all.
    """
    from discovery.analyse.findings.early import EarlyRules

    token = store.get_meta(PENDING_KEY)
    early: EarlyRules | None = None
    try:
        for target in STAGES:
            module_name, func = target.split(":")
            if progress:
                progress(module_name.rsplit(".", 1)[-1])
            stage = getattr(importlib.import_module(module_name), func)
            if target == FINDINGS_STAGE:
                stage(store, ready=early.result() if early is not None else None)
            else:
                stage(store)
            if target == REGISTER_STAGE:
                early = EarlyRules.start(store)
            log.debug("analysis stage %s done", target)
    finally:
        if early is not None:
            early.close()
    if token is not None:
        with store.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ? AND value = ?", (PENDING_KEY, token))
