"""The opt-in secret vault: encrypted beside the case, fingerprint-checked, used by runbooks."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.case.store import Store
from ir_console.cli import cli
from runbooks import loader
from runbooks.engine import Approvals, Engine
from runbooks.errors import RunbookUsageError
from runbooks.secretvault import ENV_KEY, SecretVault, new_key, vault_path
from tests.runbooks.actions.providers import providers
from tests.runbooks.conftest import SECRET


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = new_key()
    monkeypatch.setenv(ENV_KEY, value)
    return value


def test_put_and_get(case: Store, credential_id: str, key: str) -> None:
    vault = SecretVault(case, key)
    with pytest.raises(RunbookUsageError, match="fingerprint differs"):
        vault.put(credential_id, "not-the-leaked-token")
    with pytest.raises(RunbookUsageError, match="no credential"):
        vault.put("c-000000000000", SECRET)
    vault.put(credential_id, SECRET)
    assert vault.get(credential_id) == SECRET and vault.credentials() == [credential_id]
    path = vault_path(case.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SECRET not in path.read_text()
    assert SECRET not in "\n".join(case.conn.iterdump())
    with pytest.raises(RunbookUsageError, match="wrong key"):
        SecretVault(case, new_key()).get(credential_id)
    with pytest.raises(RunbookUsageError, match="not a vault key"):
        SecretVault(case, "short")


def test_runbook_takes_the_secret_from_the_vault(
    case: Store, credential_id: str, key: str, tmp_path: Path
) -> None:
    SecretVault(case, key).put(credential_id, SECRET)
    with providers() as p:
        engine = Engine(case, approvals=Approvals(steps=frozenset({"revoke-github"})))
        events = [
            e.to_json()
            for e in engine.start(
                loader.find("revoke-leaked-credential"),
                credential_id,
                {
                    "github_api_url": p.url + "/github",
                    "report_dir": str(tmp_path),
                    "verify_wait": "0",
                },
            )
        ]
        # revoked with the vaulted secret; nothing enforces the block here: partial
        assert events[-1]["state"] == "partial", events[-1]
        assert "revocation submitted to GitHub" in events[-1]["outcome"]
        assert p.github_revoked == [SECRET]
    assert SECRET not in json.dumps(events)
    assert SECRET not in "\n".join(case.conn.iterdump())


def test_without_the_key_the_vault_is_not_used(
    case: Store, credential_id: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    SecretVault(case, key).put(credential_id, SECRET)
    monkeypatch.delenv(ENV_KEY)
    events = [
        e.to_json()
        for e in Engine(case).start(
            loader.find("revoke-leaked-credential"), credential_id, dry_run=True
        )
    ]
    plan = next(e for e in events if e.get("step") == "revoke-github")["plan"]
    assert "needs the secret input token" in plan


def test_vault_commands(case: Store, credential_id: str, key: str) -> None:
    runner = CliRunner()
    db = str(case.path)
    made = runner.invoke(cli, ["runbook", "vault", "key"], catch_exceptions=False)
    assert len(made.output.strip()) == 44
    added = runner.invoke(
        cli,
        ["--db", db, "runbook", "vault", "add", credential_id],
        input=SECRET + "\n",
        catch_exceptions=False,
    )
    assert added.exit_code == 0 and SECRET not in added.output
    listed = runner.invoke(cli, ["--db", db, "runbook", "vault", "list", "--json"])
    assert json.loads(listed.output) == [credential_id]
