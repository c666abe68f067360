"""What one path segment is on its own value: a typed parameter value or a literal, and why.

Explicit recognisers, each one documented shape: integers, UUIDs, hex digests, dates, emails,
JWT/base64 tokens, ObjectIds, ULIDs, provider-prefixed ids (``cus_`` + base62, ``AC``/``SM`` +
32 hex), random base62 ids of fixed length, Kubernetes-style generated names, long mixed ids
(``INV-2026-000123``), and file-name-like values whose stem is one of these (``SM…32hex.json``
is ``{sid}.json``: the suffix stays). Words, camelCase and dotted method names, version segments
(``v2``, ``v1beta1``, ``2.0``) stay literal. A date is typed here; whether it is a value or a
dated version segment (``/2010-04-01/…``) depends on its siblings and is decided by the
templater (``templating.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX = re.compile(r"[0-9a-fA-F]+\Z")
_DATE = re.compile(
    r"\d{4}-[01]\d-[0-3]\d([T ][0-2]\d:[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?\Z"
)
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}\Z")
_ULID = re.compile(r"[0-9][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}\Z")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
_TOKEN = re.compile(r"[A-Za-z0-9+_-]{20,}={0,2}\Z")
_MIXED = re.compile(r"[A-Za-z0-9]+(?:[-_.:][A-Za-z0-9]+)*\Z")
_VERSION = re.compile(
    r"(?:[vV]\d+(?:\.\d+)*(?:(?:alpha|beta|rc|preview|p)\d*)?|\d+\.\d+(?:\.\d+)?)\Z"
)
_DIGIT_RUN = re.compile(r"\d+")
_CAMEL = re.compile(r"[a-z]+(?:[A-Z][a-z]+)+\Z|[A-Z][a-z]+(?:[A-Z][a-z]+)+\Z")
# provider-prefixed ids: a short lower-case prefix (optionally two words) and a base62 body
# (Stripe cus_…, pi_…, sub_sched_…; many providers copy the style)
_PREFIXED = re.compile(r"[a-z]{2,10}(?:_[a-z]+)?_[A-Za-z0-9]{10,}\Z")
# a two-letter upper-case type prefix and 32 hex digits (Twilio-style SIDs: AC…, SM…, CA…)
_TYPED_HEX = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}\Z")
_ALNUM = re.compile(r"[A-Za-z0-9]+\Z")
# Kubernetes generated names: DNS labels ending in a generated suffix (5 characters of the
# generator's alphabet, consonants and digits without vowels), after an optional pod-template
# hash (6-10 characters of the same alphabet): nginx-66b6c48dd5-4jw2p, kube-proxy-x7k2m; the
# name before them is matched lazily, so a hash is found as a hash, not as part of the name
_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_K8S_GENERATED = re.compile(
    rf"[a-z0-9](?:[a-z0-9.-]*?[a-z0-9])?(?:-([{_K8S_ALPHABET}]{{6,10}}))?-([{_K8S_ALPHABET}]{{5}})\Z"
    rf"|[a-z0-9](?:[a-z0-9.-]*?[a-z0-9])?-([{_K8S_ALPHABET}]{{8,10}})\Z"
)
_FILE_SUFFIX = re.compile(r"(.+?)(\.[A-Za-z][A-Za-z0-9]{0,4})\Z")
REDACTION_MARK: Final = "…"  # what path redaction leaves in place of a secret's middle


@dataclass(frozen=True, slots=True)
class SegmentKind:
    """What a single segment value is, on its own: a typed parameter or a literal, and why."""

    param: str | None  # parameter name for typed values ("id", "uuid", …); None = literal
    rule: str  # machine-readable: integer, uuid, hex, date, email, ulid, objectid, mixed-id, …
    reason: str  # one human sentence
    suffix: str = ""  # a file-name suffix kept beside the parameter: {id}.json

    @property
    def template(self) -> str:
        """The segment in a template: ``{id}``, ``{sid}.json``, or the literal itself."""
        return "{" + (self.param or "") + "}" + self.suffix


INTEGER: Final = SegmentKind("id", "integer", "an integer: object ids are parameters")
_WORD: Final = SegmentKind(None, "word", "a word: stays literal")


def segment_kind(value: str) -> SegmentKind:
    """``classify_segment``, with integers (the commonest ids) answered without the memo: every
    new id would be a memo miss, and there are as many as objects."""
    return INTEGER if value.isdigit() else classify_segment(value)


def _transitions(value: str) -> int:
    """How often the character class (lower, upper, digit) changes along a value: random ids
    change often, words and camelCase rarely."""
    count = 0
    last = ""
    for c in value:
        cls = "d" if c.isdigit() else ("u" if c.isupper() else "l")
        if last and cls != last:
            count += 1
        last = cls
    return count


_HUMP = re.compile(r"[A-Z]?[a-z]+")


def _word_humps(value: str) -> bool:
    """camelCase made of words (``createWithList``, ``IncomingPhoneNumbers``): few humps of
    one or two letters. A random letters-only id can fall into the camelCase pattern by chance
    (``NnGmSdnMyuwQyXcR…``), with half of its humps that short."""
    humps = _HUMP.findall(value)
    return sum(len(h) <= 2 for h in humps) <= max(1, len(humps) // 3)


def mixes_classes(value: str) -> bool:
    """Letters and digits changing class often enough to be no word (a random id that a
    stricter recogniser let through), and not camelCase made of words."""
    if not _ALNUM.match(value) or _transitions(value) < 4:
        return False
    return not (_CAMEL.match(value) and _word_humps(value))


def _random_alnum(value: str) -> bool:
    """A random base62 body (fixed-length ids such as 22-character catalogue ids): long, both
    cases, and class changes a word never has."""
    n = len(value)
    if n < 10 or not _ALNUM.match(value) or (_CAMEL.match(value) and _word_humps(value)):
        return False
    upper = sum(c.isupper() for c in value)
    lower = sum(c.islower() for c in value)
    digits = n - upper - lower
    if not upper or not lower:
        return False
    # letters alone change class less often (two classes, not three): a lower bar for them
    needed = max(5, n // 3) if digits else max(5, n // 4)
    return _transitions(value) >= needed and (digits > 0 or n >= 16)


@lru_cache(maxsize=1 << 16)
def classify_segment(value: str) -> SegmentKind:
    """Classify one path segment by its value alone (no context)."""
    if value.isdigit():
        return INTEGER
    if value.isalpha():
        if _CAMEL.match(value) and _word_humps(value):
            return SegmentKind(None, "word", "a camelCase word: stays literal")
        if len(value) >= 16 and _random_alnum(value):
            return SegmentKind("id", "random-id", f"a random base62 id ({len(value)} characters)")
        return _WORD
    if REDACTION_MARK in value:
        return SegmentKind("secret", "redacted", "a redacted secret: a parameter, never a literal")
    kind = _typed(value)
    if kind is not None:
        return kind
    suffixed = _FILE_SUFFIX.match(value)
    if suffixed is not None:
        stem = suffixed.group(1)
        inner = INTEGER if stem.isdigit() else (_typed(stem) or _mixed_id(stem))
        if inner is not None and inner.param is not None:
            suffix = suffixed.group(2)
            return SegmentKind(
                inner.param, inner.rule, f"{inner.reason}, with the suffix {suffix} kept", suffix
            )
    return _mixed_id(value) or _untyped(value)


def _typed(value: str) -> SegmentKind | None:
    """The typed recognisers, most specific first; None when the value is none of them."""
    n = len(value)
    if _VERSION.match(value):
        return SegmentKind(None, "version", "a version segment: stays literal")
    if n == 36 and _UUID.match(value):
        return SegmentKind("uuid", "uuid", "a UUID")
    if _DATE.match(value):
        return SegmentKind("date", "date", "a date")
    if "@" in value and _EMAIL.match(value):
        return SegmentKind("email", "email", "an email address")
    if _JWT.match(value):
        return SegmentKind("token", "jwt", "a JWT-like token")
    if n == 34 and _TYPED_HEX.match(value):
        return SegmentKind("sid", "prefixed-hex", f"a {value[:2]}-prefixed id of 32 hex digits")
    digits = sum(c.isdigit() for c in value)
    if n == 24 and digits and _HEX.match(value):
        return SegmentKind("objectId", "objectid", "a 24-hex-digit ObjectId")
    if n >= 16 and digits and digits < n and _HEX.match(value):
        return SegmentKind("hash", "hex", f"a hex digest ({n} hex digits)")
    if n == 26 and digits >= 4 and _ULID.match(value):
        return SegmentKind("ulid", "ulid", "a ULID")
    if "_" in value and _PREFIXED.match(value):
        body = value.rsplit("_", 1)[1]
        upper = sum(c.isupper() for c in body)
        if digits or (upper >= 2 and len(body) - upper >= 2):
            prefix = value[: len(value) - len(body)]
            return SegmentKind("id", "prefixed-id", f"a {prefix}-prefixed id")
    if "-" in value and n >= 7:
        generated = _K8S_GENERATED.match(value)
        if generated is not None and _generated(generated.groups("")):
            return SegmentKind(
                "name", "generated-name", "a generated name (a DNS label with a random suffix)"
            )
    if _random_alnum(value):
        return SegmentKind("id", "random-id", f"a random base62 id ({n} characters)")
    letters = sum(c.isalpha() for c in value)
    if (
        n >= 20
        and _TOKEN.match(value)
        and digits >= 2
        and letters >= 2
        and ((any(c.isupper() for c in value) and any(c.islower() for c in value)) or "=" in value)
    ):
        return SegmentKind("token", "token", "a base64-like token")
    return None


def _generated(groups: tuple[str, ...]) -> bool:
    """A generated tail: a pod-template hash and a suffix, or a ReplicaSet's hash alone (no
    word is that long without a vowel); a lone 5-character suffix needs a digit, as a word
    such as ``https`` has its shape."""
    template_hash, suffix, replica_hash = groups
    return bool(template_hash or replica_hash) or any(c.isdigit() for c in suffix)


def _mixed_id(value: str) -> SegmentKind | None:
    """A long mixed id of letters and digit runs (INV-2026-000123, ABC-12345)."""
    n = len(value)
    digits = sum(c.isdigit() for c in value)
    letters = sum(c.isalpha() for c in value)
    run = max((len(r) for r in _DIGIT_RUN.findall(value)), default=0)
    if (
        _MIXED.match(value)
        and digits
        and letters
        and (run >= 5 or (run >= 4 and n >= 8) or (digits >= 4 and n >= 10))
    ):
        return SegmentKind(
            "ref", "mixed-id", f"a long mixed id ({letters} letters, {digits} digits)"
        )
    return None


def _untyped(value: str) -> SegmentKind:
    if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
        return SegmentKind(
            None, "word", "letters with a few digits (like oauth2, sha256): stays literal"
        )
    if "." in value and _CAMEL.search(value.rsplit(".", 1)[1]):
        return SegmentKind(None, "word", "a dotted method name: stays literal")
    return SegmentKind(None, "word", "not an id pattern: stays literal")


# ---------------------------------------------------------------------------- shapes


def shape_family(value: str) -> str:
    """A coarse family of how a literal looks, for grouping siblings that look alike:
    ``dns`` (lower case, digits, hyphens, dots: slugs, namespaces, usernames), ``snake``
    (lower case with underscores), ``upper`` (upper case codes and constants), ``capital``
    (Capitalised words), ``mixed`` (camelCase and the rest)."""
    if value[:1].isalnum() and all(c.islower() or c.isdigit() or c in "-." for c in value):
        return "dns" if any(c.isalpha() for c in value) else "digits"
    if all(c.islower() or c.isdigit() or c in "-._" for c in value):
        return "snake"
    if all(c.isupper() or c.isdigit() or c in "-._" for c in value):
        return "upper"
    if value[:1].isupper() and value[1:].islower():
        return "capital"
    return "mixed"


def file_suffix(value: str) -> str:
    """A file name's suffix (``.pdf`` of ``receipt.pdf``), or "" when the value has none."""
    found = _FILE_SUFFIX.match(value)
    return found.group(2) if found is not None and found.group(1)[-1:].isalnum() else ""


