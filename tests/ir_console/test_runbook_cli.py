"""``ir-console runbook | audit | report`` through click and through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from discovery.analyse.sightings import rebuild_sightings
from discovery.case.store import Store
from ir_console.cli import cli
from tests.conftest import make_exchange, make_sighting
from tests.runbooks.actions.providers import providers

pytestmark = pytest.mark.integration  # starts processes or servers

SECRET = "ghp_" + "C" * 36


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "case.db"
    with Store.open(path) as store:
        sighting = make_sighting(store, SECRET, kind="github_token")
        store.add_exchanges([make_exchange(credentials=(sighting,))])
        rebuild_sightings(store)
        cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
    return path, cid


def invoke(db: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), *args], input=input, catch_exceptions=False)


def main(db: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(db), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_and_show(case: tuple[Path, str]) -> None:
    db, _ = case
    listed = json.loads(invoke(db, "runbook", "list", "--json").output)
    assert {r["id"] for r in listed} >= {"revoke-leaked-credential", "preserve-evidence"}
    shown = invoke(db, "runbook", "show", "revoke-leaked-credential")
    assert "revoke-github: github.revoke_credentials  [irreversible, when, retry]" in shown.output
    assert "token (string, secret) env=$IR_CONSOLE_SECRET" in shown.output


def test_validate_good_and_bad(tmp_path: Path, case: tuple[Path, str]) -> None:
    db, _ = case
    good = tmp_path / "good.yaml"
    good.write_text("id: g\ntitle: G\napplies_to: host\nsteps:\n  - id: a\n    manual: look\n")
    assert main(db, "runbook", "validate", str(good)).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: b\ntitle: B\napplies_to: host\nsteps:\n  - id: a\n"
        "    action: http.request\n    timeout: -1\n"
    )
    proc = main(db, "runbook", "validate", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(
        f"ir-console: error: {bad}:7: step 'a' (#1) field 'timeout':"
    )
    assert "Traceback" not in proc.stderr


def test_run_json_lines_gate_exit_3_then_resume(case: tuple[Path, str], tmp_path: Path) -> None:
    db, cid = case
    with providers() as p:
        args = [
            "runbook",
            "run",
            "revoke-leaked-credential",
            "--target",
            cid,
            "--param",
            f"github_api_url={p.url}/github",
            "--param",
            f"report_dir={tmp_path / 'rep'}",
            "--param",
            "verify_wait=0",
            "--secret-stdin",
            "token",
            "--json",
        ]
        proc = main(db, *args, input=SECRET + "\n")
        assert proc.returncode == 3, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert lines[0]["event"] == "run_started" and lines[-1]["event"] == "run_finished"
        assert lines[-1]["state"] == "waiting"
        gate = next(e for e in lines if e["event"] == "gate_reached")
        assert gate["step"] == "revoke-github"
        assert p.github_revoked == []
        run_id = lines[0]["run_id"]

        # the secret is not stored: resume needs it again, plus the step's own approval
        proc = main(db, "runbook", "resume", run_id, "--yes", "--json", input="")
        assert proc.returncode == 3 and p.github_revoked == []
        proc = main(
            db,
            "runbook",
            "resume",
            run_id,
            "--approve",
            "revoke-github",
            "--secret-stdin",
            "token",
            "--json",
            input=SECRET + "\n",
        )
        # revoked at GitHub, but no enforcing proxy applied the block and no traffic came to
        # verify anything: exit 4, partial, and the outcome says so
        assert proc.returncode == 4, proc.stderr
        assert p.github_revoked == [SECRET]
        end = json.loads(proc.stdout.splitlines()[-1])
        assert end["state"] == "partial"
        assert "revocation submitted to GitHub" in end["outcome"]
        assert "NOT ENFORCED" in end["outcome"] and "not verified" in end["outcome"]
    assert SECRET not in proc.stdout + proc.stderr

    status = json.loads(invoke(db, "runbook", "status", run_id, "--json").output)
    assert status["state"] == "partial"
    assert [s["state"] for s in status["steps"]][:5] == [
        "done",
        "done",
        "skipped",
        "skipped",
        "done",
    ]
    log = invoke(db, "runbook", "log", run_id, "--json")
    actions = [e["action"] for e in json.loads(log.output)]
    assert actions[0] == "run.started" and actions[-1] == "run.partial"
    assert "approval.granted" in actions and "block.credential" in actions
    assert SECRET not in log.output


def test_secret_on_the_command_line_is_refused(case: tuple[Path, str]) -> None:
    db, cid = case
    proc = main(
        db,
        "runbook",
        "run",
        "revoke-leaked-credential",
        "--target",
        cid,
        "--param",
        f"token={SECRET}",
    )
    assert proc.returncode == 2
    assert "secret" in proc.stderr and SECRET not in proc.stderr


def test_dry_run_human_output(case: tuple[Path, str]) -> None:
    db, cid = case
    result = invoke(db, "runbook", "run", "preserve-evidence", "--target", cid, "--dry-run")
    assert result.exit_code == 0
    assert "plan  bundle: copy the case" in result.output
    assert "planned: dry run: nothing was called" in result.output


def test_unknown_target_and_runbook(case: tuple[Path, str]) -> None:
    db, _ = case
    proc = main(db, "runbook", "run", "preserve-evidence", "--target", "c-000000000000")
    assert proc.returncode == 2 and "no credential" in proc.stderr
    proc = main(db, "runbook", "show", "nope")
    assert proc.returncode == 2 and "no runbook 'nope'" in proc.stderr


def test_user_runbooks_folder(case: tuple[Path, str], tmp_path: Path) -> None:
    db, cid = case
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "a.yaml").write_text(
        "id: mine\ntitle: Mine\napplies_to: credential\nsteps:\n"
        "  - id: look\n    action: evidence.summary\n"
        '    with: {subject: "{{ target.id }}"}\n'
    )
    result = invoke(
        db, "runbook", "--runbooks", str(folder), "run", "mine", "--target", cid, "--json"
    )
    assert result.exit_code == 0
    assert json.loads(result.output.splitlines()[-1])["state"] == "succeeded"


def test_audit_verify_names_the_first_bad_entry(case: tuple[Path, str]) -> None:
    db, cid = case
    assert (
        invoke(db, "runbook", "run", "preserve-evidence", "--target", cid, "--dry-run").exit_code
        == 0
    )
    ok = main(db, "audit", "verify")
    assert ok.returncode == 0 and "audit log ok: 2 entries" in ok.stderr
    with Store.open(db) as store:
        store.conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    bad = main(db, "audit", "verify", "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_bad"] == 1
    assert "entry 1 was changed" in main(db, "audit", "verify").stderr


def test_report_markdown_and_json(case: tuple[Path, str], tmp_path: Path) -> None:
    db, cid = case
    invoke(db, "runbook", "run", "preserve-evidence", "--target", cid, "--dry-run")
    md = invoke(db, "report")
    assert md.output.startswith("# Incident report")
    assert "preserve-evidence on " in md.output and "Audit head: `" in md.output
    out = tmp_path / "r.json"
    assert invoke(db, "report", "--format", "json", "-o", str(out)).exit_code == 0
    data = json.loads(out.read_text())
    assert data["audit"]["ok"] and data["actions"][0]["runbook"] == "preserve-evidence"


@pytest.mark.parametrize(
    "argv",
    [
        ["runbook", "list"],
        ["runbook", "show", "revoke-leaked-credential"],
        ["audit", "verify"],
        ["report"],
    ],
)
def test_runbook_commands_load_no_heavy_library(argv: list[str], case: tuple[Path, str]) -> None:
    from tests.test_imports import loaded_modules

    code = (
        "import sys, contextlib, io\n"
        f"sys.argv = ['ir-console', '--db', {str(case[0])!r}, *{argv!r}]\n"
        "from ir_console.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    modules = loaded_modules(code)
    for heavy in ("scapy", "mitmproxy", "textual", "networkx", "boto3", "httpx"):
        assert heavy not in modules, f"{argv} imported {heavy}"
