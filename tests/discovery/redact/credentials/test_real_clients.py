"""Every credential kind sent by a real client (curl, httpx, botocore's SigV4 signer) to a loopback
server, run through the pipeline into a real case: kind, identity, claims, redacted form, and no
raw secret anywhere in what is stored."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.redact.convert import to_exchange
from discovery.redact.credentials.sigv4 import account_id_from_key_id
from discovery.views import queries
from tests.conftest import require_tool
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.recording import Recorder, recording_server

pytestmark = pytest.mark.integration  # starts processes or servers

JWT = t.hs256_jwt(
    {
        "iss": "https://idp.acme.example",
        "sub": "svc-billing",
        "aud": "api",
        "client_id": "billing-app",
        "scope": "orders:read invoices:read",
        "iat": 1_790_000_000,
        "exp": 1_790_000_000 + 30 * 86400,
        "jti": "j-1",
    }
)
CLIENT_JWT = t.hs256_jwt({"iss": "https://idp.acme.example", "azp": "partner-7", "scp": ["a"]})
OPAQUE = "Zx8mQ2vL9pR4tW7yB1nK5cH3dF6g"
QUERY_KEY = "rk" + t.rand(30, seed=37)
GH = t.github_token(seed=31)
API_KEY = "acme_pk_globex_" + t.rand(28, seed=32)
SESSION = "s%3A" + t.rand(32, seed=33)
PASSWORD = "Pw-" + t.rand(14, seed=34)
AWS_SECRET = t.rand(40, seed=35)
AWS_SESSION_TOKEN = "FwoGZXIvYXdzE" + t.rand(60, seed=36)


def curl(*args: str) -> None:
    exe = require_tool("curl")
    # no environment proxy, except the one a test names with -x
    bypass = [] if "-x" in args else ["--noproxy", "*"]
    subprocess.run(
        [exe, "-s", "-o", "/dev/null", *bypass, "--max-time", "10", *args],
        check=True,
        timeout=20,
        env={"PATH": "/usr/bin:/bin"},
    )


def boto_s3(url: str, key_id: str, session_token: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=AWS_SECRET,
        aws_session_token=session_token,
        config=Config(
            signature_version="s3v4", retries={"max_attempts": 1}, s3={"addressing_style": "path"}
        ),
    )


Case = tuple[Callable[[str], None], dict[str, Any], list[str]]

CASES: dict[str, Case] = {
    "bearer jwt (httpx)": (
        lambda u: httpx.get(f"{u}/v1/orders", headers={"Authorization": f"Bearer {JWT}"}),
        {
            "kind": "jwt",
            "identity": "jwt:https://idp.acme.example|svc-billing",
            "redacted": f"eyJ…{JWT[-4:]}",
            "claims": {
                "sub": "svc-billing",
                "client_id": "billing-app",
                "scope": "orders:read invoices:read",
                "lifetime": 30 * 86400,
                "jti": "j-1",
            },
            "expires_at": "2026-10-21T14:13:20Z",
        },
        [JWT, JWT.split(".")[2]],
    ),
    "bearer jwt with client id only (curl)": (
        lambda u: curl("-H", f"Authorization: Bearer {CLIENT_JWT}", f"{u}/v1/catalog"),
        {"kind": "jwt", "identity": "client:https://idp.acme.example|partner-7"},
        [CLIENT_JWT],
    ),
    "bearer opaque (httpx)": (
        lambda u: httpx.get(f"{u}/v1/me", headers={"Authorization": f"Bearer {OPAQUE}"}),
        {"kind": "bearer", "redacted": f"…{OPAQUE[-4:]}"},
        [OPAQUE],
    ),
    "github token scheme (curl)": (
        lambda u: curl("-H", f"Authorization: token {GH}", f"{u}/repos/acme/app"),
        {
            "kind": "github_token",
            "redacted": f"ghp_…{GH[-4:]}",
            "claims": {"provider": "github", "prefix": "ghp_"},
        },
        [GH],
    ),
    "basic (curl -u)": (
        lambda u: curl("-u", f"batch-export:{PASSWORD}", f"{u}/v1/export"),
        {
            "kind": "basic",
            "identity": "basic:batch-export@127.0.0.1:{port}",
            "redacted": "batch-export:…",
        },
        [PASSWORD, base64.b64encode(f"batch-export:{PASSWORD}".encode()).decode()],
    ),
    "stripe key as basic user (curl -u key:)": (
        lambda u: curl("-u", f"{t.STRIPE_TEST}:", f"{u}/v1/charges"),
        {
            "kind": "stripe_key",
            "redacted": f"sk_test_…{t.STRIPE_TEST[-4:]}",
            "claims": {"mode": "test"},
        },
        [t.STRIPE_TEST],
    ),
    "proxy-authorization (curl --proxy-user)": (
        lambda u: curl(
            "-x", u, "--proxy-user", f"proxy-svc:{PASSWORD}", "http://upstream.invalid/v1/ping"
        ),
        {
            "kind": "basic",
            "identity": "basic:proxy-svc@upstream.invalid",
            "redacted": "proxy-svc:…",
        },
        [PASSWORD],
    ),
    "digest (httpx.DigestAuth)": (
        lambda u: httpx.get(f"{u}/digest/v1/status", auth=httpx.DigestAuth("ops-bot", PASSWORD)),
        {
            "kind": "digest",
            "identity": "digest:ops-bot@127.0.0.1:{port}",
            "claims": {"realm": "ir-test", "username": "ops-bot"},
        },
        [PASSWORD],
    ),
    "api-key header (httpx)": (
        lambda u: httpx.get(f"{u}/v1/orders", headers={"X-API-Key": API_KEY}),
        {"kind": "api_key", "redacted": f"acme_pk_globex_…{API_KEY[-4:]}"},
        [API_KEY],
    ),
    "api key in query (httpx params)": (
        lambda u: httpx.get(f"{u}/v1/reports", params={"api_key": QUERY_KEY, "date": "2026-11-27"}),
        {"kind": "api_key", "location": "query", "name": "api_key"},
        [QUERY_KEY],
    ),
    "google key in query (curl)": (
        lambda u: curl(f"{u}/maps/api/geocode/json?address=x&key={t.GOOGLE}"),
        {"kind": "google_api_key", "location": "query", "redacted": f"AIza…{t.GOOGLE[-4:]}"},
        [t.GOOGLE],
    ),
    "session cookie (httpx cookies)": (
        lambda u: httpx.Client(cookies={"connect.sid": SESSION, "theme": "dark"}).get(f"{u}/app"),
        {"kind": "session_cookie", "location": "cookie", "name": "connect.sid"},
        [SESSION],
    ),
    "jwt cookie (curl -b)": (
        lambda u: curl("-b", f"id_token={JWT}; lang=en", f"{u}/app"),
        {
            "kind": "jwt",
            "location": "cookie",
            "identity": "jwt:https://idp.acme.example|svc-billing",
        },
        [JWT],
    ),
    "slack bot token (httpx)": (
        lambda u: httpx.post(
            f"{u}/api/chat.postMessage",
            headers={"Authorization": f"Bearer {t.SLACK_BOT}"},
            json={"text": "hi"},
        ),
        {"kind": "slack_token", "redacted": f"xoxb-…{t.SLACK_BOT[-4:]}"},
        [t.SLACK_BOT],
    ),
    "aws sigv4 header (botocore signer)": (
        lambda u: boto_s3(u, t.AWS_KEY_ID, None).list_buckets(),
        {
            "kind": "aws_sigv4",
            "identity": f"aws:{t.AWS_KEY_ID}",
            "redacted": t.AWS_KEY_ID,
            "claims": {
                "region": "eu-west-1",
                "service": "s3",
                "temporary": False,
                "account_id": account_id_from_key_id(t.AWS_KEY_ID),
            },
        },
        [AWS_SECRET],
    ),
    "aws sigv4 temporary (botocore signer + session token)": (
        lambda u: boto_s3(u, t.AWS_TEMP_KEY_ID, AWS_SESSION_TOKEN).list_buckets(),
        {
            "kind": "aws_sigv4",
            "identity": f"aws:{t.AWS_TEMP_KEY_ID}",
            "claims": {"temporary": True},
        },
        [AWS_SECRET, AWS_SESSION_TOKEN],
    ),
    "aws presigned url (botocore presign, httpx GET)": (
        lambda u: httpx.get(
            boto_s3(u, t.AWS_TEMP_KEY_ID, AWS_SESSION_TOKEN).generate_presigned_url(
                "get_object", Params={"Bucket": "reports", "Key": "q4.csv"}, ExpiresIn=300
            )
        ),
        {
            "kind": "aws_sigv4",
            "location": "query",
            "name": "X-Amz-Credential",
            "claims": {"temporary": True, "service": "s3", "region": "eu-west-1"},
        },
        [AWS_SECRET, AWS_SESSION_TOKEN],
    ),
}


def _ingest(case_path: Path, recorder: Recorder) -> list[dict[str, Any]]:
    with Store.open(case_path) as store:
        store.add_exchanges([to_exchange(o, store.fingerprint) for o in recorder.observed()])
        recompute(store)
        return queries.credentials(store)


@pytest.mark.parametrize("name", list(CASES))
def test_real_client(name: str, case_path: Path) -> None:
    send, expected, secrets = CASES[name]
    with recording_server() as recorder:
        send(recorder.url)
        port = recorder.port
    assert recorder.requests, "the client sent nothing"
    creds = _ingest(case_path, recorder)
    assert len(creds) == 1, [c["kind"] for c in creds]
    cred = creds[0]
    assert cred["kind"] == expected["kind"]
    for key in ("identity", "redacted", "expires_at"):
        if key in expected:
            assert cred[key] == expected[key].replace("{port}", str(port))
    for claim, value in expected.get("claims", {}).items():
        assert cred["claims"][claim] == value, claim
    if "location" in expected or "name" in expected:
        with Store.open(case_path) as store:
            location, where = store.conn.execute(
                "SELECT location, name FROM exchange_credentials"
            ).fetchone()
        assert location == expected.get("location", location)
        assert where == expected.get("name", where)
    with Store.open(case_path) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = case_path.read_bytes()
    for secret in secrets:
        assert secret.encode() not in data
        assert secret not in repr(cred)
