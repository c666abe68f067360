"""Who is ingesting an input: a claim by a process, recorded in the case as ``HOST PID START``.

A claim is live while its process lives: on this host, looked up by process id and start time (a
process id reused by another program does not keep a dead claim alive); on another host (a case
on a shared folder), while its heartbeat, refreshed by every batch the owner writes, is younger
than ``STALE_SECONDS``. A dead claim is recovered by the next ingest of the input.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Final

STALE_SECONDS: Final = 120.0


@dataclass(frozen=True, slots=True)
class Owner:
    """A process that claimed an input."""

    host: str
    pid: int
    started: str  # the process's start time in clock ticks since boot; "" when unknown

    def __str__(self) -> str:
        return f"{self.host} {self.pid} {self.started}".rstrip()

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        """An owner from its recorded form (None for an empty or foreign value)."""
        parts = (text or "").split(" ")
        if len(parts) < 2 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "")

    def describe(self) -> str:
        """For messages: ``PID 4242 on host``."""
        return f"PID {self.pid} on {self.host}"


def process_start(pid: int) -> str:
    """A process's start time (``/proc/PID/stat`` field 22), "" when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat.rpartition(b")")[2].split()
    return fields[19].decode() if len(fields) > 19 else ""


def me() -> Owner:
    """This process (computed each time: a forked child is another owner)."""
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, process_start(pid))


def alive(owner: Owner | None, heartbeat: float | None, now: float) -> bool:
    """Whether a claim still holds (see the module's docstring)."""
    if owner is None:
        return False
    if owner.host != socket.gethostname():
        return heartbeat is not None and now - heartbeat < STALE_SECONDS
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return not owner.started or process_start(owner.pid) in ("", owner.started)
