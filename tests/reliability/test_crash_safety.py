"""Crash safety: a real ``ir-console ingest`` (two tcpdump captures, optionally specs first, then
the analysis) killed with SIGKILL at seeded points leaves a case that opens and passes
``PRAGMA integrity_check``; ingesting again ends with exactly the counts of an uninterrupted run.
The same for ``spec import`` and ``inventory import`` killed during their analysis."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.crashkit import (
    CAPTURES,
    REGISTER,
    SPECS,
    Kill,
    cli,
    copy_case,
    counts,
    ingest_argv,
    integrity,
    prepared_case,
    probe,
    remove_case,
    run_and_kill,
    run_ok,
)

pytestmark = pytest.mark.integration  # starts processes or servers

SEED = 11
# seconds after a trigger a kill may wait: the phases of the demo ingest are short
SPANS = {"start": 0.5, "spec": 0.05, "ingesting": 0.03, "written": 0.03, "analysing": 0.015}
# "prepared": specs and register already in the case, `ingest CAPTURES` is killed and re-run;
# "specs": an empty case, `ingest CAPTURES --spec A --spec B` is killed and re-run
SCENARIOS = ("prepared", "specs")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_case(tmp_path_factory.mktemp("prepared"))


@pytest.fixture(scope="module")
def baselines(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The counts of one uninterrupted ingest, per scenario."""
    folder = tmp_path_factory.mktemp("baseline")
    out = {}
    for scenario in SCENARIOS:
        case = _start(scenario, folder / f"{scenario}.db", prepared)
        run_ok(_argv(scenario, case))
        result = counts(case)
        assert result["exchanges"] > 100 and result["endpoints"] > 10
        assert result["credentials"] > 3 and sum(result["findings by rule"].values()) > 10
        assert result["analysis pending"] == 0
        out[scenario] = result
    assert out["prepared"]["endpoints by status"].get("documented")
    return out


def _start(scenario: str, case: Path, prepared: Path) -> Path:
    if scenario == "prepared":
        return copy_case(prepared, case)
    remove_case(case)
    return case


def _argv(scenario: str, case: Path) -> list[str]:
    return ingest_argv(case, with_specs=scenario == "specs")


def _analysed(case_counts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case_counts.items() if k != "analysis pending"}


def _kill_points(
    rng: random.Random, scenario: str, n: int, fixed: tuple[str, ...] = ()
) -> list[tuple[str, float]]:
    triggers = [t for t in SPANS if scenario == "specs" or t != "spec"]
    chosen = (list(fixed) + [rng.choice(triggers) for _ in range(n)])[:n]
    return [(t, rng.uniform(0, SPANS[t])) for t in chosen]


def _kill_then_recover(
    scenario: str, case: Path, points: list[tuple[str, float]], baseline: dict[str, Any]
) -> list[Kill]:
    """Kill one ingest per point on the same case, check the case after each, then ingest again.

    A kill "cut the analysis" when the inputs were all in but the analysed tables were not yet
    those of a finished run; such a case must be marked pending.
    """
    kills = []
    for trigger, delay in points:
        kill = run_and_kill(_argv(scenario, case), case, trigger, delay)
        if case.exists():
            assert integrity(case) == "ok", kill
        if kill.in_analysis:
            now = counts(case)
            cut = _analysed(now) != _analysed(baseline)
            if cut:  # (killed after the last stage, before the mark was cleared: not a cut)
                assert now["analysis pending"] == 1, (kill, now)
            kill = replace(kill, in_analysis=cut)
        kills.append(kill)
    run_ok(_argv(scenario, case))
    assert integrity(case) == "ok"
    assert counts(case) == baseline, (scenario, kills)
    return kills


