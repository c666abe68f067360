"""Value shapes: is a string secret-like, or a near miss (UUID, hash digest, number, word)?"""

from __future__ import annotations

import math
import re
from collections import Counter

_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})  # md5, sha1, sha224, sha256, sha384, sha512
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_WORDISH = re.compile(r"^[A-Za-z]+([_\-. ][A-Za-z]+)*$")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-.~:%]+$")

MIN_SECRET_LENGTH = 16
MIN_ENTROPY_BITS_PER_CHAR = 3.0


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def near_miss(value: str) -> str | None:
    """Why a value is an identifier rather than a secret (UUID, digest, ULID, number, word), or None."""
    if _UUID.match(value):
        return "uuid"
    if _HEX.match(value) and len(value) in _DIGEST_LENGTHS:
        return "hex digest"
    if _OBJECT_ID.match(value):
        return "object id"
    if _ULID.match(value):
        return "ulid"
    if value.isdigit():
        return "number"
    if _WORDISH.match(value):
        return "words"
    return None


def looks_secret(value: str, min_length: int = MIN_SECRET_LENGTH) -> bool:
    """True when a value has the shape of a random secret and is not a known identifier shape."""
    if len(value) < min_length or len(value) > 4096 or not _TOKEN_CHARS.match(value):
        return False
    if near_miss(value) is not None:
        return False
    classes = sum(bool(re.search(pattern, value)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and entropy(value) >= MIN_ENTROPY_BITS_PER_CHAR


_KEY_PREFIX = re.compile(r"^((?:[A-Za-z]{1,12}[_\-]){1,5})(.+)$")


def key_prefix(value: str) -> str | None:
    """The documented-looking prefix of a structured key (``acme_pk_globex_`` of
    ``acme_pk_globex_<random>``): word segments ended by ``_``/``-``, followed by a random part."""
    match = _KEY_PREFIX.match(value)
    if not match or len(match.group(1)) > 40:
        return None
    return match.group(1) if looks_secret(match.group(2)) else None
