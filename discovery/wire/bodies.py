"""Bounded body prefixes: keep the first bytes of a body and decode them under an output cap.

Content inspection only needs a prefix; a decompression bomb must never allocate more than the
cap, so every decoder here stops producing output at ``limit`` bytes.
"""

from __future__ import annotations

import io
import logging
import zlib

log = logging.getLogger(__name__)

BODY_PREFIX = 64 * 1024  # raw (still encoded) bytes kept per body
DECODED_LIMIT = 64 * 1024  # decoded bytes produced at most per body
_BROTLI_PIECE = 64  # input bytes fed to brotli per step (it has no output limit of its own)

try:
    import brotli as _brotli
except ImportError:  # pragma: no cover - optional
    _brotli = None
try:
    import zstandard as _zstd
except ImportError:  # pragma: no cover - optional
    _zstd = None  # type: ignore[assignment, unused-ignore]


def _zlib(data: bytes, wbits: int, limit: int) -> bytes:
    return zlib.decompressobj(wbits).decompress(data, limit)


def _deflate(data: bytes, limit: int) -> bytes:
    # "deflate" is meant to be zlib-wrapped, but servers also send raw deflate
    try:
        return _zlib(data, 15, limit)
    except zlib.error:
        return _zlib(data, -15, limit)


def _brotli_decode(data: bytes, limit: int) -> bytes:
    if _brotli is None:
        raise ValueError("brotli is not installed")
    decoder = _brotli.Decompressor()
    out = bytearray()
    for i in range(0, len(data), _BROTLI_PIECE):
        out += decoder.process(data[i : i + _BROTLI_PIECE])
        if len(out) >= limit:
            break
    return bytes(out[:limit])


def _zstd_decode(data: bytes, limit: int) -> bytes:
    if _zstd is None:
        raise ValueError("zstandard is not installed")
    decoder = _zstd.ZstdDecompressor(max_window_size=1 << 23)
    with decoder.stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
        out = bytearray()
        while len(out) < limit:
            try:
                block = reader.read(limit - len(out))
            except _zstd.ZstdError:
                if out:
                    break  # a truncated prefix: keep what decoded
                raise
            if not block:
                break
            out += block
        return bytes(out)


_DECODERS = {
    "gzip": lambda d, n: _zlib(d, 31, n),
    "x-gzip": lambda d, n: _zlib(d, 31, n),
    "deflate": _deflate,
    "br": _brotli_decode,
    "zstd": _zstd_decode,
}


def decode_body(
    raw: bytes, content_encoding: str | None, limit: int = DECODED_LIMIT
) -> tuple[bytes, str | None]:
    """Decode a body prefix: (decoded prefix, reason it could not be decoded or None).

    Encodings are applied in reverse order of the header; an unknown encoding or a decoding error
    returns the raw prefix (capped) and the reason.
    """
    if not raw or not content_encoding:
        return raw[:limit], None
    data = raw
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            return raw[:limit], f"unknown content-encoding {coding!r}"
        try:
            data = decoder(data, limit)
        except (zlib.error, ValueError, OSError) as exc:
            return raw[:limit], f"{coding} body does not decode: {exc}"
        except Exception as exc:
            if _brotli is not None and isinstance(exc, _brotli.error):
                return raw[:limit], f"{coding} body does not decode: {exc}"
            if _zstd is not None and isinstance(exc, _zstd.ZstdError):
                return raw[:limit], f"{coding} body does not decode: {exc}"
            raise
    return data[:limit], None
