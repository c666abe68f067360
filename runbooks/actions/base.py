"""What every action is: a name, a model of its arguments, a plan text, and a ``run``.

Actions get an ``ActionContext``: the open case, the run, the resolved target, the step's timeout
and an injectable HTTP transport (tests hand one in instead of patching).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from discovery.case.store import Store
from discovery.views.queries import credential_fingerprint
from runbooks.errors import ActionError

if TYPE_CHECKING:  # httpx costs ~0.3 s to import: only the HTTP actions load it
    import httpx

log = logging.getLogger(__name__)

A = TypeVar("A", bound=BaseModel)
DEFAULT_TIMEOUT = 60.0


class Args(BaseModel):
    """Base of every action's arguments: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass
class ActionContext:
    """What an action may use while it runs."""

    store: Store
    run_id: str
    step_id: str
    target: Mapping[str, Any]
    actor: str
    timeout: float = DEFAULT_TIMEOUT
    transport: httpx.BaseTransport | None = None  # injectable (tests hand one in)
    started_at: float = 0.0
    secret_values: set[str] = field(default_factory=set)
    sleep: Callable[[float], None] = field(default=lambda s: None)

    def http(self) -> httpx.Client:
        """An HTTP client honouring the step's timeout and the injected transport."""
        import httpx

        return httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False)


class Action(Generic[A]):
    """One registered action; subclasses set ``name``, ``args`` and implement plan/run."""

    name: ClassVar[str] = ""
    args: type[A]
    summary: ClassVar[str] = ""

    def parse(self, raw: Mapping[str, Any]) -> A:
        """Validate templated arguments; errors name the argument."""
        try:
            return self.args.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "with"
            raise ActionError(f"{self.name}: argument {where!r}: {first['msg']}") from None

    def plan(self, args: A, ctx: ActionContext) -> str:
        """One line saying what ``run`` would do, calling nothing."""
        raise NotImplementedError

    def run(self, args: A, ctx: ActionContext) -> dict[str, Any]:
        """Do it; return a JSON-shaped output (no secret), or raise ActionError."""
        raise NotImplementedError


def check_secret_matches(ctx: ActionContext, secret: str, credential: str | None) -> None:
    """Refuse a secret whose keyed fingerprint is not the named credential's (wrong key)."""
    if not credential:
        return
    fingerprint = credential_fingerprint(ctx.store, credential)
    if fingerprint is None:
        raise ActionError(f"no credential {credential!r} in this case")
    if ctx.store.fingerprint(secret) != fingerprint:
        raise ActionError(
            f"the secret given does not match credential {credential} "
            "(its fingerprint differs): refusing to revoke a different key"
        )


def http_error(provider: str, exc: httpx.HTTPError) -> ActionError:
    """Translate a transport error into an ActionError naming the provider."""
    return ActionError(f"{provider}: {type(exc).__name__}: {exc}")


def response_error(provider: str, response: httpx.Response) -> ActionError:
    """An ActionError from an HTTP error response (status + a short body)."""
    body = response.text[:200].replace("\n", " ")
    return ActionError(f"{provider}: HTTP {response.status_code}: {body}")
