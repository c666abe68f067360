"""Is the blocklist enforced? Running enforcing proxies (by their heartbeats) and whether they
applied the blocklist's latest change: what ``block``, ``block list``, the console and runbooks
say after a block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from discovery.case import blocklist, proxies
from discovery.case.store import Store
from discovery.timeutil import iso


@dataclass(frozen=True, slots=True)
class Enforcement:
    """The enforcing proxies running now and what they applied."""

    running: tuple[proxies.Heartbeat, ...]
    marker: str | None  # the blocklist's latest change
    checked_at: float

    @property
    def enforced(self) -> bool:
        """A running enforcing proxy has applied the blocklist as it is now."""
        return any(p.applied_marker == self.marker for p in self.running)

    @property
    def last_applied(self) -> float | None:
        times = [p.applied_at for p in self.running if p.applied_at is not None]
        return max(times) if times else None

    def sentence(self) -> str:
        """One line a responder reads after a block."""
        if not self.running:
            return (
                "NOT ENFORCED: no enforcing proxy is running for this case "
                "(start `ir-console capture proxy --enforce`, or c on the console's Live screen)"
            )
        names = ", ".join(f"pid {p.pid} on {p.hostname}" for p in self.running)
        if self.enforced:
            return f"enforced by the running proxy ({names}), applied at {iso(self.last_applied)}"
        return (
            f"an enforcing proxy is running ({names}) but has not applied the latest change yet "
            f"(last applied at {iso(self.last_applied) or 'never'})"
        )

    def unblock_sentence(self) -> str:
        """One line a responder reads after an unblock."""
        if not self.running:
            return "no enforcing proxy is running for this case"
        names = ", ".join(f"pid {p.pid} on {p.hostname}" for p in self.running)
        if self.enforced:
            return f"the running proxy ({names}) lets it through since {iso(self.last_applied)}"
        return (
            f"an enforcing proxy is running ({names}) but has not applied the change yet: "
            "it still blocks it"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "enforced": self.enforced,
            "proxies": [
                {
                    "pid": p.pid,
                    "hostname": p.hostname,
                    "started_at": iso(p.started_at),
                    "seen_at": iso(p.seen_at),
                    "applied_at": iso(p.applied_at),
                    "applied_latest": p.applied_marker == self.marker,
                    "blocks": p.blocks,
                }
                for p in self.running
            ],
            "last_applied": iso(self.last_applied),
        }


def enforcement(store: Store, now: float | None = None) -> Enforcement:
    """The enforcing proxies whose heartbeat is fresh, and the blocklist's latest change."""
    now = time.time() if now is None else now
    running = tuple(
        p for p in proxies.heartbeats(store) if now - p.seen_at <= proxies.STALE_SECONDS
    )
    return Enforcement(running, blocklist.change_marker(store), now)


def wait_until_applied(
    store: Store,
    timeout: float = 3.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Enforcement:
    """The enforcement state once a running proxy applied the latest change, or after
    ``timeout`` seconds (at once when no enforcing proxy is running)."""
    deadline = time.monotonic() + timeout
    while True:
        state = enforcement(store)
        if state.enforced or not state.running or time.monotonic() >= deadline:
            return state
        sleep(0.05)
