"""``inventory import``: the register lands in the case, identities show owners, bad files exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from ir_console.cli import cli
from tests.discovery.redact.credentials import tokens as t

REGISTER = """identities:
  - identity: billing-sync
    kind: service-account
    owner: payments@acme.example
    matchers: [{jwt_sub: svc-billing}]
  - identity: never-seen
    kind: bot
    owner: ops@acme.example
    matchers: [{key_prefix: acme_pk_nobody_}]
"""


def _case(case_path: Path) -> None:
    with Store.open(case_path) as store:
        observed = [
            ObservedExchange(
                ts=1_790_000_000.0 + i,
                source="pcap",
                evidence=f"frames {i}",
                client_ip="10.0.0.5",
                method="GET",
                target="/v1/orders",
                host="api.acme.example",
                status=200,
                request_headers=(
                    ("Authorization", f"Bearer {t.hs256_jwt({'iss': 'i', 'sub': s})}"),
                ),
            )
            for i, s in enumerate(["svc-billing", "svc-notebook"])
        ]
        store.add_exchanges([to_exchange(o, store.fingerprint) for o in observed])
        recompute(store)


def test_import_then_identities(case_path: Path, tmp_path: Path) -> None:
    _case(case_path)
    register = tmp_path / "register.yaml"
    register.write_text(REGISTER)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["--db", str(case_path), "inventory", "import", str(register), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"registered": 2, "matched": 1, "unregistered": 1}
    result = runner.invoke(cli, ["--db", str(case_path), "identities", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["billing-sync"]["owner"] == "payments@acme.example"
    assert rows["billing-sync"]["registered"] and rows["billing-sync"]["requests"] == 1
    assert rows["never-seen"]["credentials"] == []
    assert not rows["i|svc-notebook"]["registered"]
    result = runner.invoke(
        cli, ["--db", str(case_path), "findings", "--rule", "unregistered_identity", "--json"]
    )
    assert [f["subject"]["id"] for f in json.loads(result.stdout)] == ["jwt:i|svc-notebook"]


@pytest.mark.integration
def test_bad_register_is_one_line_and_exit_2(case_path: Path, tmp_path: Path) -> None:
    _case(case_path)
    register = tmp_path / "bad.csv"
    register.write_text("identity,kind\nx,robot\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ir_console",
            "--db",
            str(case_path),
            "inventory",
            "import",
            str(register),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{register} (line 2): kind 'robot'" in proc.stderr
