"""Which header, query-parameter and cookie names carry credentials (configurable defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache

# Detectors memoise per (name, value): header and query values recur on every request. Longer
# values are detected afresh (the memos stay small, in process memory only).
MEMO_MAX_VALUE = 2048


def squash(name: str) -> str:
    """A name compared loosely: lower case without ``-``, ``_`` and ``.`` (api_key == Api-Key).
    (Three ``replace`` calls: ``str.translate`` with a table looks up every character in a
    dict, three times slower on the names of every header and parameter.)"""
    return name.lower().replace("-", "").replace("_", "").replace(".", "")


_API_KEY_HEADERS = (
    "X-API-Key",
    "Api-Key",
    "ApiKey",
    "X-Auth-Token",
    "X-Access-Token",
    "X-API-Token",
    "X-Token",
    "Private-Token",
    "X-Goog-Api-Key",
    "Ocp-Apim-Subscription-Key",
    "X-Functions-Key",
    "X-Shopify-Access-Token",
    "X-Vault-Token",
    "X-Auth-Key",
    "X-Secret-Key",
    "X-Client-Secret",
    "X-Session-Token",
    "X-Amz-Api-Key",
    "X-Dd-Api-Key",
    "X-Algolia-Api-Key",
    "X-Figma-Token",
    "X-Postmark-Server-Token",
    "X-RapidAPI-Key",
    "Authentication",
)
# Header names that contain "key"/"token"/"auth" but carry no reusable credential.
_NOT_CREDENTIAL_HEADERS = (
    "captcha",
    "turnstile",
    "csrf",
    "xsrf",
    "idempotency",
    "request",
    "trace",
    "correlation",
    "cache",
    "nonce",
    "signature",
    "amzcontentsha256",
    "amzdate",
    "amzsecuritytoken",
    "amzcredential",
    "wwwauthenticate",
    "authenticationinfo",
    "authorization",
    "proxyauthorization",
    "proxyauthenticate",
    "keepalive",
    "amzsignature",
    "pagetoken",
    "continuationtoken",
    "nextpagetoken",
    "synctoken",
    "etag",
    "secwebsocketkey",
    "secwebsocketaccept",
)
_STRONG_QUERY = (
    "api_key",
    "apikey",
    "api-key",
    "access_token",
    "auth_token",
    "token",
    "client_secret",
    "secret",
    "password",
    "passwd",
    "pwd",
    "id_token",
    "refresh_token",
    "private_token",
    "subscription-key",
    "jwt",
    "bearer",
    "session_token",
    "sessionid",
    "x-api-key",
    "app_key",
    "appkey",
    "secret_key",
)
_WEAK_QUERY = ("key", "sig", "signature", "auth", "code", "session", "sid", "hash")
# Request-body fields (form, JSON, multipart) that carry a secret: OAuth 2.0 token requests
# (RFC 6749, 7521/7523 assertions, 8693 token exchange), login forms and API-key bodies.
_BODY_FIELDS = (
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "refresh_token",
    "access_token",
    "id_token",
    "api_key",
    "apikey",
    "api_token",
    "auth_token",
    "token",
    "secret",
    "secret_key",
    "private_token",
    "session_token",
    "assertion",
    "client_assertion",
    "subject_token",
    "actor_token",
    "device_code",
)
_SESSION_COOKIES = (
    "JSESSIONID",
    "PHPSESSID",
    "ASP.NET_SessionId",
    "ASPSESSIONID",
    "connect.sid",
    "sid",
    "sessionid",
    "session",
    "session_id",
    "_session_id",
    "laravel_session",
    "ci_session",
    "access_token",
    "auth_token",
    "id_token",
    "refresh_token",
    "jwt",
    "token",
    "auth",
    "api_key",
    "apikey",
    "api_token",
)


@dataclass(frozen=True)
class DetectorConfig:
    """Name lists the detectors use; pass your own to ``detect_credentials`` to change them."""

    api_key_headers: frozenset[str] = field(
        default_factory=lambda: frozenset(squash(n) for n in _API_KEY_HEADERS)
    )
    not_credential_headers: tuple[str, ...] = _NOT_CREDENTIAL_HEADERS
    header_words: tuple[str, ...] = ("key", "token", "secret", "auth", "passw", "credential")
    # a header name ending in "api" names the API it opens (``X-JFrog-Art-Api``)
    header_suffixes: tuple[str, ...] = ("api",)
    strong_query_params: frozenset[str] = field(
        default_factory=lambda: frozenset(squash(n) for n in _STRONG_QUERY)
    )
    weak_query_params: frozenset[str] = field(
        default_factory=lambda: frozenset(squash(n) for n in _WEAK_QUERY)
    )
    session_cookies: frozenset[str] = field(
        default_factory=lambda: frozenset(squash(n) for n in _SESSION_COOKIES)
    )
    cookie_words: tuple[str, ...] = ("sess", "token", "auth", "jwt", "apikey")
    body_fields: frozenset[str] = field(
        default_factory=lambda: frozenset(squash(n) for n in _BODY_FIELDS)
    )
    # Analytics and preference cookies whose names contain "sess"/"sid" but hold no credential.
    not_credential_cookies: tuple[str, ...] = (
        "csrf",
        "xsrf",
        "consent",
        "pref",
        "theme",
        "lang",
        "hjsession",
        "ampsession",
        "analytics",
        "stripesid",
        "stripemid",
        "optimizely",
        "tracking",
    )

    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # the memoised detectors hash the config on every call: hash the name lists once
        values = tuple(getattr(self, f.name) for f in fields(self) if f.init)
        object.__setattr__(self, "_hash", hash(values))

    def __hash__(self) -> int:
        return self._hash

    def is_api_key_header(self, name: str) -> bool:
        return squash(name) in self.api_key_headers

    def maybe_credential_header(self, name: str) -> bool:
        """A header whose name suggests a credential (the value must still look secret)."""
        return _maybe_credential_header(self, name)

    def _maybe_credential_header(self, name: str) -> bool:
        squashed = squash(name)
        if any(bad in squashed for bad in self.not_credential_headers):
            return False
        return any(word in squashed for word in self.header_words) or squashed.endswith(
            self.header_suffixes
        )

    def is_session_cookie(self, name: str) -> bool:
        squashed = squash(name)
        if any(bad in squashed for bad in self.not_credential_cookies):
            return False
        if squashed in self.session_cookies or squashed.endswith("sid"):
            return True
        return any(word in squashed for word in self.cookie_words)


DEFAULT_CONFIG = DetectorConfig()


# Header names recur on every request: classify each (config, name) once.
_maybe_credential_header = lru_cache(maxsize=4096)(DetectorConfig._maybe_credential_header)


# ---------------------------------------------------------------- site configuration

CONFIG_ENV = "IR_CONSOLE_CREDENTIAL_NAMES"
_EXTENDABLE = {
    "api_key_headers": "api_key_headers",
    "query_params": "strong_query_params",
    "weak_query_params": "weak_query_params",
    "session_cookies": "session_cookies",
    "body_fields": "body_fields",
}
_EXCLUDABLE = {
    "not_credential_headers": "not_credential_headers",
    "not_credential_cookies": "not_credential_cookies",
}


def extended(base: DetectorConfig, raw: object, source: str) -> DetectorConfig:
    """``base`` with the names of a mapping added (``api_key_headers``, ``query_params``,
    ``weak_query_params``, ``session_cookies``, ``body_fields``; ``not_credential_headers``/``_cookies`` add
    name fragments that are never credentials). Bad input raises InputError naming ``source``."""
    from discovery.errors import InputError

    if not isinstance(raw, dict):
        raise InputError(source, "expected a mapping of name lists (api_key_headers, ...)")
    changes: dict[str, object] = {}
    for key, value in raw.items():
        if key not in _EXTENDABLE and key not in _EXCLUDABLE:
            known = ", ".join([*_EXTENDABLE, *_EXCLUDABLE])
            raise InputError(source, f"unknown key {str(key)[:40]!r}; use {known}", f"/{key}")
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InputError(source, "expected a list of names", f"/{key}")
        if key in _EXTENDABLE:
            field_name = _EXTENDABLE[key]
            current: frozenset[str] = getattr(base, field_name)
            changes[field_name] = current | {squash(v) for v in value}
        else:
            field_name = _EXCLUDABLE[key]
            changes[field_name] = (*getattr(base, field_name), *(squash(v) for v in value))
    return replace(base, **changes)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def site_config() -> DetectorConfig:
    """The defaults, extended by the YAML/JSON file named in ``IR_CONSOLE_CREDENTIAL_NAMES``
    (read once per process, so the pipeline and the proxy agree on what a credential is)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return DEFAULT_CONFIG
    import yaml

    from discovery import boundedyaml
    from discovery.errors import InputError

    try:
        with open(path, encoding="utf-8") as handle:
            raw = boundedyaml.safe_load(handle.read())  # aliases and nesting bounded
    except OSError as exc:
        raise InputError(path, f"cannot read ({CONFIG_ENV}): {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({CONFIG_ENV})", f"byte {exc.start}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None)
        detail = f": {problem}" if problem else ""
        raise InputError(path, f"not valid YAML ({CONFIG_ENV}){detail}", where) from exc
    return extended(DEFAULT_CONFIG, raw, path)
