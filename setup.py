"""Build hook: the hot discovery modules compiled with mypyc (``discovery/compiled.py`` lists
them and says why). Everything else is declared in pyproject.toml.

``make`` runs ``setup.py build_ext --inplace`` in the project's environment, where the
dependencies are installed, so mypyc type-checks the modules as ``make typecheck`` does.
``pip install .`` (and ``pip wheel``, ``pipx``) runs it in pip's isolated build environment,
where pyproject.toml's ``build-system.requires`` brings the pinned mypy: the wheel is compiled
too. Where the build cannot run (no C compiler, no mypy, ``IR_CONSOLE_PURE=1``) the package
stays pure Python, says so in one line, and works the same, slower.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

HERE = Path(__file__).resolve().parent


def _compiled_module() -> ModuleType:
    """discovery/compiled.py, loaded by path (the package itself may not import yet)."""
    spec = importlib.util.spec_from_file_location(
        "_ir_console_compiled", HERE / "discovery/compiled.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pure(reason: str) -> None:
    """The one line a build that falls back to pure Python prints."""
    print(f"setup.py: {reason}: building pure Python (same results, slower)", file=sys.stderr)


def _c_compiler() -> str | None:
    """The C compiler the build would run (``CC``, else Python's own), if it is installed."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(command)
    return shutil.which(words[0]) if words else None


class BuildExt(build_ext):
    """build_ext that leaves every extension it places newer than its source (an extension
    copied unchanged from build/ keeps its old time, and would then count as stale), and that
    falls back to pure Python when the C compiler fails (the group is all or nothing)."""

    def run(self) -> None:
        try:
            super().run()
        except (CCompilerError, BaseError) as exc:
            for ext in self.extensions:  # a partial group would only be refused at import
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            self.extensions = []
            _pure(f"the C compiler failed ({exc})")
            return
        if not self.inplace and self.extensions:  # a wheel: its file times will not hold
            mark = Path(self.build_lib, "discovery", _compiled_module().WHEEL_MARK)
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text("built with mypyc by setup.py: discovery/compiled.py reads this\n")
        if self.inplace:
            for ext in self.extensions:
                target = Path(self.get_ext_fullpath(ext.name))
                if target.exists():
                    target.touch()


# Commands that only write metadata: pip runs setup.py for them before the build itself
# (get_requires_for_build_wheel: egg_info; prepare_metadata_for_build_wheel: dist_info), and
# mypycify type-checks and generates C when called, so it would run three times per install.
_METADATA_ONLY = frozenset({"egg_info", "dist_info", "sdist", "check", "clean"})


def _builds_extensions(argv: list[str]) -> bool:
    """Whether this run of setup.py builds (its first command is not a metadata one)."""
    commands = [a for a in argv[1:] if not a.startswith("-")]
    return bool(commands) and commands[0] not in _METADATA_ONLY


# mypy's options for the build, before the sources (mypycify reads options among its paths).
# - No cache: mypyc type-checks afresh every time (it is not incremental), but mypy would still
#   write its cache into the checkout's .mypy_cache, the one `make typecheck` reads, from an
#   environment without the project's dependencies.
# - The build type-checks for mypyc, it does not lint: `make typecheck` is strict with every
#   dependency installed. pip's isolated build environment has none of them (only
#   build-system.requires), so their types are Any there, and strict's warnings about Any and
#   ignores give other verdicts than in the project's environment (an ignore needed there is
#   "unused" here; a cryptography call "returns Any"): they made `pip install .` fall back to
#   pure Python. These four only warn; they change no type mypyc compiles with.
MYPYC_OPTIONS = [
    f"--cache-dir={os.devnull}",
    "--no-warn-unused-ignores",
    "--no-warn-return-any",
    "--allow-subclassing-any",
    "--allow-untyped-decorators",
]


def _extensions() -> list[Extension]:
    compiled = _compiled_module()
    if os.environ.get(compiled.PURE_ENV) == "1" or not _builds_extensions(sys.argv):
        return []
    if _c_compiler() is None:
        _pure("no C compiler found (set CC, or install gcc or clang)")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _pure("mypy is not installed")
        return []
    sources = [str(compiled.source_path(m, HERE).relative_to(HERE)) for m in compiled.MODULES]
    try:
        return mypycify(MYPYC_OPTIONS + sources, opt_level="3", group_name=compiled.GROUP)
    # mypyc exits on a type error and raises its own errors otherwise: any of them means pure
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        _pure(f"mypyc could not compile ({exc})")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
