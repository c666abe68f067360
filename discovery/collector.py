"""The cyclic garbage collector's settings for work that builds much and keeps most of it.

Reading a capture builds millions of small containers (header lists, exchanges, rows) that die
by reference counting, and importing the compiled group builds tens of thousands that live until
the process exits: at Python's default (a collection of the youngest generation every 700
allocations) the collector walks live objects again and again and frees next to nothing.
``fewer_collections`` collects the youngest generation every ``YOUNG_GC`` allocations instead
while such work runs (the older generations' thresholds unchanged), and gives the thresholds
back after it (bench_tls's reading children spent about a tenth of their CPU time in the
collector at the default, the writing process about 7%; before an ingest's reading starts, the
imports alone cost its process about 10 ms of collections).

A command that ends its process (``ir-console ingest``) also calls ``no_collection_at_exit``:
at exit the interpreter collects everything still alive more than once while it tears its
modules down (about 30 ms after an ingest, for nothing: the process ends); a ``gc.freeze()``
run by ``atexit`` (before those collections) moves what is alive out of their reach. Objects
are still released by reference counting, files and the case are closed by their owners
before, and standard streams are flushed by the interpreter whatever the collector does.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GC = 50_000  # allocations between two collections of the youngest generation

_exit_registered = False


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The youngest generation collected every ``YOUNG_GC`` allocations instead of the
    default's 700 while the block runs; the thresholds before given back after."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_GC, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def no_collection_at_exit() -> None:
    """At this process's exit, freeze what is alive before the interpreter's last collections
    walk it (registered once per process, however often it is called)."""
    global _exit_registered
    if not _exit_registered:
        atexit.register(gc.freeze)
        _exit_registered = True
