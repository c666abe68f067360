"""Findings: rules over the whole case, each with a stable id, severity, subject and evidence.

A rule is a function ``(store, thresholds) -> Iterable[Finding]`` registered with ``@rule``, living
in one of ``RULE_MODULES``. ``recompute_findings`` re-runs every rule and replaces the table, so
findings always describe the case as it is now; a finding keeps its id (rule + subject) and its
first ``created_at`` across recomputations.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from discovery.case.store import Store, dumps

log = logging.getLogger(__name__)

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
# Rules that read traffic, credentials, identities and containments only (never endpoints or
# sightings): they may run before (or while) the inventory is rebuilt (``findings.early``).
TRAFFIC_ONLY: set[str] = set()
# Rules that read the inventory too (endpoints, ``exchanges.endpoint_id``), never sightings nor
# findings: they may run as soon as the inventory is written, while sightings are rebuilt.
AFTER_INVENTORY: set[str] = set()
# The part of an after-inventory rule that reads no endpoint (``prepare(store, limits)``, left in
# the connection for the rule to find): the findings child runs it while it waits for the
# inventory; without it, the rule does that part itself.
PREPARE: dict[str, Callable[[Store, dict[str, float]], object]] = {}

# Modules that register rules when imported.
RULE_MODULES: list[str] = [
    "discovery.analyse.findings.credentials",
    "discovery.analyse.findings.destinations",
    "discovery.analyse.findings.clients",
    "discovery.analyse.findings.endpoints",
    "discovery.analyse.findings.graphql",
    "discovery.analyse.findings.oauth",
    "discovery.analyse.findings.scopes",
    "discovery.analyse.findings.traffic",
]


def rule(
    rule_id: str, *, traffic_only: bool = False, after_inventory: bool = False, **defaults: float
) -> Callable[[Rule], Rule]:
    """Register a rule under a stable id, with its threshold defaults; ``traffic_only`` when it
    reads neither endpoints nor sightings, ``after_inventory`` when it reads endpoints but
    neither sightings nor findings."""

    def register(func: Rule) -> Rule:
        RULES[rule_id] = func
        if traffic_only:
            TRAFFIC_ONLY.add(rule_id)
        elif after_inventory:
            AFTER_INVENTORY.add(rule_id)
        DEFAULT_THRESHOLDS.update(defaults)
        return func

    return register


def load_rules() -> dict[str, Rule]:
    for name in RULE_MODULES:
        importlib.import_module(name)
    return RULES


def case_thresholds(store: Store) -> dict[str, float]:
    """The thresholds this case sets itself (meta key ``thresholds``), without the defaults."""
    raw = store.get_meta("thresholds")
    return {k: float(v) for k, v in json.loads(raw).items()} if raw else {}


def thresholds_for(store: Store) -> dict[str, float]:
    """The case's thresholds: defaults overlaid with the case's own settings."""
    load_rules()
    return DEFAULT_THRESHOLDS | case_thresholds(store)


def set_thresholds(store: Store, own: dict[str, float], actor: str) -> int:
    """Replace the case's own thresholds (audited), then recompute; returns the findings count."""
    from discovery.case import audit

    with store.transaction():
        audit.append(
            store,
            actor,
            "thresholds.set",
            "findings",
            {"before": case_thresholds(store), "after": own},
            in_transaction=True,
        )
        store.set_meta("thresholds", json.dumps(own, sort_keys=True))
    return recompute_findings(store)


# Intermediate results several rules share, kept only while ``recompute_findings`` runs its
# rules (nothing writes to the case meanwhile); a rule called on its own computes afresh.
_RUN_MEMO: dict[str, Any] | None = None


def shared(name: str, store: Store, compute: Callable[[Store], Any]) -> Any:
    """``compute(store)``, computed once per ``recompute_findings`` run for rules that share it."""
    if _RUN_MEMO is None:
        return compute(store)
    if name not in _RUN_MEMO:
        _RUN_MEMO[name] = compute(store)
    return _RUN_MEMO[name]


def recompute_findings(store: Store, ready: dict[str, list[Finding]] | None = None) -> int:
    """Re-run every rule and replace the findings table; returns the number of findings.

    ``ready`` holds the findings of rules already run over the case as it is now (the
    traffic-only rules a child ran while the inventory was rebuilt, and those it ran on the
    written inventory while sightings were rebuilt): those are not run again.
    """
    rules = load_rules()
    limits = thresholds_for(store)
    ready = ready or {}
    per_rule = ready | _run_rules(store, [r for r in rules if r not in ready], limits)
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
    found: dict[str, list[Finding]] = {}
    try:
        for rule_id in rule_ids:
            started = time.process_time()
            found[rule_id] = list(RULES[rule_id](store, limits))
            log.debug("findings: %s took %.3f s of CPU", rule_id, time.process_time() - started)
        return found
    finally:
        _RUN_MEMO = None


def _prepare_rules(store: Store, rule_ids: Iterable[str], limits: dict[str, float]) -> None:
    """The ``PREPARE`` part of each rule that has one."""
    for rule_id in rule_ids:
        if rule_id in PREPARE:
            started = time.process_time()
            PREPARE[rule_id](store, limits)
            log.debug("findings: %s prepared in %.3f s", rule_id, time.process_time() - started)
