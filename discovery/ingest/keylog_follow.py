"""Key log files followed while a live capture runs (``capture live --keylog FILE``).

Clients write ``SSLKEYLOGFILE`` as they go: a connection's secrets are appended during its
handshake, after its ClientHello is on the wire. Each followed file is read on from where the
last look stopped, whole lines only (a line being written is taken at the next look), into one
``KeyLog`` the capture's TLS connections look their secrets up in (``tlssession.Waiting`` holds
a connection until they appear). A file that does not exist yet is looked for again (curl and
Python create it at their first connection); one replaced or truncated is read again from its
start. Secrets stay in this process's memory: nothing here logs a line, a bad line is named by
its file and line number.

Sessions are forgotten ``KEEP`` seconds after their lines were read, so a key log followed for
days holds minutes of secrets, not days: a connection takes its secrets at its handshake, within
``WAIT`` of their writing, and keeps them for its whole life.

Each look reads with ``os.pread`` at this follower's own offset, so worker processes forked with
a copy of it each follow the file on their own.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Final

from discovery.errors import InputError
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker
from discovery.wire.keylog import KeyLog
from discovery.wire.tlssession import Waiting

WAIT: Final = 10.0  # s a TLS connection waits for its secrets after its ClientHello
LOOK_EVERY: Final = 0.05  # s between two looks at the files (a stat each)
READ_AT_MOST: Final = 4 << 20  # bytes read from one file at one look
KEEP: Final = 600.0  # s a session's secrets are kept after their lines were read
_TAIL: Final = 64  # bytes kept of what was read last, to see a file rewritten in place


class _Followed:
    __slots__ = ("fd", "ident", "line", "offset", "partial", "path", "tail")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.ident: tuple[int, int] | None = None  # (device, inode) of the file open
        self.offset = 0
        self.partial = b""  # the start of a line not ended yet
        self.line = 1  # number of the next line
        self.tail = b""  # the last bytes read (a file rewritten in place no longer has them)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _same_tail(self) -> bool:
        """Whether the bytes last read are still where they were."""
        if self.fd is None or not self.tail:
            return True
        try:
            return os.pread(self.fd, len(self.tail), self.offset - len(self.tail)) == self.tail
        except OSError:
            return False

    def read_new(self) -> bytes:
        """The whole lines appended since the last look ('' when none)."""
        try:
            info = os.stat(self.path)
        except OSError:
            return b""  # not there (yet, or any more): looked for again
        ident = (info.st_dev, info.st_ino)
        if ident != self.ident or info.st_size < self.offset or not self._same_tail():
            self.close()  # replaced, truncated or rewritten: read again from the start
            try:
                self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                return b""
            self.ident, self.offset, self.partial, self.line, self.tail = ident, 0, b"", 1, b""
        if self.fd is None or info.st_size == self.offset:
            return b""
        try:
            data = os.pread(self.fd, min(info.st_size - self.offset, READ_AT_MOST), self.offset)
        except OSError:
            return b""
        self.offset += len(data)
        self.tail = (self.tail + data)[-_TAIL:]
        data = self.partial + data
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        return data[:end]


class KeyLogFollower:
    """Key log files followed into ``keys`` (see the module docstring)."""

    def __init__(
        self, paths: tuple[Path, ...], keys: KeyLog, stats: IngestStats, keep: float = KEEP
    ) -> None:
        self.keys = keys
        self.stats = stats
        self.keep = keep
        self.files = [_Followed(path) for path in paths]
        self.last_look = 0.0

    @staticmethod
    def check(path: Path) -> None:
        """Refuse, before the capture starts, a key log that cannot be one: a directory or
        device, an unreadable file, a file with lines but none of a key log, or a file that
        does not exist in a folder that does not either (``InputError``)."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if not path.parent.is_dir():
                raise InputError(str(path), "no such file or folder") from None
            return  # created by the client at its first connection: looked for as it goes
        except OSError as exc:
            raise InputError(str(path), f"cannot read key log: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise InputError(str(path), "not a regular file")
        probe = KeyLog()
        probe.add_file(path)  # InputError when unreadable or no key log at all

    def poll(self, final: bool = False) -> int:
        """Take the lines appended since the last look; how many were key log lines. At most
        every ``LOOK_EVERY`` seconds unless ``final`` (which also takes a last line that was
        never ended)."""
        now = time.monotonic()
        if not final and now - self.last_look < LOOK_EVERY:
            return 0
        self.last_look = now
        self.keys.forget_before(now - self.keep)
        taken = 0
        for followed in self.files:
            text = followed.read_new()
            if final and followed.partial:
                text, followed.partial = text + followed.partial + b"\n", b""
            if not text:
                continue
            first = followed.line
            followed.line += text.count(b"\n")
            taken += self.keys.add_text(text, str(followed.path), self.stats, first, arrived=now)
        return taken

    def close(self) -> None:
        for followed in self.files:
            followed.close()


class SecretsFeed:
    """The followed key logs feeding one frame path (``ConnectionTracker``): its TLS
    connections look their secrets up in them, and wait for them (``Waiting``) when they are
    not logged yet. ``look`` after each batch of packets, ``tick`` about every second, ``last``
    before the frame path is finished."""

    def __init__(
        self, follower: KeyLogFollower, tracker: ConnectionTracker, wait: float = WAIT
    ) -> None:
        self.follower = follower
        self.waiting = Waiting(wait)
        tracker.secrets = follower.keys
        tracker.waiting = self.waiting

    def look(self) -> None:
        if self.follower.poll() and self.waiting.sessions:
            self.waiting.check(time.time())

    def tick(self) -> None:
        self.follower.poll()
        if self.waiting.sessions:
            self.waiting.check(time.time())

    def last(self) -> None:
        """The files' last lines taken (the waiting connections settle as the path finishes)."""
        self.follower.poll(final=True)
