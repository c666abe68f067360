"""`block` / `unblock`: the blocklist rows, the audit entries written first, the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.case import audit, blocklist
from discovery.case.store import Store
from discovery.redact.secrets import credential_id
from ir_console.cli import cli
from tests.conftest import make_exchange, make_sighting

SECRET = "key-live-blockme-0123456789"


def run(case_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", str(case_path), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def case_with_credential(case_path: Path) -> tuple[Path, str]:
    with Store.open(case_path) as store:
        sighting = make_sighting(store, SECRET)
        store.add_exchanges([make_exchange(credentials=(sighting,))])
        return case_path, credential_id(sighting.fingerprint)


def test_block_and_unblock_credential(case_with_credential: tuple[Path, str]) -> None:
    case_path, cid = case_with_credential
    code, out, _ = run(
        case_path, "block", "credential", cid, "--reason", "leaked on paste", "--json"
    )
    assert code == 0
    assert json.loads(out)["blocked"] == {
        "kind": "credential",
        "subject": cid,
        "reason": "leaked on paste",
        "created_by": "cli",
    }
    with Store.open(case_path) as store:
        (block,) = blocklist.blocks(store)
        assert block.value == store.fingerprint(SECRET)
        marker = blocklist.change_marker(store)
        assert [e.action for e in audit.entries(store)] == ["block.credential"]
    code, out, _ = run(case_path, "unblock", "credential", cid, "--json")
    assert code == 0 and json.loads(out)["unblocked"] is True
    with Store.open(case_path) as store:
        assert blocklist.blocks(store) == []
        assert blocklist.change_marker(store) != marker
        assert [e.action for e in audit.entries(store)] == [
            "block.credential",
            "unblock.credential",
        ]
        assert audit.verify(store).ok
    code, out, _ = run(case_path, "unblock", "credential", cid, "--json")
    assert json.loads(out)["unblocked"] is False


def test_block_endpoint_normalises_the_subject(case_path: Path) -> None:
    Store.open(case_path).close()
    code, _, err = run(case_path, "block", "endpoint", "API.Example.com get /v1/users/{id}")
    assert code == 0 and "api.example.com GET /v1/users/{id}" in err
    with Store.open(case_path) as store:
        assert [(b.kind, b.value) for b in blocklist.blocks(store)] == [
            ("endpoint", "api.example.com GET /v1/users/{id}")
        ]
    code, out, _ = run(
        case_path, "unblock", "endpoint", "api.example.com GET /v1/users/{id}", "--json"
    )
    assert json.loads(out)["unblocked"] is True


@pytest.mark.integration
@pytest.mark.parametrize(
    "argv",
    [
        ["block", "credential", "c-000000000000"],
        ["block", "endpoint", "api.example.com GET"],
        ["block", "endpoint", "api.example.com GET users"],
    ],
)
def test_bad_subjects_exit_2_with_one_line(case_path: Path, argv: list[str]) -> None:
    Store.open(case_path).close()
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case_path), *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("ir-console: error:") and proc.stderr.count("\n") == 1
    with Store.open(case_path) as store:
        assert blocklist.blocks(store) == [] and audit.entries(store) == []


def test_block_says_plainly_when_no_enforcing_proxy_runs(
    case_with_credential: tuple[Path, str],
) -> None:
    case_path, cid = case_with_credential
    code, out, _ = run(case_path, "credentials", "--json")
    assert [c["blocked"] for c in json.loads(out)] == [False]
    code, _, err = run(case_path, "block", "credential", cid)
    assert code == 0
    assert "NOT ENFORCED: no enforcing proxy is running for this case" in err
    code, out, _ = run(case_path, "credentials", "--json")
    assert [c["blocked"] for c in json.loads(out)] == [True]
    code, out, _ = run(case_path, "block", "list", "--json")
    listed = json.loads(out)
    assert [b["subject"] for b in listed["blocks"]] == [cid]
    assert listed["enforcement"] == {"enforced": False, "proxies": [], "last_applied": None}


def test_block_reports_the_running_enforcing_proxy_that_applied_it(
    case_with_credential: tuple[Path, str],
) -> None:
    """An enforcer (the proxy addon's, in this process: its poll thread and heartbeat) runs on
    the case: `block` waits until it applied the change and says so; once it stops, `block
    list` says nothing enforces the blocklist."""
    from discovery.proxy.enforcement import Enforcer

    case_path, cid = case_with_credential
    enforcer = Enforcer(case_path, poll_seconds=0.05)
    try:
        code, out, _ = run(case_path, "block", "credential", cid, "--json")
        assert code == 0
        state = json.loads(out)["enforcement"]
        assert state["enforced"] is True
        assert [p["applied_latest"] for p in state["proxies"]] == [True]
        assert cid in {s for s in enforcer.snapshot.credentials.values()}
        code, _, err = run(case_path, "block", "list")
        assert "enforced by the running proxy" in err
    finally:
        enforcer.close()
    code, out, err = run(case_path, "block", "list")
    assert cid in out and "NOT ENFORCED" in err
