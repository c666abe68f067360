"""The raw packets of a live capture written to pcapng files, rotated by size, so the evidence
survives for other tools (Wireshark, Zeek, tcpdump -r) and for ``ir-console ingest``.

Without rotation the file is the one named; with rotation the files are ``NAME_00001.EXT``,
``NAME_00002.EXT``... (dumpcap's numbering), a new one started before a file would pass the size.
Each file is a complete section: header, the descriptions of the interfaces it uses (nanosecond
timestamps), the packets, and at the end an Interface Statistics Block per interface with the
kernel's counters (received, dropped) as dumpcap writes them. Files are created private (0600),
never over the case or one of its companions, never through a symlink, and replace an existing
file only with ``force`` (``discovery.case.files``).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from discovery.case.files import PRIVATE_FILE, check_output
from discovery.errors import OutputError

_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_BUFFER: Final = 1 << 20
_SHB: Final = 0x0A0D0D0A
_IDB: Final = 1
_ISB: Final = 5
_EPB: Final = 6
_EPB_HEAD: Final = struct.Struct(
    "=IIIIIII"
)  # type, length, interface, ts high, ts low, caplen, len
_APP: Final = b"ir-console"
MIN_ROTATE: Final = 64 << 10


def _option(code: int, value: bytes) -> bytes:
    pad = -len(value) % 4
    return struct.pack("=HH", code, len(value)) + value + b"\x00" * pad


def _block(btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("=II", btype, length) + body + struct.pack("=I", length)


def _section_header() -> bytes:
    options = _option(4, _APP) + _option(0, b"")  # shb_userappl
    return _block(_SHB, struct.pack("=IHHq", 0x1A2B3C4D, 1, 0, -1) + options)


def _interface_description(linktype: int, snaplen: int, name: str) -> bytes:
    options = _option(2, name.encode("utf-8", "replace")) + _option(9, b"\x09") + _option(0, b"")
    return _block(_IDB, struct.pack("=HHI", linktype, 0, snaplen) + options)


def _interface_statistics(index: int, received: int, dropped: int) -> bytes:
    now = time.time_ns()
    options = (
        _option(4, struct.pack("=Q", received))  # isb_ifrecv
        + _option(5, struct.pack("=Q", dropped))  # isb_ifdrop
        + _option(0, b"")
    )
    return _block(_ISB, struct.pack("=III", index, now >> 32, now & 0xFFFFFFFF) + options)


@dataclass
class WrittenFile:
    """One file written: its path and the capture's frame numbers it holds."""

    path: Path
    first_frame: int = 0
    last_frame: int = 0
    size: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "frames": [self.first_frame, self.last_frame],
            "bytes": self.size,
        }


@dataclass
class RotatingPcapng:
    """A pcapng writer for one capture; ``packet`` per frame, ``close`` at the end."""

    target: Path
    snaplen: int
    case: Path | None
    rotate: int | None = None
    force: bool = False
    names: dict[int, str] = field(default_factory=dict)  # ifindex -> interface name
    files: list[WrittenFile] = field(default_factory=list)
    _handle: BinaryIO | None = None
    _size: int = 0
    _interfaces: dict[tuple[int, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rotate is not None and self.rotate < MIN_ROTATE:
            raise OutputError(str(self.target), f"--rotate must be at least {MIN_ROTATE >> 10} KiB")
        self.check()

    def path_of(self, index: int) -> Path:
        """The name of the ``index``-th file (from 1)."""
        if self.rotate is None:
            return self.target
        stem, suffix = self.target.stem, self.target.suffix or ".pcapng"
        return self.target.with_name(f"{stem}_{index:05d}{suffix}")

    def check(self) -> None:
        """Refuse before the capture starts: the first file, and (without ``force``) any file
        of the rotation already there."""
        check_output(self.path_of(1), self.case, force=self.force)
        if self.rotate is not None and not self.force:
            stem, suffix = self.target.stem, self.target.suffix or ".pcapng"
            for existing in sorted(self.target.parent.glob(f"{_glob(stem)}_*{_glob(suffix)}")):
                if existing.name[len(stem) + 1 : -len(suffix) or None].isdigit():
                    raise OutputError(str(existing), "already exists (pass --force to replace it)")

    def packet(
        self,
        frame: int,
        sec: int,
        nsec: int,
        linktype: int,
        data: bytes,
        wirelen: int,
        ifindex: int,
    ) -> None:
        """Append one packet (starting a file, or the next one, when needed)."""
        body = len(data)
        pad = -body % 4
        length = 32 + body + pad
        handle = self._handle
        if handle is None or (self.rotate is not None and self._size + length > self.rotate):
            handle = self._next_file()
        iface = self._interfaces.get((ifindex, linktype))
        if iface is None:
            iface = self._describe(ifindex, linktype)
        ts = sec * 1_000_000_000 + nsec
        handle.write(_EPB_HEAD.pack(_EPB, length, iface, ts >> 32, ts & 0xFFFFFFFF, body, wirelen))
        handle.write(data)
        handle.write(b"\x00" * pad + length.to_bytes(4, "little" if _LITTLE else "big"))
        self._size += length
        current = self.files[-1]
        if not current.first_frame:
            current.first_frame = frame
        current.last_frame = frame
        current.size = self._size

    def _describe(self, ifindex: int, linktype: int) -> int:
        assert self._handle is not None
        index = len(self._interfaces)
        self._interfaces[(ifindex, linktype)] = index
        name = self.names.get(ifindex) or _name_of(ifindex)
        block = _interface_description(max(linktype, 0), self.snaplen, name)
        self._handle.write(block)
        self._size += len(block)
        return index

    def _next_file(self) -> BinaryIO:
        self._finish(0, 0)
        path = self.path_of(len(self.files) + 1)
        check_output(path, self.case, force=self.force)
        if self.force and path.exists():
            path.unlink()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, PRIVATE_FILE)
        except FileExistsError:
            raise OutputError(str(path), "already exists (pass --force to replace it)") from None
        except OSError as exc:
            raise OutputError(str(path), f"cannot write: {exc.strerror or exc}") from exc
        handle = os.fdopen(fd, "wb", buffering=_BUFFER)
        header = _section_header()
        handle.write(header)
        self._handle = handle
        self._size = len(header)
        self._interfaces = {}
        self.files.append(WrittenFile(path, size=self._size))
        return handle

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def _finish(self, received: int, dropped: int) -> None:
        handle = self._handle
        if handle is None:
            return
        if received or dropped:
            for index in self._interfaces.values():
                handle.write(_interface_statistics(index, received, dropped))
        handle.close()
        self.files[-1].size = os.stat(self.files[-1].path).st_size
        self._handle = None

    def close(self, received: int = 0, dropped: int = 0) -> None:
        """End the last file with the capture's counters (those of the whole capture: the
        kernel counts per socket, not per file)."""
        self._finish(received, dropped)


_LITTLE: Final = struct.pack("=I", 1) == b"\x01\x00\x00\x00"


def _glob(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def _name_of(ifindex: int) -> str:
    try:
        return socket.if_indextoname(ifindex)
    except OSError:
        return f"if{ifindex}"
