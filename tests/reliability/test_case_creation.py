"""Case creation is atomic: ``ingest`` and ``spec import`` killed with SIGKILL in the first moments
of creating a case (as soon as anything of it appears on disk, and a few milliseconds later)
leave either no case or a whole one, and the same command run again succeeds with the counts of
an uninterrupted run. A case left empty by an older version's interrupted creation is recognised
and created again; a file that is not a case is never touched."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.errors import CaseFileError
from tests.reliability.crashkit import CAPTURES, SPECS, cli, counts, run_and_kill, run_ok

pytestmark = pytest.mark.integration  # kills real ir-console processes

DELAYS = (0.0, 0.005, 0.02, 0.05, 0.1)
COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "ingest": lambda case: cli(case, "ingest", CAPTURES[1]),
    "spec import": lambda case: cli(case, "spec", "import", SPECS[0]),
}


def appeared(case: Path) -> Callable[[Path], bool]:
    """True as soon as anything of the case (its file, a temporary build, the key) exists."""

    def check(_: Path) -> bool:
        return any(case.name in entry.name for entry in case.parent.iterdir())

    return check


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_kill_while_creating_a_case_leaves_it_usable(tmp_path: Path, command: str) -> None:
    argv = COMMANDS[command]
    baseline = tmp_path / "baseline" / "case.db"
    baseline.parent.mkdir()
    run_ok(argv(baseline))
    expected = counts(baseline)
    killed = 0
    for i, delay in enumerate(DELAYS):
        case = tmp_path / f"run-{i}" / "case.db"
        case.parent.mkdir()
        kill = run_and_kill(argv(case), case, appeared(case), delay)
        killed += kill.killed
        run_ok(argv(case))  # was: "not an ir-console case file" for good
        assert counts(case) == expected, (delay, kill)
    assert killed >= 3  # the kills landed while the command still ran


def test_an_empty_database_left_by_an_old_creation_is_created_again(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    conn = sqlite3.connect(case)  # what an older version left when killed before its commit
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    assert case.stat().st_size > 0
    with Store.open(case) as store:
        assert store.schema_version > 0
    with pytest.raises(CaseFileError, match="no such case file"):
        Store.open(tmp_path / "other.db", create=False)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(CaseFileError, match="no such case file"):
        Store.open(empty, create=False)
    assert empty.exists()  # a reader does not remove anything


def test_a_file_that_is_not_a_case_is_never_replaced(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes(text)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    for path in (other, text):
        before = path.read_bytes()
        with pytest.raises(CaseFileError, match="not an ir-console case file"):
            Store.open(path)
        assert path.read_bytes() == before
