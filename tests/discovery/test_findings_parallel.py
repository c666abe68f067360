"""Rules run in forked children (large cases) give exactly the findings they give in-process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from discovery import analysis, findings
from discovery.store import Store
from ir_console.cli import cli


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--no-tui", "--json", "--case", str(case)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return case


def _findings(store: Store) -> list[tuple[Any, ...]]:
    return store.conn.execute(
        "SELECT rowid, id, rule, severity, title, subject_type, subject_id, evidence, "
        "first_seen, last_seen FROM findings ORDER BY rowid"
    ).fetchall()


def _recompute(store: Store, monkeypatch: pytest.MonkeyPatch, fork: bool) -> list[tuple[Any, ...]]:
    """Findings after a recompute with (``fork``) or without children, however small the case;
    with children, checks that both ran (the early rules and the split ones)."""
    started: list[list[str]] = []
    real = findings.RulesInChild

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            started.append(self.rule_ids)

    monkeypatch.setattr(findings, "_worth_forking", lambda store: fork)
    monkeypatch.setattr(findings, "RulesInChild", Counted)
    with store.transaction() as conn:  # as after a first ingest: the inventory is still to do
        for sql in ("DELETE FROM findings", "DELETE FROM sightings", "DELETE FROM endpoints",
                    "UPDATE exchanges SET endpoint_id = NULL"):
            conn.execute(sql)
    analysis.recompute(store)
    assert started == ([list(findings.EARLY_RULES), list(findings.SPLIT_RULES)] if fork else [])
    return _findings(store)


def test_forked_rules_give_the_in_process_findings(
    demo_case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(demo_case) as store:
        serial = _recompute(store, monkeypatch, fork=False)
        forked = _recompute(store, monkeypatch, fork=True)
    rules = {row[2] for row in serial}
    assert {"object_enumeration", "cleartext_credential", "sensitive_data_exposure"} <= rules
    assert forked == serial


def test_a_failed_child_is_made_up_for_in_process(
    demo_case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(*_: object) -> None:
        os._exit(3)

    with Store.open(demo_case) as store:
        serial = _recompute(store, monkeypatch, fork=False)
        monkeypatch.setattr(findings, "_rules_child", dies)
        assert _recompute(store, monkeypatch, fork=True) == serial
