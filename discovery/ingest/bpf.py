"""BPF capture filters: a tcpdump expression compiled by libpcap into the classic BPF program
a packet socket runs in the kernel (``SO_ATTACH_FILTER``).

The program's accept value is the snap length, as libpcap makes it: the kernel cuts every
accepted packet there before copying it to the ring. With no expression, a one-instruction
program accepts everything at the snap length (no libpcap needed). libpcap is loaded through
``ctypes`` only when an expression is given, on a "dead" handle (no interface, no privilege).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct
from dataclasses import dataclass
from typing import Final

from discovery.errors import CaptureError

SO_ATTACH_FILTER: Final = 26
_BPF_RET_K: Final = 0x06  # BPF_RET | BPF_K: accept this many bytes
_INSN: Final = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k
_NETMASK_UNKNOWN: Final = 0xFFFFFFFF


class _BpfInsn(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


class _BpfProgram(ctypes.Structure):
    _fields_ = (("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn)))


@dataclass(frozen=True)
class Program:
    """A compiled classic BPF program: its instructions, packed as ``struct sock_filter``s."""

    instructions: bytes

    @property
    def length(self) -> int:
        return len(self.instructions) // _INSN.size

    def attach(self, sock: socket.socket) -> None:
        """Attach the program to a socket (the kernel copies it)."""
        buffer = ctypes.create_string_buffer(self.instructions, len(self.instructions))
        fprog = struct.pack("@HP", self.length, ctypes.addressof(buffer))  # struct sock_fprog
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        except OSError as exc:
            raise CaptureError(
                f"the kernel refused the capture filter: {exc.strerror or exc}"
            ) from exc


def accept_all(snaplen: int) -> Program:
    """Every packet, cut at ``snaplen`` bytes."""
    return Program(_INSN.pack(_BPF_RET_K, 0, 0, snaplen))


def reject_all() -> Program:
    """No packet: swapped in at the end of a capture, so the ring can be drained of what
    arrived before (libpcap does the same)."""
    return Program(_INSN.pack(_BPF_RET_K, 0, 0, 0))


def compile_filter(expression: str | None, linktype: int, snaplen: int) -> Program:
    """A tcpdump filter expression compiled for a link type; CaptureError when libpcap is
    missing or the expression does not compile (libpcap's own message)."""
    if not expression or not expression.strip():
        return accept_all(snaplen)
    lib = _libpcap()
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = (ctypes.c_int, ctypes.c_int)
    lib.pcap_compile.argtypes = (
        ctypes.c_void_p,
        ctypes.POINTER(_BpfProgram),
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint32,
    )
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = (ctypes.c_void_p,)
    lib.pcap_freecode.argtypes = (ctypes.POINTER(_BpfProgram),)
    lib.pcap_close.argtypes = (ctypes.c_void_p,)
    handle = lib.pcap_open_dead(linktype, snaplen)
    if not handle:
        raise CaptureError("libpcap could not open a handle to compile the capture filter")
    program = _BpfProgram()
    try:
        if (
            lib.pcap_compile(
                handle, ctypes.byref(program), expression.encode(), 1, _NETMASK_UNKNOWN
            )
            != 0
        ):
            reason = (lib.pcap_geterr(handle) or b"").decode("utf-8", "replace")
            raise CaptureError(f"bad capture filter {expression!r}: {reason}")
        try:
            size = program.bf_len * _INSN.size
            return Program(ctypes.string_at(program.bf_insns, size))
        finally:
            lib.pcap_freecode(ctypes.byref(program))
    finally:
        lib.pcap_close(handle)


def _libpcap() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcap")
    for candidate in (name, "libpcap.so.1", "libpcap.so.0.8"):
        if not candidate:
            continue
        try:
            return ctypes.CDLL(candidate)
        except OSError:
            continue
    raise CaptureError(
        "capture filters need libpcap (install libpcap, e.g. apt-get install libpcap0.8)"
    )
