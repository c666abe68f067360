"""Credentials in request bodies: form (``application/x-www-form-urlencoded``), JSON and
multipart fields, read from the kept body prefix as leniently as the servers that take them.

An OAuth 2.0 token request posts its ``client_secret``, ``refresh_token``, ``assertion`` or
``password`` in a form body (RFC 6749 section 4, RFC 7523, RFC 8693); APIs take ``api_key`` and
``token`` in JSON. Fields named in ``DetectorConfig.body_fields`` are credentials whatever their
shape (a password can be a word); any other field holding a JWT or a provider key is one too.
A prefix cut inside a value still yields the fields before it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from discovery.models import CredentialSighting
from discovery.redact.credentials import found
from discovery.redact.credentials.config import DEFAULT_CONFIG, DetectorConfig, squash
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.headers import embedded
from discovery.redact.credentials.providers import may_hold_key
from discovery.redact.credentials.shape import near_miss
from discovery.wire.paths import query_pairs

MAX_FIELDS = 512  # fields read per body (a hostile body holds millions)
MAX_VALUE = 8192  # longer values are data, not credentials
MIN_SECRET = 8  # a named field's value shorter than this is a flag or an id, not a key
# Passwords are secrets at any length a login form accepts.
_PASSWORD_FIELDS = frozenset({"password", "passwd", "pwd", "passphrase"})
# A cheap test before any parsing: the body names a credential-like field, or holds a JWT or a
# documented key prefix (most bodies do neither). Site-configured names skip the test. The words
# are looked for in the lower-cased body with ``in`` (a fast substring search): a case-insensitive
# alternation tries every word at every position, about 350 ns a byte (15 ms for a 44 KB body).
GATE_WORDS = (
    b"secret",
    b"passw",
    b"pwd",
    b"passphrase",
    b"token",
    b"key",
    b"assertion",
    b"credential",
    b"auth",
)


def names_credential(body: bytes) -> bool:
    """Whether a body holds a credential-like word (any case, ASCII) that may name a field."""
    lowered = body.lower()  # find, not ``in``: bytes' ``in`` first tries the word as an int
    return any(lowered.find(word) >= 0 for word in GATE_WORDS)


# "name": "value" pairs anywhere in JSON text, also in a prefix cut short (no full parse needed)
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.){1,128})"\s*:\s*"((?:[^"\\]|\\.){0,8192})"')
_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,200})"|([^\s;,]{1,200}))', re.IGNORECASE)
_PART_NAME = re.compile(r'\bname="([^"]{1,128})"', re.IGNORECASE)


def media_type(content_type: str | None) -> str:
    """The lower-case media type of a Content-Type value (``application/json``)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    try:
        value = json.loads(f'"{text}"')
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def json_fields(text: str) -> list[tuple[str, str]]:
    """String fields of a JSON document (at any depth), as (key, value)."""
    out = []
    for match in _JSON_PAIR.finditer(text):
        out.append((_unescape(match.group(1)), _unescape(match.group(2))))
        if len(out) >= MAX_FIELDS:
            break
    return out


def form_fields(text: str) -> list[tuple[str, str]]:
    """Fields of a form-urlencoded body."""
    return query_pairs(text.strip())[:MAX_FIELDS]


def multipart_fields(text: str, content_type: str) -> list[tuple[str, str]]:
    """Text fields of a ``multipart/form-data`` body (file parts are skipped)."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        return []
    delimiter = "--" + (match.group(1) or match.group(2))
    out = []
    for part in text.split(delimiter)[1 : MAX_FIELDS + 1]:
        head, sep, value = part.partition("\r\n\r\n")
        if not sep:
            head, sep, value = part.partition("\n\n")
        name = _PART_NAME.search(head)
        if not sep or name is None or "filename=" in head.lower():
            continue
        out.append((name.group(1), value.removesuffix("\r\n").removesuffix("\n")))
    return out


def body_fields(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    """The (name, value) fields of a request body prefix: by its Content-Type, else by its look
    (a JSON object, or ``name=value&…``): clients mislabel bodies and servers read them anyway."""
    if not body:
        return []
    text = body.decode("utf-8", "replace")
    kind = media_type(content_type)
    if kind.startswith("multipart/"):
        return multipart_fields(text, content_type or "")
    if kind == "application/x-www-form-urlencoded":
        return form_fields(text)
    if "json" in kind:
        return json_fields(text)
    start = text.lstrip()[:1]
    if start in ("{", "["):
        return json_fields(text)
    if "=" in text and "\n" not in text.strip() and " " not in text.strip():
        return form_fields(text)
    return []


def detect(
    body: bytes, content_type: str | None, fp: Fingerprint, config: DetectorConfig
) -> list[CredentialSighting]:
    """Credentials in a request body prefix."""
    if not body:
        return []
    if (
        config is DEFAULT_CONFIG
        and not names_credential(body)
        and b"eyJ" not in body
        and not may_hold_key(body.decode("utf-8", "replace"))
    ):
        return []  # no credential-like field name, no JWT, no documented key prefix
    fields = body_fields(body, content_type)
    if not fields:  # not a body of fields (plain text, XML): keys and JWTs anywhere in it
        return in_text(body, fp)
    return detect_fields(fields, "body", fp, config)


def detect_fields(
    fields: Iterable[tuple[str, str]], location: str, fp: Fingerprint, config: DetectorConfig
) -> list[CredentialSighting]:
    """Credentials among named values (a body's fields, a GraphQL call's variables and string
    arguments): a credential-named field's value whatever its shape, else keys and JWTs in it."""
    out: list[CredentialSighting] = []
    for name, raw in fields:
        value = raw.strip()
        if not value or len(value) > MAX_VALUE:
            continue
        squashed = squash(name)
        if squashed in config.body_fields and (
            squashed in _PASSWORD_FIELDS
            or found.recognised(value)
            or (len(value) >= MIN_SECRET and near_miss(value) not in ("words", "number"))
        ):
            out.append(found.token(fp, value, location, name, _kind(squashed)))
        else:
            out.extend(embedded(value, location, name, fp))
    return out


def in_text(body: bytes, fp: Fingerprint) -> list[CredentialSighting]:
    """Provider keys and JWTs anywhere in a body's text."""
    return embedded(body.decode("utf-8", "replace"), "body", "body", fp)


def _kind(squashed: str) -> str:
    """The kind of an opaque credential by the field that carried it."""
    if squashed in _PASSWORD_FIELDS:
        return "password"
    if squashed == "clientsecret":
        return "client_secret"
    if squashed in ("refreshtoken", "accesstoken", "idtoken", "subjecttoken", "actortoken"):
        return squashed.removesuffix("token") + "_token"
    return "api_key"
