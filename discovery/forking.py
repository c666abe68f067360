"""Whether this process may fork helper processes that run beside it, on another core."""

from __future__ import annotations

import multiprocessing
import os
import threading


def helpers_can_run() -> bool:
    """True when a forked helper can help: a second core, ``fork`` available, and this process
    single-threaded (forking a threaded process, such as the console, is unsafe)."""
    return (
        (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )
