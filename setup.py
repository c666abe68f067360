"""Build hook: the hot discovery modules compiled with mypyc (``discovery/compiled.py`` lists
them and says why). Everything else is declared in pyproject.toml.

``make`` runs ``setup.py build_ext --inplace`` in the project's environment, where the
dependencies are installed, so mypyc type-checks the modules as ``make typecheck`` does. Where
the build cannot run (no C compiler, no mypy, ``IR_CONSOLE_PURE=1``) the package stays pure
Python and works the same, slower.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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


class BuildExt(build_ext):
    """build_ext that leaves every extension it places newer than its source (an extension
    copied unchanged from build/ keeps its old time, and would then count as stale)."""

    def run(self) -> None:
        super().run()
        if self.inplace:
            for ext in self.extensions:
                target = Path(self.get_ext_fullpath(ext.name))
                if target.exists():
                    target.touch()


def _extensions() -> list[Extension]:
    compiled = _compiled_module()
    if os.environ.get(compiled.PURE_ENV) == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("setup.py: mypy is not installed: building pure Python", file=sys.stderr)
        return []
    sources = [str(compiled.source_path(m, HERE).relative_to(HERE)) for m in compiled.MODULES]
    try:
        return mypycify(sources, opt_level="3", group_name=compiled.GROUP)
    # mypyc exits on a type error and raises its own errors otherwise: any of them means pure
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        print(f"setup.py: mypyc could not compile ({exc}): building pure Python", file=sys.stderr)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
