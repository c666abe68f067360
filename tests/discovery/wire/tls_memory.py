"""Real TLS conversations made in this process: OpenSSL (Python's ``ssl``) on both ends over
memory BIOs, the client writing its key log (``keylog_filename``), the bytes laid out as a
capture (Ethernet/IPv4/TCP frames). Fast enough for the default suite, and no process starts.
"""

from __future__ import annotations

import ssl
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.discovery.proxyfixtures import self_signed_cert
from tests.discovery.wire.tls_lab import HOST

Chunk = tuple[bool, bytes]  # (from the client, bytes)
T0 = 1_790_000_000.0


def _pump(src: ssl.MemoryBIO, dst: ssl.MemoryBIO, out: list[Chunk], from_client: bool) -> bool:
    data = src.read()
    if data:
        out.append((from_client, data))
        dst.write(data)
    return bool(data)


def conversation(
    folder: Path,
    keylog: Path,
    requests: Sequence[bytes],
    respond: Callable[[bytes], bytes],
    *,
    version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    ciphers: str | None = None,
    no_etm: bool = False,
    alpn: Sequence[str] = (),
    cert_kind: str = "ec",
) -> list[Chunk]:
    """The bytes of one TLS connection, in order: each request is written by the client, the
    server reads it and writes ``respond(request)``."""
    cert, key = self_signed_cert(folder, HOST, kind=cert_kind, stem=cert_kind)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.keylog_filename = str(keylog)
    for ctx in (client_ctx, server_ctx):
        ctx.minimum_version = version
        ctx.maximum_version = version
        if ciphers:
            ctx.set_ciphers(ciphers)
        if no_etm:
            ctx.options |= 1 << 19  # SSL_OP_NO_ENCRYPT_THEN_MAC
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=HOST)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    out: list[Chunk] = []
    done = [False, False]
    for _ in range(50):
        for index, end in enumerate((client, server)):
            if not done[index]:
                try:
                    end.do_handshake()
                    done[index] = True
                except ssl.SSLWantReadError:
                    pass
        moved = _pump(c_out, s_in, out, True) | _pump(s_out, c_in, out, False)
        if all(done) and not moved:
            break
    for request in requests:
        client.write(request)
        _pump(c_out, s_in, out, True)
        got = b""
        while True:
            try:
                got += server.read(1 << 16)
            except ssl.SSLWantReadError:
                break
            if s_in.pending == 0:
                break
        _pump(s_out, c_in, out, False)  # session tickets after the first read
        server.write(respond(got))
        _pump(s_out, c_in, out, False)
        try:
            while True:
                client.read(1 << 16)
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        _pump(c_out, s_in, out, True)
    return out


def _frame(
    src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    ip_src = bytes(int(x) for x in src.split("."))
    ip_dst = bytes(int(x) for x in dst.split("."))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ip_src, ip_dst)
    return b"\x00" * 6 + b"\x02" * 6 + b"\x08\x00" + ip + tcp


def frames(
    chunks: Sequence[Chunk], client_port: int = 40000, server_port: int = 443
) -> list[bytes]:
    """Ethernet frames of one TCP connection carrying ``chunks`` (handshake, data, FINs)."""
    cip, sip = "10.0.0.1", "10.0.0.2"
    cseq, sseq = 1000, 5000
    out = [
        _frame(cip, sip, client_port, server_port, cseq, 0, 0x02, b""),
        _frame(sip, cip, server_port, client_port, sseq, cseq + 1, 0x12, b""),
    ]
    cseq += 1
    sseq += 1
    for from_client, data in chunks:
        for pos in range(0, len(data), 1400):
            piece = data[pos : pos + 1400]
            if from_client:
                out.append(_frame(cip, sip, client_port, server_port, cseq, sseq, 0x18, piece))
                cseq += len(piece)
            else:
                out.append(_frame(sip, cip, server_port, client_port, sseq, cseq, 0x18, piece))
                sseq += len(piece)
    out.append(_frame(cip, sip, client_port, server_port, cseq, sseq, 0x11, b""))
    out.append(_frame(sip, cip, server_port, client_port, sseq, cseq + 1, 0x11, b""))
    return out


def pcap(frame_list: Sequence[bytes]) -> bytes:
    """A classic pcap file (Ethernet) of the frames, a millisecond apart."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, data in enumerate(frame_list):
        ts = T0 + i / 1000
        out.append(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(data), len(data)))
        out.append(data)
    return b"".join(out)


def http1_response(request: bytes) -> bytes:
    body = b'{"ok":true}'
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
