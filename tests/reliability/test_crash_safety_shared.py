"""A big capture is read by children sharing its flows, and big cases run the traffic-only
findings rules in a child: SIGKILL during either leaves a case that opens, passes
``integrity_check`` and re-ingests to the uninterrupted counts; a parent killed alone leaves no
child behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from discovery.ingest import parallel
from tests.discovery.ingest.test_pcap_parallel import _interleaved_capture
from tests.reliability.crashkit import (
    cli,
    counts,
    integrity,
    probe,
    remove_case,
    run_and_kill,
    run_ok,
)

pytestmark = pytest.mark.integration  # starts processes or servers


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shared") / "big.pcap"
    _interleaved_capture(path, 6000, seed=5)
    assert parallel.worth_it(path)  # big enough for the children
    return path


@pytest.fixture(scope="module")
def expected(capture: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    case = tmp_path_factory.mktemp("baseline") / "case.db"
    run_ok(cli(case, "ingest", capture))
    result = counts(case)
    assert result["exchanges"] > 5000 and result["analysis pending"] == 0
    assert sum(result["findings by rule"].values()) > 0
    return result


def _complete(case: Path) -> bool:
    return bool(probe(case, "SELECT COUNT(*) FROM inputs WHERE state = 'complete'"))


@pytest.mark.parametrize(
    ("trigger", "delay"),
    [("written", 0.0), ("written", 0.15), (_complete, 0.0), (_complete, 0.1)],
    ids=["reading", "reading later", "analysis", "analysis later"],
)
def test_a_shared_read_killed_recovers_to_the_uninterrupted_counts(
    tmp_path: Path, capture: Path, expected: dict[str, Any], trigger: Any, delay: float
) -> None:
    case = tmp_path / "case.db"
    remove_case(case)
    kill = run_and_kill(cli(case, "ingest", capture), case, trigger, delay)
    assert kill.killed  # it landed: the ingest takes longer than these delays
    assert integrity(case) == "ok"
    run_ok(cli(case, "ingest", capture))
    assert counts(case) == expected


def test_a_parent_killed_alone_leaves_no_child(tmp_path: Path, capture: Path) -> None:
    case = tmp_path / "case.db"
    proc = subprocess.Popen(
        cli(case, "ingest", capture),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its children share its process group
    )
    deadline = time.monotonic() + 60
    while not probe(case, "SELECT COUNT(*) FROM exchanges"):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)  # the parent only
    proc.wait(timeout=10)
    deadline = time.monotonic() + 20
    while True:
        try:
            os.killpg(proc.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a child outlived its parent by 20 s"
        time.sleep(0.05)
    assert integrity(case) == "ok"
