"""Read side of runbook runs: a run's state with its steps, and its audit entries."""

from __future__ import annotations

import json
from typing import Any

from discovery.case import audit
from discovery.case.store import Store
from discovery.timeutil import iso
from runbooks.errors import RunbookNotFound


def run_status(store: Store, run_id: str) -> dict[str, Any]:
    """``{"id","runbook","target","state","dry_run","outcome","started_at","finished_at","steps"}``."""
    row = store.conn.execute(
        "SELECT id, runbook_id, target, state, dry_run, outcome, started_at, finished_at, actor "
        "FROM runbook_runs WHERE id = ?",
        (run_id,),
    ).fetchone()
    if row is None:
        raise RunbookNotFound(f"no run {run_id!r} in this case")
    steps = [
        {
            "step": s[0],
            "state": s[1],
            "attempts": s[2],
            "started_at": iso(s[3]),
            "finished_at": iso(s[4]),
            "error": s[5],
            "output": json.loads(s[6]),
        }
        for s in store.conn.execute(
            "SELECT step_id, state, attempts, started_at, finished_at, error, output "
            "FROM runbook_steps WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
    ]
    return {
        "id": row[0],
        "runbook": row[1],
        "target": row[2],
        "state": row[3],
        "dry_run": bool(row[4]),
        "outcome": row[5],
        "started_at": iso(row[6]),
        "finished_at": iso(row[7]),
        "operator": row[8],
        "steps": steps,
    }


def run_log(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The audit entries written by or for a run (engine entries and the blocklist's)."""
    run_status(store, run_id)  # RunbookNotFound when unknown
    actor = f"runbook:{run_id}"
    return [
        {
            "seq": e.seq,
            "ts": iso(e.ts),
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "details": e.details,
            "hash": e.hash,
        }
        for e in audit.entries(store)
        if e.actor == actor or e.details.get("run") == run_id
    ]
