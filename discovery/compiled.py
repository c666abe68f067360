"""Which modules are compiled with mypyc, whether the compiled build is in use, and the switch
back to pure Python.

The per-packet and per-exchange path (frame decoding, reassembly, HTTP, conversion, the store's
row building) and the inventory are compiled into C extensions by ``setup.py`` (``make``
builds them in place). The Python sources stay the reference: the extensions are built from
them and must behave identically (tests/discovery/test_compiled.py checks it on every capture
fixture). Python imports an extension before a source of the same name, so a build older than
its sources would run old code: when any compiled module is older than its source, or the build
is incomplete, the whole group is imported from source instead (one warning; the group calls
itself directly in C, so a mix is not allowed). ``IR_CONSOLE_PURE=1`` imports the sources
without looking (for profiling, or to rule the build out).

Standard library only: ``setup.py`` loads this file by path, before anything is installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

GROUP = "discovery._compiled"  # mypyc's shared library: discovery/_compiled__mypyc.*.so
PURE_ENV = "IR_CONSOLE_PURE"
# Written into discovery/ by setup.py when it builds a wheel (pip install, pip wheel, pipx): the
# sources and extensions of an installed wheel were built together and are not edited in place,
# and installers do not keep the build's file times, so their times say nothing about staleness.
WHEEL_MARK = "_compiled_wheel"

# Modules compiled together (one group: they call each other directly). Not here: modules that
# tests or users patch at run time, the sources that import scapy or mitmproxy, the CLI.
MODULES = (
    "discovery.analyse.inventory",
    "discovery.analyse.matching",
    "discovery.analyse.segments",
    "discovery.analyse.sightings",
    "discovery.analyse.templating",
    "discovery.case.store",
    "discovery.case.writer",
    "discovery.ingest.files",
    "discovery.ingest.packing",
    "discovery.ingest.zeek_rows",
    "discovery.models",
    "discovery.redact.convert",
    "discovery.redact.credentials",
    "discovery.redact.credentials.authorization",
    "discovery.redact.credentials.bodies",
    "discovery.redact.credentials.config",
    "discovery.redact.credentials.cookies",
    "discovery.redact.credentials.found",
    "discovery.redact.credentials.headers",
    "discovery.redact.credentials.identity",
    "discovery.redact.credentials.jwt",
    "discovery.redact.credentials.messages",
    "discovery.redact.credentials.ntlm",
    "discovery.redact.credentials.oauth",
    "discovery.redact.credentials.passwords",
    "discovery.redact.credentials.pathsecrets",
    "discovery.redact.credentials.prefixscan",
    "discovery.redact.credentials.providers",
    "discovery.redact.credentials.query",
    "discovery.redact.credentials.shape",
    "discovery.redact.credentials.sigv4",
    "discovery.redact.secrets",
    "discovery.redact.sensitive",
    "discovery.sources.bounds",
    "discovery.sources.pcap",
    "discovery.sources.zeek",
    "discovery.wire.bodies",
    "discovery.wire.connections",
    "discovery.wire.defrag",
    "discovery.wire.destinations",
    "discovery.wire.fingerprints",
    "discovery.wire.hpackdecode",
    "discovery.wire.http1",
    "discovery.wire.http_head",
    "discovery.wire.http2",
    "discovery.wire.keylog",
    "discovery.wire.packets",
    "discovery.wire.paths",
    "discovery.wire.reassembly",
    "discovery.wire.tls",
    "discovery.wire.tlscrypto",
    "discovery.wire.tlssession",
)

_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the package
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def source_path(module: str, root: Path = _ROOT) -> Path:
    """The Python source of a module of the group (a package's ``__init__.py``)."""
    folder = root.joinpath(*module.split("."))
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


def extension_path(module: str, root: Path = _ROOT) -> Path:
    """Where the compiled extension of a module (or the group's shared library) lies."""
    source = source_path(module, root)
    return source.with_name(source.name.removesuffix(".py") + _SUFFIX)


def _extensions_in(folder: Path) -> Iterator[Path]:
    """Every extension module under ``folder`` (caches skipped)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(_SUFFIX):
                yield Path(dirpath, name)


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return None


def build_state(root: Path = _ROOT, modules: Sequence[str] = MODULES) -> str:
    """``"none"`` (no extension built), ``"current"`` (every extension built, none older than
    its source, or all installed from one compiled wheel), or why the build cannot be used (``"stale: discovery.wire.http1"``, ``"incomplete:
    ..."``, ``"stray: ..."``). A few dozen stats: it runs at every import of the package."""
    extensions = {m: extension_path(m, root) for m in (*modules, GROUP + "__mypyc")}
    built = {m: _mtime(path) for m, path in extensions.items()}
    expected = set(extensions.values())
    strays = sorted(p for p in _extensions_in(root / "discovery") if p not in expected)
    if strays:  # left by a build of another module list
        return "stray: " + ", ".join(str(p.relative_to(root)) for p in strays)
    times = [t for t in built.values() if t is not None]
    if not times:
        return "none"
    missing = [m for m, t in built.items() if t is None]
    if missing:
        return "incomplete: " + ", ".join(missing)
    if (root / "discovery" / WHEEL_MARK).is_file():  # installed from a compiled wheel
        return "current"
    oldest = min(times)
    stale = [m for m in modules if (_mtime(source_path(m, root)) or 0.0) > oldest]
    return "stale: " + ", ".join(stale) if stale else "current"


class _SourceFinder:
    """Finds the package's plain modules as Python sources (ahead of any extension)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("discovery."):
            return None
        source = source_path(fullname, self.root)
        if not source.is_file():  # no such module
            return None
        package = [str(source.parent)] if source.name == "__init__.py" else None
        return importlib.util.spec_from_file_location(
            fullname, source, submodule_search_locations=package
        )


def prefer_source(root: Path = _ROOT) -> None:
    """From now on, import the package's modules from their Python sources."""
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder(root))


def choose() -> str:
    """Run at the package's import: decide between the compiled build and the sources;
    returns the build state it went by (``"pure"`` when asked for the sources)."""
    if os.environ.get(PURE_ENV) == "1":
        prefer_source()
        return "pure"
    try:
        state = build_state()
    except OSError as exc:  # a source file unreadable: the import itself will say so
        state = f"unreadable: {exc}"
    if state not in ("none", "current"):
        log.warning("compiled build not used (%s): run `make` to rebuild it", state)
        prefer_source()
    return state


def in_use() -> bool:
    """True when the group's modules run compiled in this process."""
    probe = "discovery.wire.http1"  # any module of the group; by name, so no layer is imported
    module = sys.modules.get(probe) or importlib.import_module(probe)
    return str(getattr(module, "__file__", "")).endswith(_SUFFIX)
