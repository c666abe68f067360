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
TAB_TOKEN = "Tb7" + t.rand(29, seed=38)
CLIENT_SECRET = t.rand(3, seed=39) + "8Q~" + t.rand(34, t.ALNUM + "_-.~", seed=40)
JSON_KEY = t.rand(32, seed=41)
FORM_TOKEN = "mp_" + t.rand(30, seed=42)
TELEGRAM = "7213808860:AA" + t.rand(33, t.ALNUM + "_-", seed=43)
SLACK_HOOK = t.rand(24, seed=44)
PD_TOKEN = t.rand(20, t.ALNUM + "+", seed=45)
PSCALE = "pscale_tkn_" + t.rand(43, seed=46)
HF = "hf_" + t.rand(34, t.string.ascii_letters, seed=47)
COOKIE_KEY = t.rand(36, seed=48)
JFROG = t.rand(64, seed=49)
MINIO_SECRET = t.rand(40, seed=50)


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


def boto_s3(url: str, key_id: str, session_token: str | None, secret: str = AWS_SECRET) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
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
    "sigv4 to an S3-compatible store (botocore signer, MinIO-style key id)": (
        lambda u: boto_s3(u, "ci-uploader", None, MINIO_SECRET).list_buckets(),
        {
            "kind": "aws_sigv4",
            "identity": "sigv4:ci-uploader@127.0.0.1:{port}",
            "redacted": "ci-uploader",
            "claims": {"store": "s3-compatible", "service": "s3", "region": "eu-west-1"},
        },
        [MINIO_SECRET],
    ),
    "bearer after a tab (curl)": (
        lambda u: curl("-H", f"Authorization: Bearer\t{TAB_TOKEN}", f"{u}/v1/me"),
        {"kind": "bearer", "redacted": f"…{TAB_TOKEN[-4:]}"},
        [TAB_TOKEN],
    ),
    "client secret in a form body (httpx)": (
        lambda u: httpx.post(
            f"{u}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "app-1",
                "client_secret": CLIENT_SECRET,
            },
        ),
        {
            "kind": "azure_client_secret",
            "location": "body",
            "name": "client_secret",
            "claims": {"provider": "azure"},
        },
        [CLIENT_SECRET],
    ),
    "api key in a JSON body (httpx)": (
        lambda u: httpx.post(
            f"{u}/v1/search", json={"query": "x", "auth": {"api_key": JSON_KEY}, "limit": 5}
        ),
        {"kind": "api_key", "location": "body", "name": "api_key"},
        [JSON_KEY],
    ),
    "token in a multipart field (curl -F)": (
        lambda u: curl(
            "-F", "file=hello;filename=notes.txt", "-F", f"token={FORM_TOKEN}", f"{u}/v1/upload"
        ),
        {"kind": "api_key", "location": "body", "name": "token", "redacted": f"…{FORM_TOKEN[-4:]}"},
        [FORM_TOKEN],
    ),
    "telegram bot token in the path (httpx)": (
        lambda u: httpx.get(f"{u}/bot{TELEGRAM}/getMe"),
        {
            "kind": "telegram_bot_token",
            "location": "path",
            "redacted": f"{TELEGRAM.split(':')[0]}:…{TELEGRAM[-4:]}",
        },
        [TELEGRAM, TELEGRAM.split(":")[1]],
    ),
    "slack webhook url (curl)": (
        lambda u: curl(
            "-X", "POST", "-d", '{"text":"x"}', f"{u}/services/T0ACME123/B0HOOK456/{SLACK_HOOK}"
        ),
        {"kind": "webhook_url", "location": "path", "claims": {"provider": "slack"}},
        [SLACK_HOOK],
    ),
    "pagerduty Token token= (curl)": (
        lambda u: curl("-H", f"Authorization: Token token={PD_TOKEN}", f"{u}/incidents"),
        {"kind": "token", "redacted": f"…{PD_TOKEN[-4:]}"},
        [PD_TOKEN],
    ),
    "id:token without a scheme (curl)": (
        lambda u: curl("-H", f"Authorization: fo57eya1lvvh:{PSCALE}", f"{u}/v1/organizations"),
        {"kind": "planetscale_token", "claims": {"key_id": "fo57eya1lvvh"}},
        [PSCALE],
    ),
    "letter-only token in the query (httpx)": (
        lambda u: httpx.get(f"{u}/api/models", params={"access_token": HF}),
        {"kind": "huggingface_token", "location": "query", "redacted": f"hf_…{HF[-4:]}"},
        [HF],
    ),
    "api_key cookie (curl -b)": (
        lambda u: curl("-b", f"lang=en; api_key={COOKIE_KEY}", f"{u}/dashboard"),
        {"kind": "session_cookie", "location": "cookie", "name": "api_key"},
        [COOKIE_KEY],
    ),
    "header naming an api (X-JFrog-Art-Api)": (
        lambda u: httpx.get(
            f"{u}/artifactory/api/repositories", headers={"X-JFrog-Art-Api": JFROG}
        ),
        {"kind": "api_key", "name": "X-JFrog-Art-Api"},
        [JFROG],
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
