"""Value shapes: is a string secret-like, or a near miss (UUID, hash digest, number, word)?"""

from __future__ import annotations

import hashlib
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
_WORD_PARTS = re.compile(r"[_\-. ]")
_HUMPS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_VOWELS = frozenset("aeiouyAEIOUY")
MAX_WORD = 24  # longer runs of letters are not one word (``internationalization`` is 20)
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
    if _WORDISH.match(value) and all(_word(part) for part in _WORD_PARTS.split(value)):
        return "words"
    return None


def _word(part: str) -> bool:
    """One run of letters that reads as a word or a camelCase name, not as random letters: one
    case (or Capitalised, or camelCase humps of 2+ letters), at most MAX_WORD letters, and a
    long run has the vowels of a language (random letters: about 1 in 5 is a vowel)."""
    if len(part) > MAX_WORD:
        return False
    if part.islower() or part.isupper() or (part[0].isupper() and part[1:].islower()):
        return len(part) < 12 or sum(ch in _VOWELS for ch in part) * 4 >= len(part)
    humps = _HUMPS.findall(part)
    return len(humps) <= 5 and all(len(h) >= 2 for h in humps) and sum(map(len, humps)) == len(part)


def looks_secret(value: str, min_length: int = MIN_SECRET_LENGTH) -> bool:
    """True when a value has the shape of a random secret and is not a known identifier shape."""
    if len(value) < min_length or len(value) > 4096 or not _TOKEN_CHARS.match(value):
        return False
    if near_miss(value) is not None:
        return False
    classes = sum(bool(re.search(pattern, value)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and entropy(value) >= MIN_ENTROPY_BITS_PER_CHAR


_KEY_PREFIX = re.compile(r"^((?:(?:[a-z]{2,8}|[A-Z]{2,8})[_\-]){1,3})(.{16,})$")


def key_prefix(value: str) -> str | None:
    """The documented-looking prefix of a structured key (``acme_pk_globex_`` of
    ``acme_pk_globex_<random>``): up to three segments of 2-8 letters of one case, each ended by
    ``_``/``-``, at least three letters in all, then a random part of 16 or more characters.

    Random characters are never kept as a "prefix": a random base64url token starts this way
    about once in 150, and then keeps a few characters."""
    match = _KEY_PREFIX.match(value)
    if not match:
        return None
    prefix = match.group(1)
    if len(prefix) - prefix.count("_") - prefix.count("-") < 3:
        return None
    return prefix if looks_secret(match.group(2)) else None


# Placeholder runs: letters and digits that documentation and test fixtures fill a key with
# (``AKIAXXXXXXXXXXXXXXXX``, ``glpat-XXXXXXXXXXX-XXXXXXXX``, ``AIzaaaaa…``, ``0000…``).
_FILLER_RUN = re.compile(r"([xX*#.])\1{3,}|([aA0])\2{7,}|(.)\3{11,}")
_ASCENDING_DIGITS = "01234567890123456789"
_WORDS_OF_EXAMPLES = ("EXAMPLE", "example", "YOUR_", "your_", "REPLACE", "<", ">", "{", "}")
# SHA-256 of keys published as examples: in providers' documentation (Stripe, Telegram, Google,
# Slack, GitHub) and the example keys of Google's Firebase SDKs (firebase-android-sdk): never a
# live key, never named. Digests, so no key-shaped text is kept here.
DOCUMENTED_EXAMPLES = frozenset(
    {
        "f56e323494a6ffc2064e7a955908957d84f0755e5f975dabd64328d0359a8f7c",
        "2037abcaffb2b77785da716cf7ccff4ff4d00c4ea930db0167b7d71f50af7eb4",
        "3f370c9dd8225c63b5c77de1f785edc9712958f18bb612d5fa2e0ae33aeca682",
        "e4a5542bb7fd7b67e943c71ad29c34b5972c9840597e7eda53e666f44d5da0b9",
        "a19f89ab3555eac10c40741f6df79ecf0935998f15569f8db9d67bce0181fff6",
        "0b476bdf9acf2123d547b5ae76f1e59884d8ec9553ee0c47e9f31fd4768f3f3c",
        "eb540d2b6ee2a0a47c5779bc8a0141784c6b753840d4c6f4e2428a6e86e9e0b1",
        "37f8f09bdf12c2f2eae4ead7273a62ddb0c23459cbf902892f282b57f7ed6619",
        "8731261cb72d86267a32a532ebd3df429e2144e5e4ced7e13568bc9e6c8fb1b1",
        "49f777db995e8260da7ca9ffdf0c08d66f0453e97ec967018baf2cdfe3b582d0",
        "27a9a42931dff7eb2f8434e20a9bce976ea364e7bee49187f19d5cfeca9c7045",
        "dc0fcf046c61640cbd1e8b999ada3262d722c2ca4bf42dceac999020ffdbb614",
        "4c98242dcadc8b29005c6b4aad526552d5ea1842149154c0694adeec75847583",
        "ea9bb1082cf95663f5faca23b8b15ef2aa0fce0a5c6df9c32dcb85b2e0a4513d",
        "3a8b61d0f636b007840c0d40ba12bcf48465dc054cdc1a68704a33521d84b665",
        "a6c814bc555ae62c7bd8b58ec07bf559c7ed3a009976a1e0acc9cef0d4473b41",
        "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",
        "f2d6ca16515033e5dce14eba840b979d27b5cbae24bb3e5bf484339667f86397",
        "7e8de44ea9ecf6d53415c90f5b249a8591f7abafbf7d65a2c0d855afeca3ec09",
        "ac9265e56c79b234607ec72c53753cfea9f88c99eb713790ddf9be5593bb4465",
        "2ddc147f3a3b5a1722b8ed6be3c45c49a7156b17fca5d11410137a6d04def6eb",
        "3543c50b0cb9cea8e55eb1f529b79f043cb250d485fde7b66cabbb5183add7da",
        "0b5dd075ccdd03c42f4edda8e299e6838e2a75d3486a2a8d86940ed1541e9178",
    }
)


def placeholder(token: str, prefix_length: int = 0) -> bool:
    """True for a published placeholder or documentation example rather than a key: filler
    runs (``XXXX``, ``aaaaaaaa``, ``00000000``), the word EXAMPLE or a template marker, a run of
    ten ascending digits (``1234567890``), a random part of one repeated short pattern, or a key a
    provider's documentation shows."""
    body = token[prefix_length:]
    if _FILLER_RUN.search(body) or any(word in token for word in _WORDS_OF_EXAMPLES):
        return True
    for start in range(0, max(len(body) - 9, 0)):
        if body[start : start + 10] in _ASCENDING_DIGITS:
            return True
    for period in (1, 2, 3, 4):
        if (
            len(body) >= 3 * period
            and body == (body[:period] * (len(body) // period + 1))[: len(body)]
        ):
            return True
    return (
        hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest() in DOCUMENTED_EXAMPLES
    )
