"""Every row the engine reads and writes: runs, their steps, and the audit entry of each change.

A change is one transaction: the audit entry first, then the new state, checked against the state
the case holds (``states``) so that no change is made from a state another driver has already
left. No audit write, no change; no change, no action.
"""

from __future__ import annotations

import json
import os
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
from runbooks.states import RESUMABLE_RUN_STATES, RunState, StepState, check_run, check_step

DRIVER = f"{socket.gethostname()} {os.getpid()}"


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
    steps: tuple[tuple[str, str, int, dict[str, Any]], ...]  # (step id, state, attempts, output)


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
                    DRIVER,
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
        steps = tuple(
            (str(sid), str(state), int(attempts), json.loads(output))
            for sid, state, attempts, output in self.store.conn.execute(
                "SELECT step_id, state, attempts, output FROM runbook_steps WHERE run_id = ? "
                "ORDER BY idx",
                (run_id,),
            )
        )
        return StoredRun(
            run_id,
            row[0],
            row[1],
            row[2],
            json.loads(row[3]),
            float(row[6]),
            row[7],
            steps,
        )

    def resume(self, run_id: str, actor: str, subject: str, states: Mapping[str, str]) -> None:
        """Take a stopped or killed run over (refused while a live process drives it)."""
        with self.write() as conn:
            row = conn.execute(
                "SELECT state, driver FROM runbook_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row[0] == RunState.RUNNING and driver_alive(row[1]):
                raise RunbookUsageError(
                    f"run {run_id} is being driven right now by process {row[1]}; "
                    "resume it when that process has stopped"
                )
            check_run(run_id, row[0], RunState.RUNNING)
            self._audit(actor, "run.resumed", subject, {"run": run_id, "states": dict(states)})
            conn.execute(
                "UPDATE runbook_runs SET state = ?, finished_at = NULL, driver = ? WHERE id = ?",
                (RunState.RUNNING.value, DRIVER, run_id),
            )

    def finish(self, run_id: str, state: RunState, outcome: str, actor: str, subject: str) -> None:
        """The run's end (or its stop at a gate), audited."""
        with self.write() as conn:
            (current,) = conn.execute(
                "SELECT state FROM runbook_runs WHERE id = ?", (run_id,)
            ).fetchone()
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
        """Audit first, then the step's new state, in one transaction."""
        now = time.time()
        with self.write() as conn:
            (current,) = conn.execute(
                "SELECT state FROM runbook_steps WHERE run_id = ? AND step_id = ?",
                (run_id, step_id),
            ).fetchone()
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

    def save_plan(self, run_id: str, step_id: str, state: StepState, plan: str) -> None:
        """A dry run's plan text for one step (no audit entry: nothing happened)."""
        with self.write() as conn:
            (current,) = conn.execute(
                "SELECT state FROM runbook_steps WHERE run_id = ? AND step_id = ?",
                (run_id, step_id),
            ).fetchone()
            check_step(step_id, current, state)
            conn.execute(
                "UPDATE runbook_steps SET state = ?, output = ? WHERE run_id = ? AND step_id = ?",
                (state.value, dumps({"plan": plan}), run_id, step_id),
            )


def driver_alive(driver: str | None) -> bool:
    """Whether the process recorded as driving a run still lives (only knowable on this host)."""
    if not driver:
        return False
    host, _, pid = driver.rpartition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process: its earlier generator was abandoned
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
