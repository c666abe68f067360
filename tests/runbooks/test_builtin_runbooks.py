"""Every built-in runbook end to end, dry and live, headless, against local real parts:
Authlib's RFC 7009 endpoint, moto's IAM server, GitHub/Slack/Vault stand-ins, a webhook."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from discovery.case import audit, blocklist
from discovery.case.store import Store
from runbooks import loader
from runbooks.engine import Approvals, Engine
from tests.conftest import make_exchange, make_sighting
from tests.runbooks.actions.aws_server import moto_iam
from tests.runbooks.actions.oauth_server import CLIENT_ID, CLIENT_SECRET, oauth_server
from tests.runbooks.actions.providers import providers
from tests.runbooks.servers import http_server

ENDPOINT = "api.example.com GET /v1/users/{id}"


def go(
    store: Store,
    runbook_id: str,
    target: str,
    params: dict[str, Any] | None = None,
    *,
    dry_run: bool = False,
    yes: bool = False,
    approve: tuple[str, ...] = (),
    secrets: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    engine = Engine(
        store,
        approvals=Approvals(yes=yes, steps=frozenset(approve)),
        secrets=secrets or {},
        sleep=lambda s: None,
    )
    loaded = loader.find(runbook_id)
    given = {k: str(v) for k, v in (params or {}).items()}
    if "verify_wait" in loaded.runbook.inputs:  # no traffic comes in these tests: don't wait
        given.setdefault("verify_wait", "0")
    events = engine.start(loaded, target, given, dry_run=dry_run)
    return [e.to_json() for e in events]


def assert_partial(events: list[dict[str, Any]], *said: str) -> None:
    """No enforcing proxy runs in these tests and no traffic comes: whatever the provider step
    did, the run ends partial, never succeeded, and its outcome says what was and was not done."""
    end = events[-1]
    assert end["state"] == "partial", end
    assert "NOT ENFORCED: no enforcing proxy is running" in end["outcome"]
    assert "not verified: no traffic observed" in end["outcome"]
    for text in said:
        assert text in end["outcome"], end["outcome"]


def states(events: list[dict[str, Any]]) -> dict[str, str]:
    return dict(events[-1]["steps"])


def add_credential(store: Store, secret: str, **fields: Any) -> str:
    store.add_exchanges([make_exchange(credentials=(make_sighting(store, secret, **fields),))])
    return str(
        store.conn.execute(
            "SELECT id FROM credentials WHERE fingerprint = ?", (store.fingerprint(secret),)
        ).fetchone()[0]
    )


def test_revoke_leaked_github_token(case: Store, credential_id: str, tmp_path: Path) -> None:
    from tests.runbooks.conftest import SECRET

    params = {"github_api_url": "", "report_dir": str(tmp_path / "rep")}
    with providers() as p:
        params["github_api_url"] = p.url + "/github"
        dry = go(
            case,
            "revoke-leaked-credential",
            credential_id,
            params,
            dry_run=True,
            secrets={"token": SECRET},
        )
        assert p.server.requests == [] and blocklist.blocks(case) == []
        assert dry[-1]["state"] == "planned"
        plans = {e["step"]: e["plan"] for e in dry if e["event"] == "step_planned"}
        assert "/credentials/revoke" in plans["revoke-github"]
        assert plans["revoke-aws"].startswith("skipped")
        # the steps that do not apply say why in the runbook's words (their skip_reason)
        why = {e["step"]: e["skipped"] for e in dry if e["event"] == "step_planned"}
        assert why["revoke-aws"] == why["delete-aws-key"] == "the credential's provider is github"
        assert why["revoke-at-provider"] == why["revoke-by-hand"] == "a provider step revokes it"
        assert why["revoke-github"] is None

        stopped = go(
            case, "revoke-leaked-credential", credential_id, params, secrets={"token": SECRET}
        )
        assert stopped[-1]["state"] == "waiting" and p.github_revoked == []
        live = go(
            case,
            "revoke-leaked-credential",
            credential_id,
            params,
            approve=("revoke-github",),
            secrets={"token": SECRET},
        )
        assert p.github_revoked == [SECRET]
    live_why = {e["step"]: e["reason"] for e in live if e["event"] == "step_skipped"}
    assert live_why == {step: reason for step, reason in why.items() if reason}
    assert_partial(live, "revocation submitted to GitHub")
    assert states(live) == {
        "summary": "done",
        "block": "done",
        "revoke-aws": "skipped",
        "delete-aws-key": "skipped",
        "revoke-github": "done",
        "revoke-slack": "skipped",
        "revoke-vault": "skipped",
        "revoke-oauth": "skipped",
        "revoke-at-provider": "skipped",
        "revoke-by-hand": "skipped",  # a provider step applies: no manual revocation
        "verify": "done",
        "report": "done",
    }
    assert [b.subject for b in blocklist.blocks(case)] == [credential_id]
    report = json.loads((tmp_path / "rep" / f"report-{live[0]['run_id']}.json").read_text())
    assert report["audit"]["ok"] and report["blocklist"][0]["subject"] == credential_id
    md = (tmp_path / "rep" / f"report-{live[0]['run_id']}.md").read_text()
    assert "revoke-github | done" in md
    dump = "\n".join(case.conn.iterdump())
    assert SECRET not in dump and SECRET not in md and SECRET not in json.dumps(live)
    assert audit.verify(case).ok


@pytest.mark.parametrize("provider", ["slack", "vault"])
def test_revoke_leaked_slack_and_vault_tokens(store: Store, tmp_path: Path, provider: str) -> None:
    secret = {"slack": "xoxb-2222-3333-" + "q" * 24, "vault": "hvs." + "w" * 24}[provider]
    cid = add_credential(store, secret, kind=f"{provider}_token")
    with providers() as p:
        p.slack_tokens.add(secret)
        p.vault_tokens.add(secret)
        params = {
            "slack_api_url": p.url + "/slack",
            "vault_address": p.url + "/vault",
            "report_dir": str(tmp_path),
        }
        secrets = {"token": secret, "vault_token": p.vault_operator}
        dry = go(store, "revoke-leaked-credential", cid, params, dry_run=True, secrets=secrets)
        assert dry[-1]["state"] == "planned" and p.server.requests == []
        live = go(
            store,
            "revoke-leaked-credential",
            cid,
            params,
            approve=(f"revoke-{provider}",),
            secrets=secrets,
        )
        assert_partial(live, {"slack": "revoked at Slack", "vault": "revoked at Vault"}[provider])
        assert states(live)[f"revoke-{provider}"] == "done"
        if provider == "slack":
            assert p.slack_revoked == [secret]
        else:
            assert p.vault_revoked == [("token", secret)]
    assert secret not in "\n".join(store.conn.iterdump())


def test_revoke_leaked_key_of_another_provider_says_where_it_is_revoked(
    store: Store, tmp_path: Path
) -> None:
    """A key named by its format (Stripe's, here) for a provider no action revokes: the run stops
    at a manual step naming where the provider revokes it (from the detector's own facts)."""
    from discovery.redact.credentials import RequestView, detect_credentials
    from tests.discovery.redact.credentials.tokens import rand

    secret = "sk_live_" + rand(30, seed=77)
    view = RequestView(
        headers=(("Authorization", f"Bearer {secret}"),),
        query=[],
        host="api.stripe.com",
        path="/v1/charges",
        method="GET",
    )
    (sighting,) = detect_credentials(view, store.fingerprint)
    store.add_exchanges([make_exchange(credentials=(sighting,))])
    cid = store.conn.execute("SELECT id FROM credentials").fetchone()[0]
    params = {"report_dir": str(tmp_path)}
    dry = go(store, "revoke-leaked-credential", cid, params, dry_run=True)
    plans = {e["step"]: e["plan"] for e in dry if e["event"] == "step_planned"}
    assert "at stripe: https://dashboard.stripe.com/apikeys" in plans["revoke-at-provider"]
    assert plans["revoke-github"].startswith("skipped")
    stopped = go(store, "revoke-leaked-credential", cid, params)
    assert stopped[-1]["state"] == "waiting"
    done = go(store, "revoke-leaked-credential", cid, params, approve=("revoke-at-provider",))
    # confirmed by a person (contains: revoked); no enforcing proxy here: partial, and it says so
    assert_partial(done, "Revoke at the provider (no action here for it): confirmed by")
    assert states(done)["revoke-at-provider"] == "done"
    assert secret not in "\n".join(store.conn.iterdump())


def test_revoke_leaked_oauth_token(store: Store, tmp_path: Path) -> None:
    token = "oauth-access-token-0123456789abcdef"
    cid = add_credential(store, token, kind="bearer")
    with oauth_server() as server:
        server.issue(token)
        params = {
            "oauth_endpoint": server.revocation_url,
            "oauth_client_id": CLIENT_ID,
            "report_dir": str(tmp_path),
        }
        secrets = {"token": token, "oauth_client_secret": CLIENT_SECRET}
        go(store, "revoke-leaked-credential", cid, params, dry_run=True, secrets=secrets)
        assert server.revocations == []
        live = go(
            store,
            "revoke-leaked-credential",
            cid,
            params,
            approve=("revoke-oauth",),
            secrets=secrets,
        )
        assert_partial(live, "revoked at the OAuth server")
        assert server.tokens[token].revoked
    text = "\n".join(store.conn.iterdump())
    assert token not in text and CLIENT_SECRET not in text


def test_revoke_leaked_aws_key(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with moto_iam(monkeypatch) as iam:
        key_id = iam.new_key("etl")
        cid = add_credential(store, "AWS4-sig-" + key_id, kind="aws_sigv4", public_id=key_id)
        params = {
            "aws_endpoint_url": iam.endpoint_url,
            "delete_aws_key": "false",
            "report_dir": str(tmp_path),
        }
        dry = go(store, "revoke-leaked-credential", cid, params, dry_run=True)
        assert iam.status("etl", key_id) == "Active"
        plans = {e["step"]: e["plan"] for e in dry if e["event"] == "step_planned"}
        assert f"UpdateAccessKey {key_id} Status=Inactive" in plans["revoke-aws"]
        live = go(store, "revoke-leaked-credential", cid, params)
        assert_partial(live, f"revoked at AWS IAM ({key_id} is Inactive)")
        assert iam.status("etl", key_id) == "Inactive"  # read back through IAM
        # deleting is irreversible: it stops at its own gate until approved
        params["delete_aws_key"] = "true"
        gated = go(store, "revoke-leaked-credential", cid, params, yes=True)
        assert gated[-1]["state"] == "waiting" and iam.status("etl", key_id) == "Inactive"
        resumed = [
            e.to_json()
            for e in Engine(store, approvals=Approvals(steps=frozenset({"delete-aws-key"}))).resume(
                gated[0]["run_id"]
            )
        ]
        assert resumed[-1]["state"] == "partial"
        assert iam.status("etl", key_id) is None


def test_contain_shadow_endpoint(case: Store, tmp_path: Path) -> None:
    with http_server() as hook:
        params = {"notify_url": hook.url + "/hook", "report_dir": str(tmp_path)}
        dry = go(case, "contain-shadow-endpoint", ENDPOINT, params, dry_run=True)
        assert dry[-1]["state"] == "planned" and hook.requests == []
        stopped = go(case, "contain-shadow-endpoint", ENDPOINT, params)
        gate = next(e for e in stopped if e["event"] == "gate_reached")
        assert gate["step"] == "notify-owners" and "api.example.com" in gate["prompt"]
        live = go(case, "contain-shadow-endpoint", ENDPOINT, params, yes=True)
        assert_partial(live, f"endpoint {ENDPOINT!r} on the blocklist")
        assert hook.requests[0].json() == {
            "event": "endpoint_blocked",
            "endpoint": ENDPOINT,
            "run": live[0]["run_id"],
        }
    assert [(b.kind, b.subject) for b in blocklist.blocks(case)] == [("endpoint", ENDPOINT)]
    summary = next(e for e in live if e["event"] == "step_succeeded" and e["step"] == "who-calls")
    assert summary["output"]["clients"] == ["10.0.0.5"]


def test_contain_shadow_endpoint_rolls_back_the_block_when_notify_fails(
    case: Store, tmp_path: Path
) -> None:
    with http_server(lambda seen: (500, {}, b"down")) as hook:
        live = go(
            case,
            "contain-shadow-endpoint",
            ENDPOINT,
            {"notify_url": hook.url + "/hook", "report_dir": str(tmp_path)},
            yes=True,
        )
        assert len(hook.requests) == 3  # retried
    assert live[-1]["state"] == "failed"
    assert states(live)["block"] == "rolled_back"
    assert blocklist.blocks(case) == []


def test_rotate_long_lived_token(store: Store, tmp_path: Path) -> None:
    token = "long-lived-token-abcdefghijklmnop"
    cid = add_credential(store, token, kind="bearer")
    with oauth_server() as server, http_server() as service:
        server.issue(token)
        params = {
            "rotate_url": service.url + "/rotate",
            "health_url": service.url + "/health",
            "oauth_endpoint": server.revocation_url,
            "oauth_client_id": CLIENT_ID,
            "report_dir": str(tmp_path),
        }
        secrets = {"token": token, "oauth_client_secret": CLIENT_SECRET}
        dry = go(store, "rotate-long-lived-token", cid, params, dry_run=True, secrets=secrets)
        assert service.requests == [] and server.revocations == []
        assert dry[-1]["state"] == "planned"
        live = go(
            store,
            "rotate-long-lived-token",
            cid,
            params,
            yes=True,
            approve=("revoke-old",),
            secrets=secrets,
        )
        assert_partial(live, "revoked at the OAuth server")
        assert [r.path for r in service.requests] == ["/rotate", "/health"]
        assert service.requests[0].json()["credential"] == cid
        assert server.tokens[token].revoked
    assert states(live)["issue-new-by-hand"] == "skipped"
    assert [b.subject for b in blocklist.blocks(store)] == [cid]


def test_rotate_rolls_back_the_block_when_callers_break(store: Store, tmp_path: Path) -> None:
    cid = add_credential(store, "long-lived-token-zzzzzzzzzzzzzzzz", kind="bearer")
    with http_server(lambda seen: (503, {}, b"callers down")) as health:
        live = go(
            store,
            "rotate-long-lived-token",
            cid,
            {"health_url": health.url + "/health", "report_dir": str(tmp_path)},
            yes=True,
        )
    assert live[-1]["state"] == "failed"
    assert states(live)["block-old"] == "rolled_back"
    assert blocklist.blocks(store) == []


def test_investigate_identity(case: Store, tmp_path: Path) -> None:
    ident = case.conn.execute("SELECT identity_id FROM credentials").fetchone()[0]
    reports = tmp_path / "reports"
    dry = go(
        case,
        "investigate-identity",
        f"identity:{ident}",
        {"report_dir": str(reports)},
        dry_run=True,
    )
    assert dry[-1]["state"] == "planned" and not reports.exists()
    live = go(
        case, "investigate-identity", f"identity:{ident}", {"report_dir": str(reports)}, yes=True
    )
    assert live[-1]["state"] == "succeeded"
    summary = next(e for e in live if e["event"] == "step_succeeded" and e["step"] == "summary")
    assert summary["output"]["requests"] == 2
    assert len(list(reports.glob("report-*.md"))) == 1


def test_preserve_evidence(case: Store, credential_id: str, tmp_path: Path) -> None:
    case.register_input(Path(__file__), "har")  # an input whose hash goes in the manifest
    out = tmp_path / "evidence"
    dry = go(case, "preserve-evidence", credential_id, {"directory": str(out)}, dry_run=True)
    assert dry[-1]["state"] == "planned" and not out.exists()
    live = go(case, "preserve-evidence", credential_id, {"directory": str(out)})
    assert live[-1]["state"] == "succeeded"
    bundle = next(e for e in live if e["event"] == "step_succeeded" and e["step"] == "bundle")
    manifest = json.loads(Path(bundle["output"]["manifest"]).read_text())
    assert manifest["inputs"][0]["sha256"]
    assert manifest["audit_ok"] and len(manifest["audit_head"]) == 64
    copy = sqlite3.connect(bundle["output"]["copy"])
    assert copy.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 2
    copy.close()
    assert not list(out.glob("*.key"))  # the case key stays behind
