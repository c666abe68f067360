"""Calling an action: in a daemon thread, with the step's timeout, errors made ``ActionError``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from discovery.errors import DiscoveryError
from runbooks.actions.base import Action, ActionContext
from runbooks.errors import ActionError, RunbookError

log = logging.getLogger(__name__)


def call_with_timeout(action: Action[Any], args: Any, ctx: ActionContext) -> dict[str, Any]:
    """Run an action in a daemon thread; ActionError when it outlives ``timeout`` seconds.

    Actions also pass the timeout to their own I/O (HTTP clients, subprocesses), so an abandoned
    thread ends soon after; the engine does not wait for it.
    """
    box: dict[str, Any] = {}
    name, timeout = action.name, ctx.timeout

    def target() -> None:
        try:
            box["value"] = action.run(args, ctx)
        except (RunbookError, DiscoveryError) as exc:
            box["error"] = exc
        except Exception as exc:  # an action's bug becomes a failed step, logged
            log.exception("action %s raised an unexpected error", name)
            box["error"] = ActionError(f"{name}: unexpected {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=target, name=f"action-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ActionError(f"{name}: timed out after {timeout:g}s")
    if "error" in box:
        raise box["error"]
    value = box.get("value")
    if not isinstance(value, dict):
        raise ActionError(f"{name}: returned {type(value).__name__}, not an output mapping")
    return value
