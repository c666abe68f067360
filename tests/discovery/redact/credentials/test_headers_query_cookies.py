"""API-key headers, query parameters and cookies, table-driven, with near misses."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from discovery.redact.credentials import RequestView, detect_credentials
from discovery.redact.credentials.config import DetectorConfig
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP, assert_no_secret, detect

KEY = "Qm9vbGVhbk1hZ2ljS2V5MTIzNDU2"
UUID = str(uuid.UUID(int=0xDEADBEEF))
SHA = hashlib.sha256(b"body").hexdigest()
JWT = t.hs256_jwt({"iss": "https://idp", "client_id": "partner-7"})
GH = t.github_token(seed=3)


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("X-API-Key", KEY, "api_key"),
        ("x-api-key", UUID, "api_key"),  # a configured name: the value's shape does not matter
        ("Api-Key", KEY, "api_key"),
        ("X-Auth-Token", SHA, "api_key"),
        ("Ocp-Apim-Subscription-Key", KEY, "api_key"),
        ("X-Partner-Secret", KEY, "api_key"),  # name contains "secret", value looks random
        ("X-Service-Token", JWT, "jwt"),
        ("X-Upstream", f"forwarded {t.GOOGLE} here", "google_api_key"),
        ("X-Debug", f"Bearer {JWT}", "jwt"),
        ("X-API-Key", t.STRIPE_RESTRICTED, "stripe_key"),
    ],
)
def test_headers(name: str, value: str, kind: str) -> None:
    found = detect([(name, value)])
    assert [s.kind for s in found] == [kind]
    assert found[0].name == name and found[0].location == "header"
    assert_no_secret(
        found, value if kind == "api_key" else value.split()[-2 if " here" in value else -1]
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Request-Id", UUID),
        ("Idempotency-Key", UUID),
        ("X-Idempotency-Key", KEY),
        ("X-CSRF-Token", KEY),
        ("X-XSRF-TOKEN", KEY),
        ("X-Cache-Key", KEY),
        ("X-Trace-Token", KEY),
        ("X-Hub-Signature-256", "sha256=" + SHA),
        ("X-Sort-Key", "created_at"),
        ("X-Object-Key", SHA),  # name suggests a key, value is a digest
        ("X-Token-Type", "bearer"),
        ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("ETag", f'"{SHA}"'),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("X-Api-Key", "short"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("X-Recaptcha-Token", KEY),
        ("CF-Turnstile-Token", KEY),
    ],
)
def test_header_near_misses(name: str, value: str) -> None:
    assert detect([(name, value)]) == []


@pytest.mark.parametrize(
    ("query", "name", "kind"),
    [
        (f"api_key={KEY}", "api_key", "api_key"),
        (f"apiKey={KEY}", "apiKey", "api_key"),
        (f"access_token={JWT}", "access_token", "jwt"),
        (f"token={UUID}", "token", "api_key"),  # a configured strong name
        (f"key={t.GOOGLE}", "key", "google_api_key"),
        (f"key={KEY}", "key", "api_key"),
        (f"sig={quote('Zx8mQ2vL9pR4tW7yB1nK5cH3/+eXa=')}", "sig", "api_key"),
        (f"redirect={quote('https://x/?t=' + GH)}", "redirect", "github_token"),
        (f"client_secret={KEY}&page=2", "client_secret", "api_key"),
    ],
)
def test_query(query: str, name: str, kind: str) -> None:
    found = detect(query=query)
    assert [(s.kind, s.name, s.location) for s in found] == [(kind, name, "query")]


@pytest.mark.parametrize(
    "query",
    [
        "key=users",
        "key=42",
        f"key={UUID}",
        f"sig={SHA}",
        "token=",
        "page=2&sort=name",
        f"id={KEY}",
        "code=1234",
        "api_key=changeme",
        f"session={SHA}",
    ],
)
def test_query_near_misses(query: str) -> None:
    assert detect(query=query) == []


def test_presigned_url_is_one_sigv4_credential() -> None:
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={t.AWS_KEY_ID}%2F20261128%2F"
        f"us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T000000Z&X-Amz-Expires=900"
        f"&X-Amz-SignedHeaders=host&X-Amz-Signature={'ab' * 32}"
        f"&X-Amz-Security-Token=FwoGZXIvYXdzEJr{KEY}"
    )
    found = detect(query=query)
    assert [(s.kind, s.location, s.identity) for s in found] == [
        ("aws_sigv4", "query", f"aws:{t.AWS_KEY_ID}")
    ]
    assert dict(found[0].claims)["temporary"] is True
    assert_no_secret(found, "ab" * 32)


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("PHPSESSID=0a1b2c3d4e5f60718293a4b5c6d7e8f9", [("session_cookie", "PHPSESSID")]),
        (f"theme=dark; session={KEY}", [("session_cookie", "session")]),
        (f"connect.sid=s%3A{KEY}.abc", [("session_cookie", "connect.sid")]),
        (f"prefs=1; id_token={JWT}", [("jwt", "id_token")]),
        (f"anything={JWT}", [("jwt", "anything")]),
        (
            f'__Secure-next-auth.session-token="{KEY}"',
            [("session_cookie", "__Secure-next-auth.session-token")],
        ),
        (f"gh={GH}", [("github_token", "gh")]),
    ],
)
def test_cookies(cookie: str, expected: list[tuple[str, str]]) -> None:
    found = detect([("Cookie", cookie)])
    assert [(s.kind, s.name) for s in found] == expected
    assert all(s.location == "cookie" for s in found)


@pytest.mark.parametrize(
    "cookie",
    [
        "theme=dark; lang=en",
        f"csrftoken={KEY}",
        f"XSRF-TOKEN={KEY}",
        f"_ga={UUID}",
        "session=yes",
        "sid=12345678",
        f"cart={SHA}",
        "tracking_consent=granted",
        f"_hjSessionUser_1234={KEY}",
        f"__stripe_sid={UUID}",
        f"_hjSession_99={KEY}",
    ],
)
def test_cookie_near_misses(cookie: str) -> None:
    assert detect([("Cookie", cookie)]) == []


def test_same_credential_in_two_places_is_reported_per_place() -> None:
    found = detect([("X-API-Key", KEY), ("x-api-key", KEY)], query=f"api_key={KEY}")
    assert [(s.location, s.name) for s in found] == [("header", "X-API-Key"), ("query", "api_key")]
    assert len({s.fingerprint for s in found}) == 1
    assert found[0].fingerprint == FP(KEY)


def test_configurable_names() -> None:
    config = DetectorConfig(
        api_key_headers=frozenset({"xtenant"}), strong_query_params=frozenset({"tenantkey"})
    )
    view = RequestView(
        headers=(("X-Tenant", "abc12345"),),
        query=[("tenant_key", "zz998877")],
        host="h",
        path="/",
        method="GET",
    )
    found = detect_credentials(view, FP, config)
    assert [(s.location, s.name) for s in found] == [
        ("header", "X-Tenant"),
        ("query", "tenant_key"),
    ]
    assert detect([("X-Tenant", "abc12345")]) == []


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("acme_pk_globex_" + t.rand(28, seed=5), "acme_pk_globex_"),
        ("key-live-" + t.rand(24, seed=6), "key-live-"),
        (KEY, None),
        ("my_words_only_here", None),  # the rest is not random
    ],
)
def test_structured_key_prefix_is_kept_in_the_redacted_form(value: str, prefix: str | None) -> None:
    (sighting,) = detect([("X-API-Key", value)])
    assert sighting.public_id == prefix
    assert sighting.redacted.startswith(prefix or "…")
    assert_no_secret([sighting], value)


def test_sigv2_presigned_url_is_one_credential_per_key() -> None:
    urls = [
        f"AWSAccessKeyId={t.AWS_KEY_ID}&Expires={e}&Signature={quote(sig)}"
        for e, sig in (
            ("1790000000", "vjbyPxybdZaNmGa+yT272YEAiv4="),
            ("1790000900", "Zx8mQ2vL9pR4tW7yB1nK5cH3dF6=="),
        )
    ]
    found = [detect(query=q) for q in urls]
    assert [[(s.kind, s.name, s.identity) for s in f] for f in found] == [
        [("aws_sigv2", "AWSAccessKeyId", f"aws:{t.AWS_KEY_ID}")]
    ] * 2
    assert found[0][0].fingerprint == found[1][0].fingerprint


@pytest.fixture
def site_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point IR_CONSOLE_CREDENTIAL_NAMES at a file; the per-process cache is reset around it."""
    from discovery.redact.credentials.config import CONFIG_ENV, site_config

    path = tmp_path / "names.yaml"
    monkeypatch.setenv(CONFIG_ENV, str(path))
    site_config.cache_clear()
    try:
        yield path
    finally:
        site_config.cache_clear()


