"""The dependencies pyproject.toml declares are the ones the packages import: every third-party
import of discovery, runbooks and ir_console is declared, and every declared dependency is
imported (tests' and tools' own libraries go in the extras)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.paths import ROOT

PACKAGES = ("discovery", "runbooks", "ir_console")


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in a module (at any depth of the code)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def third_party_imports() -> dict[str, set[str]]:
    """Distribution name -> the files that import it."""
    dists = packages_distributions()
    out: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for module in imported_modules(path.read_text(encoding="utf-8")):
                if module in PACKAGES or module in sys.stdlib_module_names:
                    continue
                for dist in dists.get(module, [module]):
                    out.setdefault(_name(dist), set()).add(str(path.relative_to(ROOT)))
    return out


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def test_every_import_is_declared_and_every_dependency_imported() -> None:
    imports = third_party_imports()
    missing = {dist: sorted(files)[:3] for dist, files in imports.items() if dist not in declared()}
    assert not missing, f"imported but not declared in [project] dependencies: {missing}"
    unused = declared() - set(imports)
    assert not unused, f"declared but never imported by {PACKAGES}: {sorted(unused)}"


def test_the_scan_sees_imports_in_functions_and_from_imports() -> None:
    code = "import os\ndef f():\n    from botocore.config import Config\n    import yaml.loader\n"
    assert imported_modules(code) == {"os", "botocore", "yaml"}
    assert imported_modules("from . import x\n") == set()
