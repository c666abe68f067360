"""Is a spec file a protobuf descriptor (binary) rather than an OpenAPI text? Without protobuf."""

from __future__ import annotations

from pathlib import Path
from typing import Final

SUFFIXES: Final = (".pb", ".protoset", ".desc", ".binpb", ".bin")
_TEXT_CONTROLS = frozenset(b"\t\n\r")


def file_head(path: Path) -> bytes | None:
    """A spec file's first 4 KiB, enough to tell its kind; None when it cannot be read (the
    loader then names the problem)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4096)
    except OSError:
        return None


def looks_binary(path: Path) -> bool:
    """True for a file that cannot be an OpenAPI text (control bytes) or named as a descriptor."""
    if path.suffix.lower() in SUFFIXES:
        return True
    head = file_head(path)
    return head is not None and any(b < 0x20 and b not in _TEXT_CONTROLS for b in head)
