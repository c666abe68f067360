"""``findings thresholds``: show, change and reset a case's thresholds; findings follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.analyse.recompute import recompute
from discovery.case import audit
from discovery.case.store import Store
from ir_console.cli import cli
from tests.conftest import make_exchange, make_sighting

DAY = 86400.0


def run(case: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(case), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def ten_day_token(case_path: Path) -> Path:
    with Store.open(case_path) as store:
        token = make_sighting(
            store,
            "tok-ten-days-0123456789abcdef",
            kind="jwt",
            issued_at=1_790_000_000.0,
            expires_at=1_790_000_000.0 + 10 * DAY,
        )
        store.add_exchanges([make_exchange(credentials=(token,))])
        recompute(store)
    return case_path


def rules(case: Path) -> list[str]:
    return [f["rule"] for f in json.loads(run(case, "findings", "--json")[1])]


def test_show_change_and_reset(ten_day_token: Path) -> None:
    assert "long_lived_token" in rules(ten_day_token)  # 10 days > the default 7
    code, out = run(ten_day_token, "findings", "thresholds", "--json")
    assert code == 0
    shown = {r["name"]: r for r in json.loads(out)}
    assert shown["long_lived_token_days"] == {
        "name": "long_lived_token_days",
        "value": 7.0,
        "default": 7.0,
        "source": "default",
    }
    assert "route_probing_min_paths" in shown and "enumeration_distinct_ids" in shown
    code, _ = run(ten_day_token, "findings", "thresholds", "--set", "long_lived_token_days=30")
    assert code == 0
    assert "long_lived_token" not in rules(ten_day_token)
    table = run(ten_day_token, "findings", "thresholds")[1]
    assert any(
        line.split()[:4] == ["long_lived_token_days", "30", "7", "case"]
        for line in table.splitlines()
    )
    run(ten_day_token, "findings", "thresholds", "--reset", "long_lived_token_days")
    assert "long_lived_token" in rules(ten_day_token)
    with Store.open(ten_day_token) as store:
        changes = [e for e in audit.entries(store) if e.action == "thresholds.set"]
        assert [e.details["after"] for e in changes] == [{"long_lived_token_days": 30.0}, {}]
        assert audit.verify(store).ok


@pytest.mark.parametrize(
    "bad",
    ["nope=3", "long_lived_token_days", "long_lived_token_days=x", "long_lived_token_days=-1"],
)
def test_bad_settings_exit_2_and_change_nothing(ten_day_token: Path, bad: str) -> None:
    code, out = run(ten_day_token, "findings", "thresholds", "--set", bad)
    assert code == 2 and "Error" in out
    shown = json.loads(run(ten_day_token, "findings", "thresholds", "--json")[1])
    assert all(r["source"] == "default" for r in shown)
