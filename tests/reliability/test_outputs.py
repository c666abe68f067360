"""Outputs never destroy the case: every export path (report, graph export and its schema,
OpenAPI export, the runbook actions report.write and evidence.bundle) refuses the case file, its
WAL and SHM, its key, vault and audit anchor (also through a symlink, a hard link or another
spelling of the path), refuses to write through a symlink, replaces an existing file only with
--force, and creates private files (0600) in private folders (0700)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from tests.paths import FIXTURES
from tests.reliability.clirun import Outcome, run_main
from tests.reliability.crashkit import copy_case

HOST = "127.0.0.1:40521"  # the host of http_api.pcap
EXPORTS: dict[str, list[str]] = {
    "report": ["report", "-o"],
    "report-json": ["report", "--format", "json", "-o"],
    "openapi": ["openapi", "export", "--host", HOST, "-o"],
    "graph": ["graph", "export", "--format", "json", "-o"],
    "graph-schema": ["graph", "export", "--format", "opengraph", "--schema"],
}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("ingested") / "case.db"
    with Store.open(case) as store:
        from discovery.ingest.files import ingest_files

        ingest_files(store, [FIXTURES / "pcap" / "http_api.pcap"])
    return case


@pytest.fixture
def case(ingested: Path, tmp_path: Path) -> Path:
    """A copy of the ingested case with a vault and an audit anchor beside it."""
    (tmp_path / "case").mkdir()
    target = copy_case(ingested, tmp_path / "case" / "case.db")
    Path(f"{target}.vault").write_text("vault\n")
    Path(f"{target}.anchor").write_text("anchor\n")
    return target


def fingerprint(case: Path) -> dict[str, str]:
    """Content hash of the case and each of its companion files present."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(case.parent.iterdir())
        if path.name.startswith(case.name)
    }


def export(
    capsys: pytest.CaptureFixture[str], case: Path, name: str, target: Path, *extra: str
) -> Outcome:
    return run_main(capsys, case, *EXPORTS[name], target, *extra)


# where an output could land on the case: each spelling gives a path to try
TARGETS: dict[str, Callable[[Path], Path]] = {
    "case": lambda case: case,
    "wal": lambda case: Path(f"{case}-wal"),
    "shm": lambda case: Path(f"{case}-shm"),
    "key": lambda case: Path(f"{case}.key"),
    "vault": lambda case: Path(f"{case}.vault"),
    "anchor": lambda case: Path(f"{case}.anchor"),
    "other spelling": lambda case: case.parent / ".." / case.parent.name / "." / case.name,
    "symlink to the case": lambda case: _link(case.parent.parent / "innocent.md", case),
    "symlink to the folder": lambda case: (
        _link(case.parent.parent / "alias", case.parent) / f"{case.name}.key"
    ),
    "hard link to the key": lambda case: _hardlink(case.parent.parent / "k.json", f"{case}.key"),
}


def _link(link: Path, to: Path) -> Path:
    link.symlink_to(to)
    return link


def _hardlink(link: Path, to: str) -> Path:
    os.link(to, link)
    return link


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("command", sorted(EXPORTS))
def test_an_export_never_resolves_to_the_case_or_its_companions(
    capsys: pytest.CaptureFixture[str], case: Path, command: str, target: str
) -> None:
    before = fingerprint(case)
    path = TARGETS[target](case)
    for extra in ((), ("--force",)):
        outcome = export(capsys, case, command, path, *extra)
        assert outcome.code == 2, outcome
        assert outcome.err.count("\n") == 1 and "Traceback" not in outcome.err, outcome.err
        assert "refusing to write" in outcome.err
    assert fingerprint(case) == before
    assert run_main(capsys, case, "hosts", "--json").code == 0  # the case still opens


@pytest.mark.parametrize("command", sorted(EXPORTS))
def test_an_existing_file_is_replaced_only_with_force(
    capsys: pytest.CaptureFixture[str], case: Path, tmp_path: Path, command: str
) -> None:
    out = tmp_path / "out.file"
    out.write_text("keep me\n")
    outcome = export(capsys, case, command, out)
    assert outcome.code == 2 and "already exists (pass --force" in outcome.err, outcome
    assert out.read_text() == "keep me\n"
    outcome = export(capsys, case, command, out, "--force")
    assert outcome.code == 0, outcome
    assert out.read_text() != "keep me\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.file")]  # no temp left


