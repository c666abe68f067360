"""JA4S (the server's answer to a ClientHello) and JA4H (an HTTP request's shape), FoxIO's
published definitions; JA4 of the client is in ``tls``.

JA4H's last part hashes the request's cookie ``name=value`` pairs (unkeyed, truncated SHA-256, as
the standard defines it); the values themselves are never kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from discovery.wire.tls import alpn_chars, hash12, version_code

_ZERO = "0" * 12
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
# a request's header names (names only, never values) -> their JA4H hash: clients send the
# same few header sets over and over, and each hash costs a SHA-256; bounded
_NAMES_HASHES: dict[str, str] = {}
NAMES_HASHES_SIZE = 4096


def ja4s(version: int, cipher: int, extensions: Sequence[int], alpn: str | None) -> str:
    """JA4S: protocol and version, extension count, ALPN chosen, the cipher suite chosen and
    the hash of the extensions in the server's order (GREASE included, as sent)."""
    head = f"t{version_code(version)}{min(len(extensions), 99):02d}{alpn_chars(alpn) if alpn else '00'}"
    text = ",".join(f"{e:04x}" for e in extensions)
    return f"{head}_{cipher:04x}_{hash12(text) if text else _ZERO}"


def _language(value: str) -> str:
    lang = value.replace("-", "").replace(";", ",").lower().split(",")[0][:4]
    return lang + "0" * (4 - len(lang))


def ja4h(method: str, http_version: str | None, headers: Sequence[tuple[str, str]]) -> str:
    """JA4H of a request: method, version, cookie and referer flags, header count and the
    Accept-Language prefix; hashes of the header names in order (Cookie and Referer left out),
    of the cookie names sorted and of the cookie pairs sorted by name."""
    names: list[str] = []
    cookies: list[tuple[str, str]] = []
    referer = False
    language = "0000"
    for name, value in headers:
        # lower-cased only where the length and first letter allow a match (the names that
        # lower-case to these are of this length, and only "c" or "C" lower-cases to "c")
        size = len(name)
        if size >= 6 and name[0] in "cC" and name.lower().startswith("cookie"):
            for part in value.split(";"):
                pair = part.strip()
                if pair:
                    cookies.append((pair.split("=", 1)[0].strip(), pair))
            continue
        if size == 7 and name.lower() == "referer":
            referer = True
            continue
        if not size or name[0] == ":":
            continue
        if size == 15 and language == "0000" and name.lower() == "accept-language":
            language = _language(value)
        names.append(name)
    version = (
        "20"
        if http_version == "2"
        else "30"
        if http_version == "3"
        else ((http_version or "1.1").replace(".", "")[:2])
    )
    head = (
        f"{method.lower()[:2]}{version}{'c' if cookies else 'n'}{'r' if referer else 'n'}"
        f"{_TWO_DIGITS[min(len(names), 99)]}{language}"
    )
    if cookies:
        ordered = sorted(cookies, key=lambda pair: pair[0])
        cookie_names = hash12(",".join(name for name, _ in ordered))
        cookie_pairs = hash12(",".join(pair for _, pair in ordered))
    else:
        cookie_names = cookie_pairs = _ZERO
    return f"{head}_{_names_hash(','.join(names))}_{cookie_names}_{cookie_pairs}"


def _names_hash(text: str) -> str:
    """``hash12`` of a request's header names, remembered (bounded)."""
    known = _NAMES_HASHES.get(text)
    if known is None:
        known = hash12(text)
        if len(_NAMES_HASHES) >= NAMES_HASHES_SIZE:
            _NAMES_HASHES.clear()
        _NAMES_HASHES[text] = known
    return known