def is_version(value: str) -> bool:
    """A version segment (v1, v1beta1, 2.0)."""
    return _VERSION.match(value) is not None


@lru_cache(maxsize=1 << 14)
def looks_plural(word: str) -> bool:
    """An English plural noun at the end of a name (collections: ``namespaces``, ``users``,
    ``IncomingPhoneNumbers``, ``payment_intents``), the REST convention for a collection whose
    children are item ids."""
    last = re.split(r"[-_.]|(?<=[a-z])(?=[A-Z])", word)[-1].lower()
    if len(last) < 3 or not last.isalpha() or not any(c in "aeiouy" for c in last):
        return False  # no vowel: a generated suffix (rmvls), not a plural noun
    if last in ("people", "children", "data", "media", "criteria", "indices", "matrices"):
        return True
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


@lru_cache(maxsize=1 << 14)
def names_like(value: str) -> bool:
    """A literal shaped like a resource or method name rather than a value: a plural noun,
    a snake_case compound, a camelCase verb phrase or a dotted method name."""
    if looks_plural(value):
        return True
    if "_" in value and all(p.isalpha() and p.islower() for p in value.split("_") if p):
        return True
    if _CAMEL.match(value) and value[:1].islower():
        return True
    return "." in value and not any(c.isdigit() for c in value) and _CAMEL.search(value) is not None
