"""The collector's settings for work that keeps most of what it builds (``discovery.collector``)."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from discovery import collector


def test_fewer_collections_while_the_block_runs_then_given_back() -> None:
    before = gc.get_threshold()
    gc.set_threshold(1234, 11, 12)
    try:
        with collector.fewer_collections():
            assert gc.get_threshold() == (collector.YOUNG_GC, 11, 12)
        assert gc.get_threshold() == (1234, 11, 12)
        with pytest.raises(RuntimeError), collector.fewer_collections():
            raise RuntimeError("the block failed")
        assert gc.get_threshold() == (1234, 11, 12)
    finally:
        gc.set_threshold(*before)


@pytest.mark.integration
def test_what_is_alive_at_exit_is_frozen_before_the_last_collections() -> None:
    """The freeze runs at exit, before the interpreter's own collections (and before the
    handlers registered earlier: atexit runs them last in, first out), once however often
    it is asked for; until the exit nothing is frozen."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from discovery import collector\n"
        "registered = atexit._ncallbacks()\n"
        "collector.no_collection_at_exit()\n"
        "collector.no_collection_at_exit()\n"
        "print('frozen before exit:', gc.get_freeze_count() > 0)\n"
        "print('handlers added:', atexit._ncallbacks() - registered)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "frozen before exit: False" in out
    assert "frozen at exit: True" in out
    assert "handlers added: 1" in out