def test_ingest_killed_at_seeded_points_recovers_to_the_uninterrupted_counts(
    tmp_path: Path, prepared: Path, baselines: dict[str, Any]
) -> None:
    rng = random.Random(SEED)
    plan = [
        ("prepared", p)
        for p in _kill_points(
            rng, "prepared", 5, ("start", "ingesting", "written", "analysing", "analysing")
        )
    ]
    plan += [("specs", p) for p in _kill_points(rng, "specs", 2, ("spec", "analysing"))]
    kills: list[Kill] = []
    for i, (scenario, point) in enumerate(plan):
        case = _start(scenario, tmp_path / f"case{i}.db", prepared)
        kills += _kill_then_recover(scenario, case, [point], baselines[scenario])
    assert sum(k.killed for k in kills) >= 5, kills
    assert any(k.in_analysis for k in kills), kills  # the case the pending mark is for was hit


def test_killed_during_analysis_then_reingest_reanalyses(
    tmp_path: Path, prepared: Path, baselines: dict[str, Any]
) -> None:
    """The bug: inputs registered, analysis cut; 'already ingested' must still re-analyse."""
    case = tmp_path / "case.db"
    for delay in (0.0, 0.002, 0.005, 0.01, 0.0, 0.0):  # at least one lands inside the analysis
        copy_case(prepared, case)
        kill = run_and_kill(_argv("prepared", case), case, "analysing", delay)
        if kill.in_analysis and _analysed(counts(case)) != _analysed(baselines["prepared"]):
            break
    else:
        pytest.fail("no kill landed inside the analysis")
    assert counts(case)["analysis pending"] == 1
    proc = run_ok(_argv("prepared", case))
    assert proc.stdout.count("already ingested") == 2  # nothing added ...
    assert counts(case) == baselines["prepared"]  # ... and yet analysed


@pytest.mark.parametrize("command", ["spec", "inventory"])
def test_import_killed_during_analysis_is_finished_by_the_next_ingest(
    tmp_path: Path, command: str
) -> None:
    """``spec import`` / ``inventory import`` write, then recompute: a kill between leaves the
    case marked, and an ingest of already-ingested captures re-runs the analysis."""
    template, case = tmp_path / "captures.db", tmp_path / "case.db"
    argv_of = {
        "spec": lambda c: cli(c, "spec", "import", SPECS[0]),
        "inventory": lambda c: cli(c, "inventory", "import", REGISTER),
    }[command]
    run_ok(cli(template, "ingest", *CAPTURES))  # no spec, no register yet
    expected_case = copy_case(template, tmp_path / "expected.db")
    run_ok(argv_of(expected_case))
    expected = counts(expected_case)
    assert expected["analysis pending"] == 0
    table = "specs" if command == "spec" else "identities WHERE registered = 1"

    def imported(c: Path) -> bool:
        return bool(probe(c, f"SELECT COUNT(*) FROM {table}"))

    for delay in (0.0, 0.002, 0.005, 0.0, 0.0):
        copy_case(template, case)
        kill = run_and_kill(argv_of(case), case, imported, delay)
        if kill.killed and _analysed(counts(case)) != _analysed(expected):
            break  # written, then killed before the analysis finished
    else:
        pytest.fail("no kill landed between the import's write and the end of its analysis")
    assert integrity(case) == "ok"
    assert counts(case)["analysis pending"] == 1
    proc = run_ok(cli(case, "ingest", *CAPTURES))
    assert proc.stdout.count("already ingested") == 2
    assert counts(case) == expected


@pytest.mark.soak
def test_ingest_kill_soak(tmp_path: Path, prepared: Path, baselines: dict[str, Any]) -> None:
    """Many seeded kills, one to three in a row on the same case before it is finished."""
    rng = random.Random(SEED * 1000)
    kills: list[Kill] = []
    for i in range(40):
        scenario = SCENARIOS[i % 2]
        case = _start(scenario, tmp_path / f"case{i}.db", prepared)
        points = _kill_points(rng, scenario, rng.randint(1, 3))
        kills += _kill_then_recover(scenario, case, points, baselines[scenario])
        remove_case(case)
    landed = [k for k in kills if k.killed]
    assert len(landed) >= len(kills) // 2
    assert sum(k.in_analysis for k in landed) >= 3
    print(
        f"soak: {len(kills)} kill points, {len(landed)} killed, "
        f"{sum(k.in_analysis for k in landed)} cut the analysis"
    )
