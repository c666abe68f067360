"""The inputs a command line names: files, directories (every file under them) and glob patterns
(``'logs/2026-11-*/http.*.log.gz'``, quoted so the shell leaves it to us: a day of rotated Zeek
logs is more names than a command line holds).

Names are given in order, each directory's and pattern's files sorted by name (Zeek's rotated
logs sort by time), each file once. A name that matches nothing is an unusable input (exit 2):
a typo never becomes an empty ingest.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from discovery.errors import InputError

_GLOB_CHARS = frozenset("*?[")


def expand(names: Iterable[str | Path]) -> list[Path]:
    """Every file the names stand for, in order, each once."""
    seen: set[Path] = set()
    out: list[Path] = []
    for name in names:
        for path in _files(str(name)):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                out.append(path)
    return out


def _files(name: str) -> list[Path]:
    path = Path(name)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        if not found:
            raise InputError(name, "the directory holds no file to ingest")
        return found
    if _GLOB_CHARS & set(name):
        matches = sorted(Path(m) for m in glob.glob(name, recursive=True))
        files = [m for m in matches if m.is_file()]
        if not files:
            raise InputError(name, "no file matches this pattern")
        return files
    if path.exists():  # a FIFO, socket or device: ``ingest_file`` refuses it, saying which
        return [path]
    raise InputError(name, "no such file")


def _hidden(path: Path, top: Path) -> bool:
    """A dot-file under the directory (an editor's swap file, ``.DS_Store``)."""
    return any(part.startswith(".") for part in path.relative_to(top).parts)
