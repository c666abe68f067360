"""Two ``ingest`` runs of the same file never corrupt the case: the input is claimed by a live
owner (host, process id, start time); a second run started at the same moment, or while the
first is reading, waits for it and then finds the input already ingested (``--no-wait``: refuses
naming the owner's PID); an owner killed with SIGKILL leaves a claim the next run recovers. The
case always ends with the counts of one uninterrupted run. (The first run is paused with SIGSTOP
where a test needs it to be still reading when the second one looks.)"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.discovery.ingest.test_pcap_parallel import _interleaved_capture
from tests.reliability.crashkit import cli, counts, integrity, probe, remove_case, run_ok

pytestmark = pytest.mark.integration  # starts and kills real ir-console processes


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("same") / "capture.pcap"
    _interleaved_capture(path, 1200, seed=11)
    return path


@pytest.fixture(scope="module")
def expected(capture: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    case = tmp_path_factory.mktemp("baseline") / "case.db"
    run_ok(cli(case, "ingest", capture))
    result = counts(case)
    assert result["exchanges"] > 3000 and result["inputs"] == 1
    return result


CLAIMED = "SELECT COUNT(*) FROM inputs WHERE state = 'ingesting'"


def start(case: Path, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(case, "ingest", "--json", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, Any, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, json.loads(out) if out.strip() else None, err


def wait_for(case: Path, sql: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe(case, sql):
        assert time.monotonic() < deadline, sql
        time.sleep(0.005)


def check_one_clean_run(case: Path, expected: dict[str, Any]) -> None:
    assert integrity(case) == "ok"
    assert counts(case) == expected
    row = probe(case, "SELECT COUNT(*) FROM inputs WHERE state = 'complete' AND owner IS NOT NULL")
    assert row == 1


def test_two_ingests_of_the_same_file_at_once(
    tmp_path: Path, capture: Path, expected: dict[str, Any]
) -> None:
    case = tmp_path / "case.db"
    first, second = start(case, capture), start(case, capture)
    results = [finish(first), finish(second)]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    flags = sorted(summary[0]["already_ingested"] for _, summary, _ in results)
    assert flags == [False, True]  # one read it, the other found it done
    check_one_clean_run(case, expected)


def test_a_second_ingest_started_while_the_first_reads_waits(
    tmp_path: Path, capture: Path, expected: dict[str, Any]
) -> None:
    case = tmp_path / "case.db"
    first = start(case, capture)
    wait_for(case, CLAIMED)
    os.killpg(first.pid, signal.SIGSTOP)  # still reading when the second one looks
    try:
        second = start(case, capture)
        assert second.stderr is not None
        line = second.stderr.readline()  # the second one says why it waits ...
        assert f"being ingested by PID {first.pid} on {socket.gethostname()}" in line
        assert "waiting" in line
        time.sleep(0.5)
        assert second.poll() is None  # ... and waits
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    code, summary, err = finish(second)
    assert code == 0 and summary[0]["already_ingested"], err
    assert finish(first)[0] == 0
    check_one_clean_run(case, expected)


def test_no_wait_refuses_naming_the_owner(
    tmp_path: Path, capture: Path, expected: dict[str, Any]
) -> None:
    case = tmp_path / "case.db"
    first = start(case, capture)
    wait_for(case, CLAIMED)
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        refused = subprocess.run(
            cli(case, "ingest", "--no-wait", capture), capture_output=True, text=True, timeout=120
        )
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"being ingested by PID {first.pid}" in refused.stderr
    assert finish(first)[0] == 0
    check_one_clean_run(case, expected)


def test_a_killed_owner_is_recovered_by_the_next_ingest(
    tmp_path: Path, capture: Path, expected: dict[str, Any]
) -> None:
    case = tmp_path / "case.db"
    first = start(case, capture)
    wait_for(case, CLAIMED)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    owner = probe(case, "SELECT owner FROM inputs WHERE state = 'ingesting'")
    assert owner and owner.split()[1] == str(first.pid)  # the dead claim is still there
    code, summary, err = finish(start(case, capture))
    assert code == 0 and not summary[0]["already_ingested"], err
    assert "being ingested" not in err  # a dead owner is not waited for
    check_one_clean_run(case, expected)


def test_a_claim_is_live_only_while_its_process_is() -> None:
    from discovery.case import owner as owners

    now = time.time()
    me = owners.me()
    parent = owners.Owner(me.host, os.getppid(), owners.process_start(os.getppid()))
    assert owners.alive(parent, None, now)
    # the same process id started at another time: a reused id, the claim is dead
    assert not owners.alive(owners.Owner(me.host, os.getppid(), "1"), None, now)
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not owners.alive(owners.Owner(me.host, gone.pid, ""), None, now)
    # another host: its processes cannot be looked up, its heartbeat tells
    far = owners.Owner("sensor-7.example", 4242, "99")
    assert owners.alive(far, now - 5, now)
    assert not owners.alive(far, now - owners.STALE_SECONDS - 1, now)
    assert not owners.alive(far, None, now)
    assert owners.Owner.parse(str(parent)) == parent


@pytest.mark.soak
def test_same_input_race_soak(tmp_path: Path) -> None:
    """Many rounds of two to four ingests of the same big file (read by child processes)
    started at random moments, some of them killed; the case always ends as one clean run."""
    capture = tmp_path / "big.pcap"
    _interleaved_capture(capture, 6000, seed=11)
    baseline = tmp_path / "baseline.db"
    run_ok(cli(baseline, "ingest", capture))
    expected = counts(baseline)
    rng = random.Random(17)
    for round_ in range(12):
        case = tmp_path / f"case-{round_}.db"
        procs = []
        for _ in range(rng.randint(2, 4)):
            procs.append(start(case, capture))
            time.sleep(rng.choice((0.0, 0.05, 0.3, 1.0)))
        if rng.random() < 0.5:
            victim = rng.choice(procs)
            time.sleep(rng.random())
            if victim.poll() is None:
                os.killpg(victim.pid, signal.SIGKILL)
        for proc in procs:
            proc.communicate(timeout=300)
        run_ok(cli(case, "ingest", capture))  # finishes what a killed run left
        check_one_clean_run(case, expected)
        remove_case(case)
