"""The AWS actions with boto3 against moto's server mode on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from runbooks.outcome import containment
from tests.runbooks.actions.aws_server import moto_iam


def call(store: Store, name: str, **args: Any) -> dict[str, Any]:
    action = get(name)
    ctx = ActionContext(store=store, run_id="r", step_id="s", target={}, actor="t", timeout=20)
    return action.run(action.parse(args), ctx)


def test_deactivate_makes_the_key_inactive(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_iam(monkeypatch) as iam:
        key = iam.new_key()
        other = iam.client.create_access_key(UserName="deploy-bot")["AccessKey"]["AccessKeyId"]
        assert iam.status("deploy-bot", key) == "Active"
        # the user is found from the key id alone (GetAccessKeyLastUsed)
        out = call(
            store, "aws.deactivate_access_key", access_key_id=key, endpoint_url=iam.endpoint_url
        )
        assert out == {
            "access_key_id": key,
            "user": "deploy-bot",
            "status": "Inactive",
            **containment("revoked", True, f"revoked at AWS IAM ({key} is Inactive)"),
        }
        assert iam.status("deploy-bot", key) == "Inactive"
        assert iam.status("deploy-bot", other) == "Active"  # only the named key


def test_delete_removes_the_key(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_iam(monkeypatch) as iam:
        key = iam.new_key("ci")
        out = call(
            store,
            "aws.delete_access_key",
            access_key_id=key,
            user_name="ci",
            endpoint_url=iam.endpoint_url,
        )
        assert out["deleted"] is True
        assert iam.status("ci", key) is None


def test_unknown_key_is_an_action_error(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_iam(monkeypatch) as iam:
        iam.new_key("ci")
        with pytest.raises(ActionError, match="aws UpdateAccessKey: NoSuchEntity"):
            call(
                store,
                "aws.deactivate_access_key",
                access_key_id="AKIAIOSFODNN7EXAMPLE",
                user_name="ci",
                endpoint_url=iam.endpoint_url,
            )


def test_plan_names_the_key_and_calls_nothing(store: Store) -> None:
    action = get("aws.delete_access_key")
    ctx = ActionContext(store=store, run_id="r", step_id="s", target={}, actor="t")
    text = action.plan(action.parse({"access_key_id": "AKIAX", "endpoint_url": "http://x"}), ctx)
    assert "DeleteAccessKey AKIAX at http://x" in text and "cannot be undone" in text
