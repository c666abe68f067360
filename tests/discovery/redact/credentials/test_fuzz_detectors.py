"""Hostile requests: whatever the headers, query and cookies hold, detection never raises and what
it keeps is JSON-plain, displayable and free of the raw value."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discovery.redact.credentials import RequestView, detect_credentials
from discovery.timeutil import iso
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP

NAMES = st.sampled_from(
    [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "X-API-Key",
        "X-Auth-Token",
        "X-Secret",
        "User-Agent",
        "X-Amz-Security-Token",
        "X-Whatever",
    ]
) | st.text(max_size=20)
SCHEMES = st.sampled_from(
    ["Bearer ", "Basic ", "token ", "Digest ", "AWS4-HMAC-SHA256 ", "Negotiate ", "", "SSWS "]
)
PIECES = st.sampled_from(
    [
        t.hs256_jwt({"sub": "x", "exp": 1e300}),
        t.github_token(),
        t.GOOGLE,
        t.STRIPE_LIVE,
        t.AWS_KEY_ID,
        "eyJ",
        ".",
        "=",
        ";",
        ",",
        "Credential=",
        'username="',
        base64.b64encode(b"u:p").decode(),
        "%00",
        "\x1b[31m",
    ]
)
VALUES = st.builds(
    lambda s, parts, text: s + "".join(parts) + text,
    SCHEMES,
    st.lists(PIECES, max_size=4),
    st.text(max_size=60),
)
QUERY = st.lists(
    st.tuples(
        st.sampled_from(
            ["api_key", "key", "token", "sig", "X-Amz-Credential", "X-Amz-Algorithm", "q"]
        ),
        VALUES,
    ),
    max_size=4,
)


def check(headers: list[tuple[str, str]], query: list[tuple[str, str]]) -> None:
    view = RequestView(headers=tuple(headers), query=query, host="h", path="/", method="GET")
    for sighting in detect_credentials(view, FP):
        json.dumps(dict(sighting.claims), allow_nan=False)
        iso(sighting.issued_at)
        iso(sighting.expires_at)
        assert len(sighting.fingerprint) == 64
        assert isinstance(sighting.redacted, str)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), QUERY)
def test_detection_never_raises(
    headers: list[tuple[str, str]], query: list[tuple[str, str]]
) -> None:
    check(headers, query)


@pytest.mark.fuzz
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(NAMES, VALUES), max_size=10), QUERY)
def test_fuzz_detection_never_raises(
    headers: list[tuple[str, str]], query: list[tuple[str, str]]
) -> None:
    check(headers, query)
