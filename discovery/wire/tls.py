"""TLS ClientHello parsing: the server name (SNI), ALPN and the JA4 fingerprint.

Only the first flight of the client is read; everything after it is encrypted and ignored, so a
TLS connection enters the case as an opaque exchange (a host, never an endpoint).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from discovery.models import ObservedExchange

MAX_HELLO = 16 * 1024 + 5  # a ClientHello larger than one full record is given up on
_U16 = struct.Struct("!H")

_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
EXT_SNI = 0x0000
EXT_ALPN = 0x0010
EXT_SIGALGS = 0x000D
EXT_SUPPORTED_VERSIONS = 0x002B


class NotClientHello(ValueError):
    """The bytes are not (or not yet) a complete TLS ClientHello."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What a ClientHello tells about the client and the server it wants."""

    version: int  # legacy handshake version
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]  # in wire order
    sni: str | None
    alpn: tuple[str, ...]
    signature_algorithms: tuple[int, ...]
    supported_versions: tuple[int, ...]

    @property
    def ja4(self) -> str:
        return ja4(self)


def is_grease(value: int) -> bool:
    """GREASE values (RFC 8701): 0x?a?a with both bytes equal."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def looks_like_tls(data: bytes) -> bool:
    """True when data starts like a TLS handshake record."""
    return len(data) >= 3 and data[0] == 0x16 and data[1] == 0x03 and data[2] <= 0x04


def handshake_bytes(data: bytes) -> bytes:
    """Concatenate the handshake-record payloads at the start of a client stream."""
    out = bytearray()
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x16:
        length = _U16.unpack_from(data, pos + 3)[0]
        out += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
    return bytes(out)


def parse_client_hello(data: bytes) -> ClientHello:
    """Parse a ClientHello from the start of a client's TLS stream (records included).

    Raises ``NotClientHello`` when it is incomplete or not a ClientHello.
    """
    if not looks_like_tls(data):
        raise NotClientHello("not a TLS handshake record")
    hs = handshake_bytes(data)
    if len(hs) < 4 or hs[0] != 1:
        raise NotClientHello("not a ClientHello" if len(hs) >= 4 else "incomplete")
    length = int.from_bytes(hs[1:4], "big")
    body = hs[4 : 4 + length]
    if len(body) < length:
        raise NotClientHello("incomplete")
    try:
        return _parse_body(body)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise NotClientHello(f"malformed ClientHello: {exc}") from exc


def _parse_body(body: bytes) -> ClientHello:
    version = _U16.unpack_from(body, 0)[0]
    pos = 34  # version + random
    pos += 1 + body[pos]  # session id
    clen = _U16.unpack_from(body, pos)[0]
    ciphers = tuple(_U16.unpack_from(body, pos + 2 + i)[0] for i in range(0, clen, 2))
    pos += 2 + clen
    pos += 1 + body[pos]  # compression methods
    extensions: list[int] = []
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    sigalgs: tuple[int, ...] = ()
    versions: tuple[int, ...] = ()
    if pos + 2 <= len(body):
        end = min(len(body), pos + 2 + _U16.unpack_from(body, pos)[0])
        pos += 2
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, pos)
            ext = body[pos + 4 : pos + 4 + elen]
            pos += 4 + elen
            extensions.append(etype)
            if etype == EXT_SNI and len(ext) >= 5 and ext[2] == 0:
                name_len = _U16.unpack_from(ext, 3)[0]
                sni = ext[5 : 5 + name_len].decode("ascii", "replace").lower() or None
            elif etype == EXT_ALPN and len(ext) >= 2:
                names = []
                i = 2
                while i < len(ext):
                    n = ext[i]
                    names.append(ext[i + 1 : i + 1 + n].decode("latin-1"))
                    i += 1 + n
                alpn = tuple(names)
            elif etype == EXT_SIGALGS and len(ext) >= 2:
                n = _U16.unpack_from(ext, 0)[0]
                sigalgs = tuple(_U16.unpack_from(ext, 2 + i)[0] for i in range(0, n, 2))
            elif etype == EXT_SUPPORTED_VERSIONS and ext:
                n = ext[0]
                versions = tuple(_U16.unpack_from(ext, 1 + i)[0] for i in range(0, n, 2))
    return ClientHello(version, ciphers, tuple(extensions), sni, alpn, sigalgs, versions)


def alpn_chars(value: str) -> str:
    """The two characters JA4 and JA4S give an ALPN value (first and last, or hex digits)."""
    if not value:
        return "00"
    first, last = value[0], value[-1]
    if first.isascii() and first.isalnum() and last.isascii() and last.isalnum():
        return first + last
    raw = value.encode("latin-1")
    return f"{raw[0]:02x}"[0] + f"{raw[-1]:02x}"[-1]


def hash12(text: str) -> str:
    """A fingerprint part: the truncated SHA-256 of its text (JA4, JA4S, JA4H)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4(hello: ClientHello, transport: str = "t") -> str:
    """The JA4 TLS client fingerprint (FoxIO's specification), GREASE values ignored."""
    versions = [v for v in hello.supported_versions if not is_grease(v)]
    version = version_code(max(versions) if versions else hello.version)
    ciphers = [c for c in hello.ciphers if not is_grease(c)]
    exts = [e for e in hello.extensions if not is_grease(e)]
    head = (
        f"{transport}{version}{'d' if hello.sni else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}"
        f"{alpn_chars(hello.alpn[0]) if hello.alpn else '00'}"
    )
    cipher_hash = hash12(",".join(f"{c:04x}" for c in sorted(ciphers))) if ciphers else "0" * 12
    rest = sorted(e for e in exts if e not in (EXT_SNI, EXT_ALPN))
    if rest:
        text = ",".join(f"{e:04x}" for e in rest)
        sig = [s for s in hello.signature_algorithms if not is_grease(s)]
        if sig:
            text += "_" + ",".join(f"{s:04x}" for s in sig)
        ext_hash = hash12(text)
    else:
        ext_hash = "0" * 12
    return f"{head}_{cipher_hash}_{ext_hash}"


def version_code(version: int) -> str:
    """The two characters JA4 and JA4S give a TLS version ("13", "12", ...; "00" unknown)."""
    return _VERSIONS.get(version, "00")


def hello_exchange(
    hello: ClientHello,
    ts: float,
    frames: tuple[int, int],
    source: str,
    client: tuple[str, int],
    server: tuple[str, int],
    *,
    ja4: str | None,
    ja4s: str | None = None,
    host: str | None = None,
    destination: str | None = None,
    error: str | None = None,
) -> ObservedExchange:
    """The exchange that stands for a TLS connection read no further than its handshake: its
    addresses, SNI, ALPN and fingerprints."""
    first, last = frames
    return ObservedExchange(
        ts=ts,
        source=source,
        evidence=f"frames {first}-{last}" if last != first else f"frame {first}",
        client_ip=client[0],
        client_port=client[1],
        server_ip=server[0],
        server_port=server[1],
        tls=True,
        sni=hello.sni,
        alpn=hello.alpn[0] if hello.alpn else None,
        ja4=ja4,
        ja4s=ja4s,
        host=host,
        destination=destination,
        error=error,
    )
