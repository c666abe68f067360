"""The runbook format (docs/runbooks.md) as pydantic models, validated on load.

A runbook is ``id``, ``title``, ``description``, ``applies_to``, ``inputs`` and ``steps``. A step
is exactly one of ``action:`` (a registered action with ``with:`` arguments), ``manual:``
(instructions the responder confirms) or ``approval:`` (a gate), plus optional ``when``,
``retry``, ``timeout``, ``rollback``, ``irreversible``, ``verify`` and (manual steps)
``contains``. ``requires`` lists the containment (blocked, revoked, verified) a run must
achieve to end ``succeeded``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUBJECT_TYPES = ("credential", "identity", "endpoint", "host", "client")
StepKind = Literal["action", "manual", "approval"]
# What containment a step achieves (actions report it in their output; a manual step that
# declares ``contains`` achieves it when a person confirms it) and a runbook ``requires``.
Containment = Literal["blocked", "revoked", "verified"]
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_INPUT_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retry(_Strict):
    """How often a failed action is tried again, with exponential backoff between tries."""

    attempts: int = Field(default=1, ge=1, le=20)
    backoff: float = Field(default=1.0, ge=0, le=600)
    factor: float = Field(default=2.0, ge=1, le=10)
    max_delay: float = Field(default=60.0, ge=0, le=3600)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try ``attempt`` (1-based)."""
        return float(min(self.backoff * self.factor ** (attempt - 1), self.max_delay))


class ActionCall(_Strict):
    """A registered action and its (templated) arguments; used for rollbacks."""

    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    @field_validator("action")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_action(value)


class Input(_Strict):
    """A runbook input: given with ``--param NAME=VALUE``; secret ones come from env or stdin."""

    description: str = ""
    type: Literal["string", "integer", "number", "boolean"] = "string"
    required: bool = False
    default: Any = None
    choices: list[Any] | None = None
    secret: bool = False
    env: str | None = None  # environment variable the value may come from
    vault: bool = False  # a secret: else taken from the opt-in vault for the target credential

    @model_validator(mode="after")
    def _secret_has_no_default(self) -> Input:
        if self.secret and self.default is not None:
            raise ValueError("a secret input cannot have a default (it would live in the file)")
        if self.vault and not self.secret:
            raise ValueError("'vault' applies only to a secret input")
        return self


class Step(_Strict):
    """One step: an action, a manual instruction, or an approval gate."""

    id: str
    title: str = ""
    action: str | None = None
    manual: str | None = None
    approval: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: str | None = None
    # what the responder reads when ``when`` is false (a template, in plain words: "not this
    # credential's provider (stripe)"); without it the condition itself is named
    skip_reason: str | None = None
    retry: Retry = Field(default_factory=Retry)
    timeout: float | None = Field(default=None, gt=0, le=86400)
    rollback: ActionCall | None = None
    irreversible: bool = False
    verify: str | None = None
    contains: Containment | None = None  # manual steps: what confirming them achieves

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("step id must be lower-case letters, digits, '-' or '_' (max 64)")
        return value

    @field_validator("action")
    @classmethod
    def _action_known(cls, value: str | None) -> str | None:
        return None if value is None else _known_action(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        given = [k for k in ("action", "manual", "approval") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a step needs exactly one of 'action', 'manual' or 'approval' "
                f"(got {', '.join(given) or 'none'})"
            )
        if self.action is None and self.with_:
            raise ValueError("'with' applies only to action steps")
        if self.skip_reason is not None and self.when is None:
            raise ValueError("'skip_reason' says why 'when' is false: it needs a 'when'")
        if self.irreversible and self.rollback is not None:
            raise ValueError("an irreversible step cannot have a rollback")
        if self.action is None and (self.rollback or self.verify or self.retry.attempts > 1):
            raise ValueError("'rollback', 'verify' and 'retry' apply only to action steps")
        if self.contains is not None and self.manual is None:
            raise ValueError("'contains' applies only to manual steps (actions report their own)")
        return self

    @property
    def kind(self) -> StepKind:
        if self.action is not None:
            return "action"
        return "manual" if self.manual is not None else "approval"

    @property
    def action_name(self) -> str:
        """The registered action this step runs (``manual``/``approval`` for those kinds)."""
        return self.action if self.action is not None else self.kind

    @property
    def is_gate(self) -> bool:
        """Whether the run must stop here until someone approves (or confirms)."""
        return self.kind != "action" or self.irreversible


class Runbook(_Strict):
    """A validated runbook."""

    id: str
    title: str
    description: str = ""
    applies_to: list[Literal["credential", "identity", "endpoint", "host", "client"]]
    inputs: dict[str, Input] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    # the containment a run must achieve to succeed; missing any, it ends ``partial``
    requires: list[Containment] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("runbook id must be lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("applies_to", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, Input]) -> dict[str, Input]:
        for name in value:
            if not _INPUT_NAME.match(name):
                raise ValueError(f"input name {name!r} must be a lower-case identifier")
        return value

    @model_validator(mode="after")
    def _unique_steps(self) -> Runbook:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def _known_action(name: str) -> str:
    from runbooks.actions import ACTIONS

    if name not in ACTIONS:
        raise ValueError(f"unknown action {name!r} (known: {', '.join(sorted(ACTIONS))})")
    return name
