"""A file opened for reading up to a fixed end: the bytes of an input as they were when it was
registered, although a capture or a log may go on growing while it is read."""

from __future__ import annotations

import io
from pathlib import Path

BUFFER = 1 << 20


class _Bounded(io.RawIOBase):
    """A raw file whose reads stop at ``end``."""

    def __init__(self, raw: io.FileIO, end: int) -> None:
        super().__init__()
        self._raw = raw
        self._end = end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        left = self._end - self._raw.tell()
        if left <= 0:
            return 0
        view = memoryview(buffer)
        return self._raw.readinto(view[: min(len(view), left)]) or 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_window(path: Path, end: int | None = None) -> io.BufferedReader:
    """``path`` opened for buffered binary reading; reads end at byte ``end`` when given."""
    raw = io.FileIO(path, "rb")
    if end is None:
        return io.BufferedReader(raw, BUFFER)
    return io.BufferedReader(_Bounded(raw, end), BUFFER)
