"""The mypyc build of the hot modules: used where it was built, identical in what it stores to
the Python sources, and never used when it is older than its sources."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from discovery import compiled
from tests.discovery.ingest.test_pcap_parallel import _interleaved_capture

pytestmark = pytest.mark.integration  # starts processes or servers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SUFFIX = compiled.extension_path("discovery.x").name[1:]  # ".cpython-311-...so"
# columns that hold when the case was processed, not what the traffic was
# columns that differ between two runs of the same ingest: when, and by which process
PROCESSING_TIMES = {"started_at", "finished_at", "created_at", "imported_at", "owner", "heartbeat"}


def _have_compiler() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


def _run(code: str, env: dict[str, str] | None = None, path: str | None = None) -> str:
    environ = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    environ.update(env or {})
    if path is not None:
        environ["PYTHONPATH"] = path
    proc = subprocess.run(  # not from the repository's folder: "" is first on sys.path
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        cwd=path or "/",
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip() + "\n" + proc.stderr.strip()


@pytest.mark.skipif(os.environ.get(compiled.PURE_ENV) == "1", reason="pure Python asked for")
@pytest.mark.skipif(not _have_compiler(), reason="no C compiler: the package runs as Python")
def test_the_compiled_build_is_current_and_in_use() -> None:
    """`make` builds it wherever a compiler exists; a failed or stale build fails here."""
    assert compiled.build_state() == "current"
    assert compiled.in_use()


def test_pure_python_on_request() -> None:
    out = _run(
        "import discovery.wire.http1, discovery.wire.connections; print(discovery.wire.http1.__file__)",
        env={compiled.PURE_ENV: "1"},
    )
    assert out.split("\n")[0].endswith("http1.py")


def _fake_tree(root: Path, modules: tuple[str, ...]) -> None:
    for module in modules:
        source = compiled.source_path(module, root)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
    old = time.time() - 60
    for module in modules:
        os.utime(compiled.source_path(module, root), (old, old))


def _build(root: Path, modules: tuple[str, ...]) -> None:
    for module in (*modules, compiled.GROUP + "__mypyc"):
        compiled.extension_path(module, root).write_bytes(b"")


def test_build_state_says_when_the_build_cannot_be_used(tmp_path: Path) -> None:
    modules = ("discovery.a", "discovery.sub.b")
    _fake_tree(tmp_path, modules)
    assert compiled.build_state(tmp_path, modules) == "none"
    _build(tmp_path, modules)
    assert compiled.build_state(tmp_path, modules) == "current"
    compiled.source_path("discovery.sub.b", tmp_path).touch()  # edited after the build
    assert compiled.build_state(tmp_path, modules) == "stale: discovery.sub.b"
    _build(tmp_path, modules)
    compiled.extension_path("discovery.a", tmp_path).unlink()
    assert compiled.build_state(tmp_path, modules) == "incomplete: discovery.a"
    _build(tmp_path, modules)
    compiled.extension_path("discovery.gone", tmp_path).write_bytes(b"")  # from another list
    assert compiled.build_state(tmp_path, modules).startswith("stray: discovery/gone")


@pytest.mark.skipif(not compiled.in_use(), reason="no compiled build here")
def test_a_stale_build_is_not_run(tmp_path: Path) -> None:
    """A copy of the package whose source was edited after the build: its modules come from
    the sources (with one warning naming the module), never from the old extensions."""
    shutil.copytree(ROOT / "discovery", tmp_path / "discovery")
    assert compiled.build_state(tmp_path) == "current"
    later = time.time() + 5
    os.utime(compiled.source_path("discovery.wire.http1", tmp_path), (later, later))
    out = _run(
        "import discovery.wire.http1, discovery.wire.connections;"
        "print(discovery.wire.http1.__file__, discovery.wire.connections.__file__)",
        path=str(tmp_path),
    )
    first, _, rest = out.partition("\n")
    assert first.split() == [
        str(tmp_path / "discovery" / "wire" / "http1.py"),
        str(tmp_path / "discovery" / "wire" / "connections.py"),
    ]
    assert "stale: discovery.wire.http1" in rest and "make" in rest


def _dump(case: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(case)
    tables = [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
    ]
    out = {}
    for table in tables:
        columns = [
            r[1]
            for r in conn.execute(f"PRAGMA table_info({table})")
            if r[1] not in PROCESSING_TIMES
        ]
        if not columns or table in ("meta", "audit_log"):
            continue
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        out[table] = sorted(rows, key=repr)
    conn.close()
    return out


@pytest.mark.skipif(not compiled.in_use(), reason="no compiled build here")
def test_compiled_and_pure_python_build_the_same_case(tmp_path: Path) -> None:
    """Every capture fixture, the HAR fixtures and an interleaved capture with idle evictions,
    ingested once by the compiled build and once by the sources under the same case key:
    every stored row is the same."""
    interleaved = tmp_path / "interleaved.pcap"
    _interleaved_capture(interleaved, 400, seed=11)
    inputs = [
        # (unsupported_link.pcap is refused: none of its frames decodes)
        *sorted(p for p in (FIXTURES / "pcap").iterdir() if p.name != "unsupported_link.pcap"),
        *sorted((FIXTURES / "har").iterdir()),
        interleaved,
    ]
    key = "ab" * 32
    dumps = []
    for pure in ("0", "1"):
        case = tmp_path / f"case-{pure}.db"
        case.with_name(case.name + ".key").write_text(key)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ir_console",
                "--db",
                str(case),
                "ingest",
                *map(str, inputs),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, compiled.PURE_ENV: pure},
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        dumps.append(_dump(case))
    compiled_case, pure_case = dumps
    assert compiled_case.keys() == pure_case.keys()
    assert len(compiled_case["exchanges"]) > 1000 and compiled_case["findings"]
    for table in compiled_case:
        assert compiled_case[table] == pure_case[table], table
