"""The action registry: each action lives in its own small module, imported when first used.

``ACTIONS`` maps a name to ``module:attribute``; validating a runbook needs only the names, so
listing or validating runbooks never imports boto3 or httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

from runbooks.actions.base import Action

ACTIONS: dict[str, str] = {
    "manual": "runbooks.actions.gates:MANUAL",
    "approval": "runbooks.actions.gates:APPROVAL",
    "evidence.summary": "runbooks.actions.evidence_summary:ACTION",
    "evidence.verify_no_use_since": "runbooks.actions.evidence_verify:ACTION",
    "evidence.bundle": "runbooks.actions.evidence_bundle:ACTION",
    "proxy.block_credential": "runbooks.actions.proxy:BLOCK_CREDENTIAL",
    "proxy.unblock_credential": "runbooks.actions.proxy:UNBLOCK_CREDENTIAL",
    "proxy.block_endpoint": "runbooks.actions.proxy:BLOCK_ENDPOINT",
    "proxy.unblock_endpoint": "runbooks.actions.proxy:UNBLOCK_ENDPOINT",
    "oauth.revoke": "runbooks.actions.oauth:ACTION",
    "aws.deactivate_access_key": "runbooks.actions.aws:DEACTIVATE",
    "aws.delete_access_key": "runbooks.actions.aws:DELETE",
    "github.revoke_credentials": "runbooks.actions.github:ACTION",
    "slack.revoke": "runbooks.actions.slack:ACTION",
    "vault.revoke": "runbooks.actions.vault:ACTION",
    "http.request": "runbooks.actions.http_request:ACTION",
    "command": "runbooks.actions.command:ACTION",
    "report.write": "runbooks.actions.report_write:ACTION",
}


def get(name: str) -> Action[Any]:
    """The registered action called ``name`` (KeyError when unknown)."""
    module_name, attr = ACTIONS[name].split(":")
    action: Action[Any] = getattr(importlib.import_module(module_name), attr)
    return action