@pytest.mark.parametrize("command", sorted(EXPORTS))
def test_an_export_never_writes_through_a_symlink(
    capsys: pytest.CaptureFixture[str], case: Path, tmp_path: Path, command: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n")
    link = _link(tmp_path / "out.file", victim)
    for extra in ((), ("--force",)):
        outcome = export(capsys, case, command, link, *extra)
        assert outcome.code == 2 and "symbolic link" in outcome.err, outcome
    assert victim.read_text() == "victim\n" and link.is_symlink()


@pytest.mark.parametrize("command", sorted(EXPORTS))
def test_exports_are_private(
    capsys: pytest.CaptureFixture[str], case: Path, tmp_path: Path, command: str
) -> None:
    out = tmp_path / "new.file"
    assert export(capsys, case, command, out).code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_openapi_export_into_a_folder_refuses_existing_files(
    capsys: pytest.CaptureFixture[str], case: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    args = ["openapi", "export", "-o", folder]
    assert run_main(capsys, case, *args).code == 0
    (written,) = folder.iterdir()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    outcome = run_main(capsys, case, *args)
    assert outcome.code == 2 and "already exists" in outcome.err
    assert run_main(capsys, case, *args, "--force").code == 0
    alias = _link(tmp_path / "alias", folder)
    outcome = run_main(capsys, case, "openapi", "export", "-o", alias, "--force")
    assert outcome.code == 2 and "symbolic link" in outcome.err


def test_a_new_case_and_its_companions_are_private(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    case = tmp_path / "new.db"
    with Store.open(case) as store:
        from discovery.ingest.files import ingest_file

        ingest_file(store, FIXTURES / "pcap" / "http_api.pcap")  # leaves the WAL open
        companions = [case, Path(f"{case}-wal"), Path(f"{case}-shm"), Path(f"{case}.key")]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in companions}
    assert modes == dict.fromkeys(modes, 0o600), modes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db", "new.db.key"]  # no temp


# ---------------------------------------------------------------- runbook actions


def call(store: Store, action_name: str, **args: Any) -> dict[str, Any]:
    action = get(action_name)
    ctx = ActionContext(
        store=store,
        run_id="r-1",
        step_id="s",
        target={},
        actor="t",
        timeout=30,
        started_at=1_790_000_050.0,
    )
    return action.run(action.parse(args), ctx)


@pytest.mark.parametrize("action", ["report.write", "evidence.bundle"])
def test_runbook_outputs_are_private_and_never_follow_a_symlinked_folder(
    case: Path, tmp_path: Path, action: str
) -> None:
    folder = tmp_path / "out" / "deeper"
    with Store.open(case, create=False) as store:
        out = call(store, action, directory=str(folder), name="r")
        files = out.get("files") or [out["copy"], out["manifest"]]
        for name in files:
            assert stat.S_IMODE(Path(name).stat().st_mode) == 0o600, name
        for made in (folder, folder.parent):
            assert stat.S_IMODE(made.stat().st_mode) == 0o700
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        alias = _link(tmp_path / "alias", elsewhere)
        with pytest.raises(ActionError, match="symbolic link"):
            call(store, action, directory=str(alias), name="r")
        assert not list(elsewhere.iterdir())


def test_report_write_replaces_a_report_only_with_force(case: Path, tmp_path: Path) -> None:
    with Store.open(case, create=False) as store:
        call(store, "report.write", directory=str(tmp_path), name="r", formats=["md"])
        (tmp_path / "r.md").write_text("edited\n")
        with pytest.raises(ActionError, match="already exists"):
            call(store, "report.write", directory=str(tmp_path), name="r", formats=["md"])
        assert (tmp_path / "r.md").read_text() == "edited\n"
        call(store, "report.write", directory=str(tmp_path), name="r", formats=["md"], force=True)
        assert (tmp_path / "r.md").read_text().startswith("# Incident report")


@pytest.mark.parametrize("action", ["report.write", "evidence.bundle"])
def test_runbook_outputs_never_land_on_the_case(case: Path, action: str) -> None:
    before = fingerprint(case)
    with Store.open(case, create=False) as store:
        # report.write: case.db.md, case.db.json; evidence.bundle: case.db itself, case.db.db
        for name in ("case.db",) if action == "report.write" else ("case", "case.db"):
            with pytest.raises(ActionError, match=r"refusing to write|already exists"):
                call(store, action, directory=str(case.parent), name=name)
    assert fingerprint(case) == before
    shutil.copyfile(case, case.parent / "check.db")  # still a readable SQLite file
