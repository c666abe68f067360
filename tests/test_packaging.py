"""What users get from ``pip install``: the compiled build of the hot modules where a C compiler
exists (pyproject.toml's build-system.requires brings the pinned mypy into pip's isolated build
environment), pure Python with one line saying so where none does.

Both build the project from a copy of the checkout with pip's own build isolation (the build
requirements come from the package index, as for a user). The fresh-venv install compiles some
thirty modules and installs every dependency: minutes, not seconds, so it is a soak test
(``make soak``); the no-compiler build skips mypyc and runs in the default suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from discovery import compiled

ROOT = Path(__file__).resolve().parent.parent
# what a build reads: the packages, the build hook and the metadata (README is the long description)
SHIPPED = ("discovery", "runbooks", "ir_console", "setup.py", "pyproject.toml", "README.md")
LEFT_BEHIND = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc", "*.egg-info")


def _checkout_copy(dest: Path) -> Path:
    """The project as a user's clone has it: sources only, no in-place build."""
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=LEFT_BEHIND)
        else:
            shutil.copy2(source, dest / name)
    return dest


def _env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in (compiled.PURE_ENV, "PYTHONPATH")}
    environ.update(extra)
    return environ


def _have_compiler() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


@pytest.mark.integration  # runs pip
def test_without_a_c_compiler_the_wheel_is_pure_python_and_says_so(tmp_path: Path) -> None:
    src = _checkout_copy(tmp_path / "src")
    dist = str(tmp_path / "dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", dist, str(src)],
        capture_output=True,
        text=True,
        env=_env(CC=str(tmp_path / "no-such-cc")),
        cwd=tmp_path,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    said = [line.strip() for line in output.splitlines() if "setup.py:" in line]
    assert said, "the build did not say it fell back to pure Python"
    assert all("no C compiler found" in line and "pure Python" in line for line in said), said
    # decided once, by the build itself: the metadata steps pip runs before it (egg_info,
    # dist_info) do not run mypyc (three type-checks and C generations per install otherwise)
    assert len(said) == 1, said
    (wheel,) = (tmp_path / "dist").glob("ir_console-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "discovery/wire/http1.py" in names
    assert not [n for n in names if n.endswith(".so") or n.endswith(compiled.WHEEL_MARK)]


@pytest.mark.integration  # runs pip and the installed interpreter
@pytest.mark.soak  # a fresh venv with every dependency and a mypyc build: several minutes
@pytest.mark.timeout(3600)
@pytest.mark.skipif(not _have_compiler(), reason="no C compiler: pip builds pure Python here")
def test_pip_install_in_a_fresh_venv_runs_the_compiled_build(tmp_path: Path) -> None:
    src = _checkout_copy(tmp_path / "src")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(src)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=3300,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    check = subprocess.run(  # from "/": the checkout must not shadow the installed package
        [
            str(python),
            "-c",
            "from discovery import compiled as c; print(c.build_state(), c.in_use())",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        cwd="/",
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == ["current", "True"], check.stdout + check.stderr
    assert "not used" not in check.stderr  # no stale-build warning on a fresh install


def test_every_build_pins_the_same_mypy() -> None:
    """pip's build, `make`'s build and the typecheck run one mypy: a module that compiles for
    one compiles for all."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {
        "build-system": [r for r in project["build-system"]["requires"] if r.startswith("mypy")],
        "dev extra": [
            r.split(";")[0]
            for r in project["project"]["optional-dependencies"]["dev"]
            if r.startswith("mypy")
        ],
        "Makefile": re.findall(r'"(mypy==[^"]+)"', (ROOT / "Makefile").read_text()),
    }
    assert pins["build-system"] and len({p for found in pins.values() for p in found}) == 1, pins
    assert all(found for found in pins.values()), pins
