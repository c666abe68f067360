"""The console and the CLI agree on the demo case: every count the console shows equals the size
of what the CLI's ``--json`` prints for it.

They agree by construction: ``ir_console/tui/data.py`` and the CLI's commands call the same
``discovery.views`` functions (``queries``' pages, ``overview.case_counts``, ``subjects``'
resolver, ``graph.answers``). This test drives both surfaces as a responder would (the console
through its keys, the CLI through ``CliRunner``) and compares what they show.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from textual.widgets import Tree

from ir_console.cli import cli
from ir_console.tui.app import ConsoleApp
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio
DEMO = Path(__file__).resolve().parents[3] / "demo"


def cli_json(case: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(case), *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--no-tui", "--case", str(case)])
    assert result.exit_code == 0, result.output
    return case


@pytest.fixture(scope="module")
def leaked_key(demo_case: Path) -> str:
    """The credential id of the partner key the demo leaks (used from two addresses)."""
    sys.path.insert(0, str(DEMO))
    from make_capture import SEED, Secrets

    result = CliRunner().invoke(
        cli,
        ["--db", str(demo_case), "credentials", "find", "--stdin", "--json"],
        input=Secrets(SEED).globex_partner_key + "\n",
    )
    found = json.loads(result.stdout)
    assert found["found"] is True
    return str(found["credential"]["id"])


def count(text: str, label: str) -> int:
    """The number after ``label`` on the overview (``endpoints 17``)."""
    match = re.search(rf"\b{label} (\d+)\b", text)
    assert match, (label, text)
    return int(match.group(1))


def status_total(app: ConsoleApp) -> int:
    """The list's total from its status line (`` 6 of 6``)."""
    match = re.search(r" (\d+) of (\d+)", screen_text(app))
    assert match, screen_text(app)
    return int(match.group(2))


async def test_console_and_cli_counts_are_equal_on_the_demo_case(
    demo_case: Path, leaked_key: str
) -> None:
    hosts = cli_json(demo_case, "hosts")
    endpoints = cli_json(demo_case, "endpoints")
    credentials = cli_json(demo_case, "credentials")
    identities = cli_json(demo_case, "identities")
    findings = cli_json(demo_case, "findings")
    radius = cli_json(demo_case, "graph", "blast-radius", leaked_key)
    leaked = next(c for c in credentials if c["id"] == leaked_key)
    assert len(leaked["sources"]) == 2  # the demo's leak: one key, two addresses

    app = ConsoleApp(demo_case)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        overview = screen_text(app)
        assert count(overview, "hosts") == len(hosts)
        assert count(overview, "endpoints") == sum(e["status"] != "orphan" for e in endpoints)
        assert count(overview, "shadow") == sum(e["status"] == "shadow" for e in endpoints)
        assert count(overview, "zombie") == sum(e["status"] == "zombie" for e in endpoints)
        assert count(overview, "credentials") == len(credentials)
        assert count(overview, "identities") == len(identities)
        assert count(overview, "unregistered identities") == sum(
            not i["registered"] for i in identities
        )
        assert count(overview, "findings") == len(findings)
        for severity in ("critical", "high", "medium"):
            assert count(overview, severity) == sum(f["severity"] == severity for f in findings)

        # every list's total is the CLI's list length (orphans included: the inventory's rows)
        for key, rows in (("2", endpoints), ("3", identities), ("4", credentials), ("5", findings)):
            await press(pilot, key)
            assert status_total(app) == len(rows), key

        # the leaked key's row and details: the CLI's requests, sources and reach
        await press(pilot, "4", "slash")
        await type_text(pilot, f"id:{leaked_key}")
        await press(pilot, "escape")
        assert status_total(app) == 1
        text = screen_text(app)
        assert re.search(rf"{leaked_key}.*\b{leaked['requests']}\b", text), text
        assert f"Sources ({len(leaked['sources'])})" in text
        assert f"Endpoints reached ({len(leaked['endpoints'])})" in text

        # its blast radius in the graph explorer: the CLI's answer, drawn as a tree
        await press(pilot, "x")
        assert "blast radius of this credential" in screen_text(app)
        tree = app.screen.query_one(Tree)
        groups = {str(n.label).split("  ")[0]: n for n in tree.root.children}
        reach = next(n for label, n in groups.items() if label.startswith("reaches"))
        assert str(reach.label) == f"reaches {radius['summary']['endpoints']} endpoint(s)"
        shown = [leaf for service in reach.children for leaf in service.children]
        assert len(reach.children) == radius["summary"]["services"]
        assert len(shown) == radius["summary"]["endpoints"]
        calls = sorted(int(str(leaf.label).rsplit(" ", 2)[-2]) for leaf in shown)
        assert calls == sorted(e["calls"] for e in radius["endpoints"])
        clients = groups["clients that presented it"]
        assert len(clients.children) == radius["summary"]["clients"] == 2
        others = groups["other credentials seen from the same clients"]
        assert len(others.children) == radius["summary"]["co_credentials"]
