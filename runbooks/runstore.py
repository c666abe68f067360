"""Every row the engine reads and writes: runs, their steps, and the audit entry of each change.

A change is one transaction: the audit entry first, then the new state. Inside that transaction
the change is checked three ways, so that no step runs twice under any interleaving of ``run``,
``resume`` and the console: the run is still driven by this driver (``runbook_runs.driver`` is
a lease, taken by ``create`` and ``claim``), the step is still in the state this driver last saw
(compare and set), and the table of ``states`` allows the change. Calling an action starts with
such a change to ``running``: the claim. No audit write, no change; no change, no action.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from discovery.case import audit
from discovery.case.store import Store, dumps
from runbooks.errors import AuditError, RunbookNotFound, RunbookUsageError
from runbooks.states import (
    RESUMABLE_RUN_STATES,
    RunState,
    StateConflict,
    StepState,
    check_run,
    check_step,
)

_HOST = socket.gethostname()
# drivers of this process that are working now (a driver of another process is alive while its
# process is; within one process, while its generator has not finished or been closed)
_LIVE: set[str] = set()


def new_driver() -> str:
    """A driver id: ``HOST PID NONCE``, one per ``start`` or ``resume``."""
    return f"{_HOST} {os.getpid()} {secrets.token_hex(4)}"


@contextmanager
def driving(driver: str) -> Iterator[None]:
    """Mark ``driver`` as working in this process while the block runs."""
    _LIVE.add(driver)
    try:
        yield
    finally:
        _LIVE.discard(driver)


@dataclass(frozen=True)
class StoredRun:
    """A run as the case holds it (what ``resume`` starts from)."""

    id: str
    runbook_id: str
    runbook_sha256: str
    target: str
    params: dict[str, Any]
    started_at: float
    runbook_source: str


class RunStore:
    """The runs of one open case."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction of audit entry + state; a failed write stops the run before acting."""
        try:
            with self.store.transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise AuditError(
                f"the audit log or run state could not be written ({exc}); nothing was done"
            ) from exc

    def _audit(self, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
        audit.append(self.store, actor, action, subject, details, in_transaction=True)

    # ------------------------------------------------------------------ runs

    def create(
        self,
        *,
        run_id: str,
        runbook_id: str,
        runbook_sha256: str,
        runbook_source: str,
        target: str,
        subject: str,
        public_inputs: Mapping[str, Any],
        secret_names: Sequence[str],
        dry_run: bool,
        started_at: float,
        operator: str,
        actor: str,
        driver: str,
        steps: Sequence[tuple[str, StepState]],
    ) -> None:
        """Write a new run, its steps, and its ``run.started`` (``run.planned``) audit entry."""
        state = RunState.PLANNED if dry_run else RunState.RUNNING
        with self.write() as conn:
            self._audit(
                actor,
                "run.planned" if dry_run else "run.started",
                subject,
                {
                    "run": run_id,
                    "runbook": runbook_id,
                    "runbook_sha256": runbook_sha256,
                    "inputs": dict(public_inputs),
                    "secret_inputs": sorted(secret_names),
                    "dry_run": dry_run,
                },
            )
            conn.execute(
                "INSERT INTO runbook_runs(id, runbook_id, runbook_sha256, target, params, dry_run, "
                "state, started_at, runbook_source, actor, driver) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    runbook_id,
                    runbook_sha256,
                    target,
                    dumps(dict(public_inputs)),
                    int(dry_run),
                    state.value,
                    started_at,
                    runbook_source,
                    operator,
                    driver,
                ),
            )
            conn.executemany(
                "INSERT INTO runbook_steps(run_id, idx, step_id, state) VALUES (?,?,?,?)",
                [(run_id, i, sid, st.value) for i, (sid, st) in enumerate(steps)],
            )

    def load(self, run_id: str) -> StoredRun:
        """A run that can be resumed; RunbookNotFound / RunbookUsageError say why not."""
        row = self.store.conn.execute(
            "SELECT runbook_id, runbook_sha256, target, params, dry_run, state, started_at, "
            "runbook_source FROM runbook_runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise RunbookNotFound(f"no run {run_id!r} in this case")
        if row[4]:
            raise RunbookUsageError(f"run {run_id} was a dry run: start a live run instead")
        if row[5] not in RESUMABLE_RUN_STATES:
            raise RunbookUsageError(f"run {run_id} is {row[5]}: nothing to resume")
        if not row[7]:
            raise RunbookUsageError(f"run {run_id} has no stored runbook text: cannot resume")
        return StoredRun(
            run_id,
            row[0],
            row[1],
            row[2],
            json.loads(row[3]),
            float(row[6]),
            row[7],
        )

    def claim(
        self, run_id: str, driver: str, actor: str, subject: str
    ) -> tuple[tuple[str, str, int, dict[str, Any]], ...]:
        """Take a stopped or killed run over for ``driver``; its steps as they are now.

        Refused when the run has ended or a live driver holds it, both read under the write lock
        (what ``load`` read before may be stale: another driver may have finished the run since).
        """
        with self.write() as conn:
            state, holder = conn.execute(
                "SELECT state, driver FROM runbook_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if state not in RESUMABLE_RUN_STATES:
                raise RunbookUsageError(f"run {run_id} is {state}: nothing to resume")
            if state == RunState.RUNNING and driver_alive(holder):
                raise RunbookUsageError(
                    f"run {run_id} is being driven right now by process {_process(holder)}; "
                    "resume it when that process has stopped"
                )
            check_run(run_id, state, RunState.RUNNING)
            steps = tuple(
                (str(sid), str(st), int(attempts), json.loads(output))
                for sid, st, attempts, output in conn.execute(
                    "SELECT step_id, state, attempts, output FROM runbook_steps "
                    "WHERE run_id = ? ORDER BY idx",
                    (run_id,),
                )
            )
            self._audit(
                actor,
                "run.resumed",
                subject,
                {"run": run_id, "states": {s[0]: s[1] for s in steps}},
            )
            conn.execute(
                "UPDATE runbook_runs SET state = ?, finished_at = NULL, driver = ? WHERE id = ?",
                (RunState.RUNNING.value, driver, run_id),
            )
        return steps

    def finish(
        self, run_id: str, driver: str, state: RunState, outcome: str, actor: str, subject: str
    ) -> None:
        """The run's end (or its stop at a gate), audited."""
        with self.write() as conn:
            current = _leased(conn, run_id, driver)
            check_run(run_id, current, state)
            self._audit(actor, f"run.{state}", subject, {"run": run_id, "outcome": outcome})
            conn.execute(
                "UPDATE runbook_runs SET state = ?, outcome = ?, finished_at = ? WHERE id = ?",
                (
                    state.value,
                    outcome,
                    None if state == RunState.WAITING else time.time(),
                    run_id,
                ),
            )

    # ------------------------------------------------------------------ steps

    def set_step(
        self,
        run_id: str,
        step_id: str,
        state: StepState,
        *,
        driver: str,
        expected: str | None,
        actor: str,
        subject: str,
        audit_action: str,
        details: dict[str, Any],
        attempts: int | None = None,
        output: dict[str, Any] | None = None,
        error: str | None = None,
        started: bool = False,
        finished: bool = False,
    ) -> None:
        """Audit first, then the step's new state, in one transaction; refused (StateConflict,
        nothing written) unless ``driver`` holds the run and the step is still ``expected``."""
        now = time.time()
        with self.write() as conn:
            _leased(conn, run_id, driver)
            current = _step_state(conn, run_id, step_id, expected)
            check_step(step_id, current, state)
            self._audit(actor, audit_action, subject, {"run": run_id, "step": step_id, **details})
            conn.execute(
                "UPDATE runbook_steps SET state = ?, attempts = COALESCE(?, attempts), "
                "output = COALESCE(?, output), error = ?, "
                "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
                "WHERE run_id = ? AND step_id = ?",
                (
                    state.value,
                    attempts,
                    None if output is None else dumps(output),
                    error,
                    started,
                    now,
                    finished,
                    now,
                    run_id,
                    step_id,
                ),
            )

    def skipped_after_failure(self, run_id: str) -> dict[str, str]:
        """Steps the operator skipped after they failed (step id -> error), in step order;
        steps skipped because their ``when`` was false keep no error."""
        rows = self.store.conn.execute(
            "SELECT step_id, error FROM runbook_steps WHERE run_id = ? AND state = ? "
            "AND error IS NOT NULL ORDER BY idx",
            (run_id, StepState.SKIPPED.value),
        ).fetchall()
        return {str(step_id): str(error) for step_id, error in rows}

    def save_plan(
        self, run_id: str, driver: str, step_id: str, state: StepState, plan: str
    ) -> None:
        """A dry run's plan text for one step (no audit entry: nothing happened)."""
        with self.write() as conn:
            _leased(conn, run_id, driver)
            current = _step_state(conn, run_id, step_id, None)
            check_step(step_id, current, state)
            conn.execute(
                "UPDATE runbook_steps SET state = ?, output = ? WHERE run_id = ? AND step_id = ?",
                (state.value, dumps({"plan": plan}), run_id, step_id),
            )


def _leased(conn: sqlite3.Connection, run_id: str, driver: str) -> str:
    """The run's state, when ``driver`` still holds it; StateConflict otherwise."""
    state, holder = conn.execute(
        "SELECT state, driver FROM runbook_runs WHERE id = ?", (run_id,)
    ).fetchone()
    if holder != driver:
        raise StateConflict(
            f"run {run_id} is driven by process {_process(holder)} now: "
            "this driver stops without changing it"
        )
    return str(state)


def _step_state(conn: sqlite3.Connection, run_id: str, step_id: str, expected: str | None) -> str:
    (current,) = conn.execute(
        "SELECT state FROM runbook_steps WHERE run_id = ? AND step_id = ?", (run_id, step_id)
    ).fetchone()
    if expected is not None and current != expected:
        raise StateConflict(
            f"step {step_id!r} is {current} in the case, not {expected}: "
            "another driver changed it; this driver stops"
        )
    return str(current)


def _process(driver: str | None) -> str:
    """``HOST PID`` of a driver id (older cases stored just that)."""
    return " ".join((driver or "unknown").split()[:2])


def driver_alive(driver: str | None) -> bool:
    """Whether the driver recorded on a run may still be working (only knowable on this host:
    a driver on another host is taken for dead)."""
    if not driver:
        return False
    if driver in _LIVE:
        return True
    parts = driver.split()
    if len(parts) < 2 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    if int(parts[1]) == os.getpid():
        return False  # this process, and not one of its working drivers: abandoned
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
