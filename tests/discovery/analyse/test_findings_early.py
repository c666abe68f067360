"""The traffic-only findings rules run in a child while the inventory is rebuilt, and the rules
that read the inventory in the same child once it is written: the case gets the findings it gets
without the child, and a failing child changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from discovery.analyse import findings
from discovery.analyse.findings import early
from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.ingest.files import ingest_file
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "pcap"


def _findings(store: Store) -> list[tuple[object, ...]]:
    return store.conn.execute(
        "SELECT id, rule, severity, title, subject_type, subject_id, evidence, first_seen, "
        "last_seen FROM findings ORDER BY id"
    ).fetchall()


def _case(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "case.db")
    for capture in ("http_api.pcap", "crafted_gap.pcap", "tls_sni.pcap"):
        ingest_file(store, FIXTURES / capture)
    return store


def test_the_child_gives_the_findings_of_the_in_process_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _case(tmp_path)
    monkeypatch.setattr(early.EarlyRules, "start", classmethod(lambda cls, store: None))
    recompute(store)
    expected = _findings(store)
    monkeypatch.undo()
    monkeypatch.setattr(early, "MIN_EXCHANGES", 0)
    ran_here: list[str] = []
    run_rules = findings._run_rules

    def recording(store: Store, rule_ids: list[str], limits: dict[str, float]) -> object:
        if os.getpid() == parent:
            ran_here.extend(rule_ids)
        return run_rules(store, rule_ids, limits)

    parent = os.getpid()
    monkeypatch.setattr(findings, "_run_rules", recording)
    monkeypatch.setattr(early, "_run_rules", recording)
    # no inventory left from the first run: rules that read it before it is written find nothing
    store.conn.execute("DELETE FROM findings")
    store.conn.execute("DELETE FROM endpoints")
    store.conn.execute("UPDATE exchanges SET endpoint_id = NULL")
    recompute(store)
    got = _findings(store)
    store.close()
    assert got == expected
    child_rules = findings.TRAFFIC_ONLY | findings.AFTER_INVENTORY
    assert {row[1] for row in got} & findings.TRAFFIC_ONLY  # the child's rules did find things
    assert {row[1] for row in got} & findings.AFTER_INVENTORY  # (both kinds)
    assert ran_here and not set(ran_here) & child_rules  # ... and only the child ran them


@pytest.mark.integration
def test_a_child_never_told_the_inventory_is_written_leaves_its_rules_here(
    tmp_path: Path,
) -> None:
    store = _case(tmp_path)
    child = early.EarlyRules(store)
    found = child.result()
    store.close()
    assert set(found) == findings.TRAFFIC_ONLY
    assert findings.AFTER_INVENTORY  # (run by recompute_findings, in this process)


@pytest.mark.integration
def test_a_failing_child_leaves_the_rules_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _case(tmp_path)
    recompute(store)
    expected = _findings(store)

    def dies(*args: object) -> None:
        os._exit(3)

    monkeypatch.setattr(early, "MIN_EXCHANGES", 0)
    monkeypatch.setattr(early, "_child", dies)
    store.conn.execute("DELETE FROM findings")
    recompute(store)
    assert _findings(store) == expected
    store.close()


def test_the_analysis_gives_the_connection_its_memory_map_back(tmp_path: Path) -> None:
    """The analysis maps the case while it reads; the console's own setting is left as it was."""
    store = _case(tmp_path)
    for before in (0, 1 << 30):
        store.conn.execute(f"PRAGMA mmap_size = {before}")
        recompute(store)
        assert store.conn.execute("PRAGMA mmap_size").fetchone()[0] == before
    store.close()
