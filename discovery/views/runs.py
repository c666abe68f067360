"""Runbook runs as the engine recorded them: runs, their steps, and the audit entries they wrote.

Read-only: the engine owns these tables and writes them (``runbooks``); the console's run list,
the walkthrough's outcome view and the incident report read them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from discovery.case.store import Store
from discovery.views.page import Page, Where, limit_sql, page_of, text_filter
from discovery.views.rows import AuditRow, RunRow, StepRow, loads

_RUN_COLUMNS = "id, runbook_id, target, dry_run, state, started_at, finished_at, outcome, actor"
_AUDIT_COLUMNS = "seq, ts, actor, action, subject, details, hash"


def audit_row(r: Sequence[Any]) -> AuditRow:
    """An ``AuditRow`` from a row selected with the audit columns (details parsed when JSON)."""
    return AuditRow(
        seq=r[0],
        ts=r[1],
        actor=r[2],
        action=r[3],
        subject=r[4],
        details=loads(r[5], r[5]),
        hash=r[6],
    )


def _run(r: Sequence[Any]) -> RunRow:
    return RunRow(
        id=r[0],
        runbook_id=r[1],
        target=r[2],
        dry_run=bool(r[3]),
        state=r[4],
        started_at=r[5],
        finished_at=r[6],
        outcome=r[7],
        operator=r[8],
    )


def run_page(store: Store, text: str = "", limit: int | None = None) -> Page[RunRow]:
    """Runs, newest first; ``text``: ``state:``, ``runbook:``."""
    where = text_filter(
        text,
        "id || ' ' || runbook_id || ' ' || target || ' ' || state",
        {"state": "state", "runbook": "runbook_id"},
    )
    limit_clause, limit_args = limit_sql(limit)
    rows = tuple(
        _run(r)
        for r in store.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runbook_runs {where.sql} "
            f"ORDER BY started_at DESC {limit_clause}",
            (*where.args, *limit_args),
        )
    )
    return page_of(store, rows, limit, "runbook_runs", where)


def runs_in_order(store: Store) -> list[RunRow]:
    """Every run, oldest first (the report's order)."""
    return [
        _run(r)
        for r in store.conn.execute(f"SELECT {_RUN_COLUMNS} FROM runbook_runs ORDER BY started_at")
    ]


def run_steps(store: Store, run_id: str) -> tuple[StepRow, ...]:
    """A run's steps in order."""
    return tuple(
        StepRow(
            idx=int(r[0]),
            step_id=str(r[1]),
            state=str(r[2]),
            attempts=int(r[3] or 0),
            started_at=r[4],
            finished_at=r[5],
            error=r[6],
            output=loads(r[7], {}),
        )
        for r in store.conn.execute(
            "SELECT idx, step_id, state, attempts, started_at, finished_at, error, output "
            "FROM runbook_steps WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
    )


def run_audit(store: Store, run_id: str, limit: int | None = 500) -> Page[AuditRow]:
    """The audit entries a run wrote (its engine's and its actions', e.g. the blocklist's), in
    order: the entries whose actor is the run or whose details name it."""
    where = Where(
        (
            "(actor = ? OR CASE WHEN json_valid(details) "
            "THEN json_extract(details, '$.run') END = ?)",
        ),
        (f"runbook:{run_id}", run_id),
    )
    limit_clause, limit_args = limit_sql(limit)
    rows = tuple(
        audit_row(r)
        for r in store.conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log {where.sql} ORDER BY seq {limit_clause}",
            (*where.args, *limit_args),
        )
    )
    return page_of(store, rows, limit, "audit_log", where)


def audit_page(store: Store, text: str = "", limit: int | None = None) -> Page[AuditRow]:
    """Audit entries, newest first; ``text``: ``actor:``, ``action:``, ``subject:``."""
    where = text_filter(
        text,
        "actor || ' ' || action || ' ' || COALESCE(subject, '') || ' ' || details",
        {"actor": "actor", "action": "action", "subject": "subject"},
    )
    limit_clause, limit_args = limit_sql(limit)
    rows = tuple(
        audit_row(r)
        for r in store.conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log {where.sql} ORDER BY seq DESC {limit_clause}",
            (*where.args, *limit_args),
        )
    )
    return page_of(store, rows, limit, "audit_log", where)
