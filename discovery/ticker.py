"""Calls to a progress function while a stretch of Python work runs that reports nothing itself
(a validator walking a large document), from an interval timer's signal.

No thread: a process with a second thread may not fork its helpers (``discovery.forking``), so
the ticks come from ``SIGALRM`` (``setitimer``), which a forked child does not inherit. Only the
main thread can take signals; elsewhere, or where the platform has no interval timer, the
function is called at the start alone; so it is when an interval timer is already armed (its
owner's ``SIGALRM`` is left alone).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TICK = 0.25  # seconds between calls


@contextmanager
def ticking(call: Callable[[], None] | None, every: float = TICK) -> Iterator[None]:
    """Call ``call`` now and every ``every`` seconds until the block ends (None: nothing)."""
    if call is None:
        yield
        return
    call()
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        call()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, every, every)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
