"""GitHub, Slack and Vault revocation against local servers that check the documented shape."""

from __future__ import annotations

from typing import Any

import pytest

from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from runbooks.outcome import containment
from tests.runbooks.actions.providers import providers

GH = "ghp_" + "k" * 36
SLACK = "xoxb-1111-2222-" + "s" * 24
VAULT = "hvs." + "v" * 24


def call(store: Store, name: str, **args: Any) -> dict[str, Any]:
    action = get(name)
    ctx = ActionContext(store=store, run_id="r", step_id="s", target={}, actor="t", timeout=10)
    return action.run(action.parse(args), ctx)


def test_github_revoke_sends_the_documented_request(store: Store) -> None:
    with providers() as p:
        out = call(store, "github.revoke_credentials", credentials=[GH], api_url=p.url + "/github")
        assert out["status"] == 202 and p.github_revoked == [GH]
        seen = p.server.requests[0]
        assert seen.method == "POST" and seen.path == "/credentials/revoke"
        assert seen.json() == {"credentials": [GH]}
        assert seen.headers["x-github-api-version"] == "2022-11-28"


def test_github_refusal_is_an_action_error(store: Store) -> None:
    with providers() as p, pytest.raises(ActionError, match="github: HTTP 404"):
        call(store, "github.revoke_credentials", credentials=[GH], api_url=p.url + "/nowhere")


def test_github_needs_at_least_one_token(store: Store) -> None:
    with pytest.raises(ActionError, match="credentials"):
        get("github.revoke_credentials").parse({"credentials": []})


def test_slack_revoke_and_test_flag(store: Store) -> None:
    with providers() as p:
        p.slack_tokens.add(SLACK)
        tested = call(store, "slack.revoke", token=SLACK, test=True, api_url=p.url + "/slack")
        assert tested == {
            "url": p.url + "/slack/auth.revoke",
            "test": True,
            "revoked": False,
            # a test call revokes nothing, and the run is told so
            **containment(
                "revoked",
                False,
                "NOT revoked at Slack (auth.revoke answered revoked: false, test mode)",
            ),
        }
        assert p.slack_revoked == [] and SLACK in p.slack_tokens  # test=true revokes nothing
        done = call(store, "slack.revoke", token=SLACK, api_url=p.url + "/slack")
        assert done["revoked"] is True and p.slack_revoked == [SLACK]
        seen = p.server.requests[-1]
        assert seen.headers["authorization"] == f"Bearer {SLACK}"
        assert SLACK not in seen.body.decode()  # the token travels in the header only
        # revoked: Slack now says invalid_auth, and so does the action
        with pytest.raises(ActionError, match="invalid_auth"):
            call(store, "slack.revoke", token=SLACK, api_url=p.url + "/slack")


@pytest.mark.parametrize(
    ("what", "value", "method", "path", "field"),
    [
        ("token", VAULT, "POST", "/v1/auth/token/revoke", "token"),
        ("accessor", "acc-123", "POST", "/v1/auth/token/revoke-accessor", "accessor"),
        ("lease", "aws/creds/ci/abc", "PUT", "/v1/sys/leases/revoke", "lease_id"),
    ],
)
def test_vault_revoke_shapes(
    store: Store, what: str, value: str, method: str, path: str, field: str
) -> None:
    with providers() as p:
        p.vault_tokens.add(VAULT)
        out = call(
            store,
            "vault.revoke",
            address=p.url + "/vault",
            what=what,
            value=value,
            vault_token=p.vault_operator,
        )
        assert out == {
            "what": what,
            "status": 204,
            "revoked": True,
            **containment("revoked", True, f"revoked at Vault ({what})"),
        }
        seen = p.server.requests[0]
        assert (seen.method, seen.path, seen.json()) == (method, path, {field: value})
        assert p.vault_revoked == [(field, value)]


def test_vault_operator_token_from_environment(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with providers() as p:
        p.vault_tokens.add(VAULT)
        monkeypatch.setenv("VAULT_TOKEN", "hvs.wrong")
        with pytest.raises(ActionError, match=r"HTTP 403.*permission denied"):
            call(store, "vault.revoke", address=p.url + "/vault", value=VAULT)
        monkeypatch.setenv("VAULT_TOKEN", p.vault_operator)
        call(store, "vault.revoke", address=p.url + "/vault", value=VAULT)
        assert p.vault_revoked == [("token", VAULT)]
        monkeypatch.delenv("VAULT_TOKEN")
        with pytest.raises(ActionError, match="no operator token"):
            call(store, "vault.revoke", address=p.url + "/vault", value=VAULT)
