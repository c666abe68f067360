"""The list of compiled modules (discovery/compiled.py MODULES) is whole where it must be.

A compiled package cannot import a pure-Python submodule by name (``from pkg import sub``
fails in the mypyc build with ``cannot import name``), and the pure-Python suite never sees it:
the compiled ``ir-console ingest`` failed at import for 50 minutes on main that way. So every
module in the folder of a compiled package is compiled too, and each is listed once. These checks
start no process, so they run in the fast subset that gates landings."""

from __future__ import annotations

from discovery import compiled


def test_every_module_of_a_compiled_package_is_compiled() -> None:
    listed = set(compiled.MODULES)
    missing = []
    for module in compiled.MODULES:
        source = compiled.source_path(module)
        if source.name != "__init__.py":
            continue
        for path in sorted(source.parent.glob("*.py")):
            if path.stem != "__init__" and f"{module}.{path.stem}" not in listed:
                missing.append(f"{module}.{path.stem}")
    assert missing == [], f"add to discovery/compiled.py MODULES: {', '.join(missing)}"


def test_every_listed_module_has_its_source() -> None:
    assert [m for m in compiled.MODULES if not compiled.source_path(m).is_file()] == []


def test_each_module_is_listed_once() -> None:
    """mypyc refuses a group naming a module twice: the whole build then falls back to pure
    Python (two landings once added the same module)."""
    assert sorted(compiled.MODULES) == sorted(set(compiled.MODULES))
