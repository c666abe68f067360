"""``discovery.ticker``: calls while a stretch of Python work runs, from an interval timer."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from discovery.ticker import ticking


@pytest.fixture(autouse=True)
def no_other_timer() -> Iterator[None]:
    """pytest-timeout arms the interval timer around each test: disarmed here, then re-armed."""
    delay, interval = signal.setitimer(signal.ITIMER_REAL, 0, 0)
    yield
    if delay:
        signal.setitimer(signal.ITIMER_REAL, delay, interval)


def test_calls_come_while_the_block_runs_and_stop_with_it() -> None:
    calls: list[float] = []
    before = signal.getsignal(signal.SIGALRM)
    deadline = time.monotonic() + 30
    with ticking(lambda: calls.append(time.monotonic()), every=0.05):
        assert len(calls) == 1  # at once
        while len(calls) < 4:  # pure Python work that reports nothing itself
            assert time.monotonic() < deadline, calls
            sum(range(1000))
    ended = len(calls)
    time.sleep(0.2)
    assert len(calls) == ended  # the timer is off
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == before


def test_no_function_no_timer() -> None:
    with ticking(None):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_timer_armed_by_someone_else_is_left_alone() -> None:
    calls: list[int] = []
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        with ticking(lambda: calls.append(1), every=0.01):
            time.sleep(0.1)
        assert calls == [1]  # at the start only
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
