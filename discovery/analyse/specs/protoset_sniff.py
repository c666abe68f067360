"""Is a spec file a protobuf descriptor (binary) rather than an OpenAPI text? Without protobuf."""

from __future__ import annotations

from pathlib import Path
from typing import Final

SUFFIXES: Final = (".pb", ".protoset", ".desc", ".binpb", ".bin")
_TEXT_CONTROLS = frozenset(b"\t\n\r")


def looks_binary(path: Path) -> bool:
    """True for a file that cannot be an OpenAPI text (control bytes) or named as a descriptor."""
    if path.suffix.lower() in SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return any(b < 0x20 and b not in _TEXT_CONTROLS for b in head)
