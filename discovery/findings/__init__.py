"""Findings: rules over the whole case, each with a stable id, severity, subject and evidence.

A rule is a function ``(store, thresholds) -> Iterable[Finding]`` registered with ``@rule``, living
in one of ``RULE_MODULES``. ``recompute_findings`` re-runs every rule and replaces the table, so
findings always describe the case as it is now; a finding keeps its id (rule + subject) and its
first ``created_at`` across recomputations.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import logging
import multiprocessing
import os
import pickle
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from discovery.store import BUSY_TIMEOUT_MS, Store, dumps

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "high", "medium", "low", "info")

# Defaults for every threshold a rule reads; overridable per case (meta key "thresholds", JSON).
DEFAULT_THRESHOLDS: dict[str, float] = {}


@dataclass(frozen=True)
class Finding:
    """One finding: what rule fired, about which subject, with which evidence."""

    rule: str
    severity: str
    title: str
    subject_type: str
    subject_id: str
    evidence: dict[str, Any] = field(default_factory=dict)
    first_seen: float | None = None
    last_seen: float | None = None

    @property
    def id(self) -> str:
        digest = hashlib.sha256(
            f"{self.rule}\0{self.subject_type}\0{self.subject_id}".encode()
        ).hexdigest()
        return f"{self.rule}:{digest[:10]}"


Rule = Callable[[Store, dict[str, float]], Iterable[Finding]]
RULES: dict[str, Rule] = {}

# Modules that register rules when imported.
RULE_MODULES: list[str] = [
    "discovery.findings.credentials",
    "discovery.findings.endpoints",
    "discovery.findings.scopes",
]


def rule(rule_id: str, **defaults: float) -> Callable[[Rule], Rule]:
    """Register a rule under a stable id, with its threshold defaults."""

    def register(func: Rule) -> Rule:
        RULES[rule_id] = func
        DEFAULT_THRESHOLDS.update(defaults)
        return func

    return register


def load_rules() -> dict[str, Rule]:
    for name in RULE_MODULES:
        importlib.import_module(name)
    return RULES


def thresholds_for(store: Store) -> dict[str, float]:
    """The case's thresholds: defaults overlaid with the case's own settings."""
    load_rules()
    values = dict(DEFAULT_THRESHOLDS)
    raw = store.get_meta("thresholds")
    if raw:
        values.update({k: float(v) for k, v in json.loads(raw).items()})
    return values


# Intermediate results several rules share, kept only while ``recompute_findings`` runs its
# rules (nothing writes to the case meanwhile); a rule called on its own computes afresh.
_RUN_MEMO: dict[tuple[str, int], Any] | None = None


def shared(name: str, store: Store, compute: Callable[[Store], Any]) -> Any:
    """``compute(store)``, computed once per ``recompute_findings`` run for rules that share it."""
    if _RUN_MEMO is None:
        return compute(store)
    key = (name, id(store))
    if key not in _RUN_MEMO:
        _RUN_MEMO[key] = compute(store)
    return _RUN_MEMO[key]


# Rules that read nothing the inventory or the sightings stage writes (endpoints, sightings,
# exchanges.endpoint_id): on a large case they run in a child while those stages run here.
EARLY_RULES = (
    "long_lived_token",
    "expired_token_in_use",
    "credential_in_query",
    "cleartext_credential",
    "credential_multiple_sources",
    "unregistered_identity",
    "use_after_revocation",
)
# The costliest of the other rules: on a large case a child runs it beside the rest.
SPLIT_RULES = ("object_enumeration",)
FORK_MIN_EXCHANGES = 10_000  # below this a child costs more than it saves
_EARLY: dict[int, RulesInChild] = {}  # id(store) -> its early rules, started by ``prefetch``


def prefetch(store: Store) -> None:
    """Start the early rules in a child (large cases, when forking is safe); call after the
    register stage. ``recompute_findings`` uses their findings; ``discard`` drops them."""
    if id(store) not in _EARLY and _worth_forking(store):
        _EARLY[id(store)] = RulesInChild(store, EARLY_RULES, thresholds_for(store))


def discard(store: Store) -> None:
    """Stop a prefetch ``recompute_findings`` did not use (a stage before it failed)."""
    early = _EARLY.pop(id(store), None)
    if early is not None:
        early.close()


def recompute_findings(store: Store) -> int:
    """Re-run every rule and replace the findings table; returns the number of findings."""
    rules = load_rules()
    limits = thresholds_for(store)
    away: dict[str, RulesInChild] = {}
    early = _EARLY.pop(id(store), None)
    if early is not None:
        away.update(dict.fromkeys(early.rule_ids, early))
    split: RulesInChild | None = None
    if _worth_forking(store):
        split = RulesInChild(store, [r for r in SPLIT_RULES if r in rules], limits)
        away.update(dict.fromkeys(split.rule_ids, split))
    try:
        here = _run_rules(store, [r for r in rules if r not in away], limits)
        per_rule: dict[str, list[Finding]] = {}
        for rule_id in rules:  # in rule order, as if each had run here
            if rule_id in here:
                per_rule[rule_id] = here[rule_id]
                continue
            if rule_id in per_rule:
                continue
            got = away[rule_id].result()
            if got is None:  # the child failed: run its rules here (same results, serially)
                got = _run_rules(store, away[rule_id].rule_ids, limits)
            per_rule.update(got)
    finally:
        for child in (early, split):
            if child is not None:
                child.close()
    found: dict[str, Finding] = {}
    for rule_id in rules:
        for finding in per_rule[rule_id]:
            if finding.rule != rule_id:
                raise ValueError(f"rule {rule_id} produced a finding for {finding.rule}")
            found[finding.id] = finding
    now = time.time()
    with store.transaction() as conn:
        created = dict(conn.execute("SELECT id, created_at FROM findings").fetchall())
        conn.execute("DELETE FROM findings")
        conn.executemany(
            "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence, "
            "first_seen, last_seen, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    fid,
                    f.rule,
                    f.severity,
                    f.title,
                    f.subject_type,
                    f.subject_id,
                    dumps(f.evidence),
                    f.first_seen,
                    f.last_seen,
                    created.get(fid, now),
                )
                for fid, f in found.items()
            ],
        )
    return len(found)


def _run_rules(
    store: Store, rule_ids: Iterable[str], limits: dict[str, float]
) -> dict[str, list[Finding]]:
    """The findings of each rule, run here (sharing ``shared`` results among them)."""
    global _RUN_MEMO
    _RUN_MEMO = {}
    try:
        return {rule_id: list(RULES[rule_id](store, limits)) for rule_id in rule_ids}
    finally:
        _RUN_MEMO = None


def _worth_forking(store: Store) -> bool:
    """True on a large case when a forked child is safe (no other thread) and can run beside."""
    if (
        (os.cpu_count() or 1) < 2
        or "fork" not in multiprocessing.get_all_start_methods()
        or threading.active_count() != 1  # forking a threaded process (the console) is unsafe
    ):
        return False
    row = store.conn.execute("SELECT MAX(id) FROM exchanges").fetchone()
    return bool(row and row[0] and row[0] >= FORK_MIN_EXCHANGES)


class RulesInChild:
    """Some rules run in a forked child over its own read-only connection to the case; their
    findings come back pickled. The child only reads; ``result`` is None if it failed."""

    def __init__(self, store: Store, rule_ids: Iterable[str], limits: dict[str, float]) -> None:
        self.rule_ids = [r for r in rule_ids if r in RULES]
        ctx = multiprocessing.get_context("fork")
        self._conn, sender = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_rules_child,
            args=(sender, self._conn, store, self.rule_ids, limits),
            daemon=True,
        )
        self._proc.start()
        sender.close()
        self._result: dict[str, list[Finding]] | None = None
        self._done = False

    def result(self) -> dict[str, list[Finding]] | None:
        if not self._done:
            self._done = True
            try:
                # our own forked child's answer, never input data
                status, payload = pickle.loads(self._conn.recv_bytes())  # noqa: S301
            except (EOFError, OSError, pickle.UnpicklingError):
                log.warning("findings child ended without results; its rules run here")
            else:
                if status == "ok":
                    self._result = payload
                else:
                    log.warning("findings child failed (%s); its rules run here", payload)
        return self._result

    def close(self) -> None:
        if self._proc.is_alive() and self._done:
            self._proc.join(1)
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._conn.close()


def _rules_child(
    sender: Connection,
    unused: Connection,
    store: Store,
    rule_ids: list[str],
    limits: dict[str, float],
) -> None:
    unused.close()
    out: tuple[str, Any]
    try:
        uri = "file:" + urllib.parse.quote(str(store.path.resolve())) + "?mode=ro"
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.text_factory = store.conn.text_factory
        reader = copy.copy(store)  # the inherited connection is never used here
        reader.conn = conn
        out = ("ok", _run_rules(reader, rule_ids, limits))
    except Exception as exc:  # noqa: BLE001 - reported; the parent runs these rules itself
        out = ("error", f"{type(exc).__name__}: {exc}")
    sender.send_bytes(pickle.dumps(out, pickle.HIGHEST_PROTOCOL))
    sender.close()
