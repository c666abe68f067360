"""A run's inputs: ``--param`` values, secrets from stdin, the environment or the vault, defaults.

Secret inputs are refused on the command line (they would live in shell history and the case's
``params``); a secret a step needs and nobody gave is named with how to give it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from discovery.case.store import Store
from discovery.views.subjects import Subject
from runbooks.errors import RunbookUsageError
from runbooks.model import Input, Runbook, Step

_INPUT_REF = re.compile(r"inputs\.([a-z_][a-z0-9_]*)")


def resolve_inputs(
    runbook: Runbook, params: Mapping[str, str], secrets: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(all input values, the secret ones) from ``--param``, stdin secrets, env and defaults."""
    unknown = sorted(set(params) - set(runbook.inputs))
    if unknown:
        raise RunbookUsageError(
            f"runbook {runbook.id} has no input {unknown[0]!r} "
            f"(inputs: {', '.join(runbook.inputs) or 'none'})"
        )
    values: dict[str, Any] = {}
    secret_values: dict[str, str] = {}
    for name, spec in runbook.inputs.items():
        if spec.secret and name in params:
            raise RunbookUsageError(
                f"input {name!r} is a secret: give it on stdin (--secret-stdin {name})"
                + (f" or in ${spec.env}" if spec.env else "")
                + ", never on the command line"
            )
        raw: Any = params.get(name)
        if raw is None and name in secrets:
            raw = secrets[name]
        if raw is None and spec.env and os.environ.get(spec.env):
            raw = os.environ[spec.env]
        if raw is None:
            if spec.required:
                how = "--secret-stdin" if spec.secret else "--param"
                raise RunbookUsageError(
                    f"runbook {runbook.id} needs input {name!r} ({how} {name}"
                    + ("=VALUE" if not spec.secret else "")
                    + ")"
                )
            values[name] = spec.default
            continue
        value = _coerce(name, spec, raw)
        values[name] = value
        if spec.secret:
            secret_values[name] = str(value)
    return values, secret_values


def _coerce(name: str, spec: Input, raw: Any) -> Any:
    try:
        if spec.type == "integer":
            value: Any = int(raw)
        elif spec.type == "number":
            value = float(raw)
        elif spec.type == "boolean":
            if isinstance(raw, bool):
                value = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError(raw)
        else:
            value = str(raw)
    except ValueError:
        raise RunbookUsageError(f"input {name!r} must be {spec.type}, got {raw!r}") from None
    if spec.choices is not None and value not in spec.choices:
        raise RunbookUsageError(
            f"input {name!r} must be one of {', '.join(map(str, spec.choices))}, got {value!r}"
        )
    return value


def with_vault(
    store: Store, runbook: Runbook, subject: Subject, given: Mapping[str, str]
) -> dict[str, str]:
    """The operator's secrets, plus the vault's for ``vault: true`` inputs not given."""
    secrets = dict(given)
    wanted = [
        name
        for name, spec in runbook.inputs.items()
        if spec.vault and name not in secrets and not (spec.env and os.environ.get(spec.env))
    ]
    if not wanted or subject.type != "credential":
        return secrets
    from runbooks.secretvault import SecretVault

    vault = SecretVault.from_env(store)
    kept = vault.get(subject.id) if vault is not None else None
    if kept is not None:
        for name in wanted:
            secrets[name] = kept
    return secrets


def step_args(step: Step) -> dict[str, Any]:
    """A step's templated arguments (manual and approval steps: their text)."""
    if step.kind == "manual":
        return {"instructions": step.manual}
    if step.kind == "approval":
        return {"prompt": step.approval}
    return dict(step.with_)


def missing_secrets(runbook: Runbook, inputs: Mapping[str, Any], step: Step) -> str | None:
    """Say which secret inputs this step uses that the operator has not given, if any."""
    used = set(_INPUT_REF.findall(json.dumps(step_args(step))))
    missing = [
        name
        for name in sorted(used)
        if name in runbook.inputs and runbook.inputs[name].secret and inputs.get(name) is None
    ]
    if not missing:
        return None
    hints = []
    for name in missing:
        env = runbook.inputs[name].env
        hints.append(f"--secret-stdin {name}" + (f" or ${env}" if env else ""))
    return f"needs the secret input {', '.join(missing)} ({'; '.join(hints)})"