def test_site_names_extend_the_defaults(site_names: Path) -> None:
    site_names.write_text(
        "api_key_headers: [X-Tenant-Pass]\nquery_params: [tenant_pass]\n"
        "not_credential_headers: [X-Partner-Secret]\n"
    )
    found = detect(
        [("X-Tenant-Pass", "abc12345"), ("X-Partner-Secret", KEY)], query="tenant_pass=zz998877"
    )
    assert [(s.location, s.name) for s in found] == [
        ("header", "X-Tenant-Pass"),
        ("query", "tenant_pass"),
    ]
    assert detect([("X-API-Key", KEY)])  # the defaults still hold


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api_key_header: [X-A]\n", "(/api_key_header): unknown key 'api_key_header'"),
        ("api_key_headers: X-A\n", "(/api_key_headers): expected a list of names"),
        ("[1, 2]\n", "expected a mapping of name lists"),
        ("api_key_headers: [\n", "(line 2): not valid YAML"),
        ("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*c]\n", "(line 3): not valid YAML"),
        ("api_key_headers: " + "[" * 200 + "]" * 200 + "\n", "nested deeper than 128"),
    ],
)
def test_bad_site_names_name_the_file(site_names: Path, text: str, message: str) -> None:
    from discovery.errors import InputError

    site_names.write_text(text)
    with pytest.raises(InputError) as info:
        detect([("X-API-Key", KEY)])
    assert str(site_names) in str(info.value) and message in str(info.value)
