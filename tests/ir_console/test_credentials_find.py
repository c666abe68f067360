"""``credentials find``: found / not found / bulk, and the secret never appears in any output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from ir_console.cli import cli
from tests.discovery.redact.credentials import tokens as t

API_KEY = "acme_pk_globex_" + t.rand(28, seed=21)
GH = t.github_token(seed=22)
PASSWORD = "Export-" + t.rand(12, seed=23)
NEVER_SEEN = t.STRIPE_LIVE
AWS_SECRET = t.rand(40, seed=24)
SIGV4 = (
    f"AWS4-HMAC-SHA256 Credential={t.AWS_KEY_ID}/20261128/eu-west-1/s3/aws4_request, "
    f"SignedHeaders=host, Signature={'ab' * 32}"
)


def run(case: Path, args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--db", str(case), *args], input=stdin, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def case(case_path: Path) -> Path:
    with Store.open(case_path) as store:
        observed = [
            ObservedExchange(
                ts=1_790_000_000.0 + i,
                source="pcap",
                evidence=f"frames {i}",
                client_ip=ip,
                method="GET",
                target="/v1/orders",
                host="api.acme.example",
                status=200,
                request_headers=headers,
            )
            for i, (ip, headers) in enumerate(
                [
                    ("10.0.0.5", (("X-API-Key", API_KEY),)),
                    ("10.0.0.9", (("X-API-Key", API_KEY),)),
                    ("10.0.0.7", (("Authorization", f"token {GH}"),)),
                    (
                        "10.0.0.8",
                        (
                            (
                                "Authorization",
                                "Basic "
                                + base64.b64encode(f"batch-export:{PASSWORD}".encode()).decode(),
                            ),
                        ),
                    ),
                    ("10.0.0.4", (("Authorization", SIGV4),)),
                ]
            )
        ]
        store.add_exchanges([to_exchange(o, store.fingerprint) for o in observed])
        recompute(store)
    return case_path


def assert_clean(*outputs: str) -> None:
    for out in outputs:
        for secret in (API_KEY, GH, PASSWORD, NEVER_SEEN):
            assert secret not in out
            assert base64.b64encode(secret.encode()).decode() not in out


def test_found_from_stdin(case: Path) -> None:
    code, out, err = run(case, ["credentials", "find", "--stdin", "--json"], API_KEY + "\n")
    assert code == 0
    doc = json.loads(out)
    assert doc["found"] is True
    cred = doc["credential"]
    assert cred["kind"] == "api_key" and cred["redacted"].startswith("acme_pk_globex_…")
    assert cred["requests"] == 2 and cred["sources"] == ["10.0.0.5", "10.0.0.9"]
    # same shape as `credentials --json`
    code, listing, _ = run(case, ["credentials", "--json"])
    assert cred in json.loads(listing)
    assert_clean(out, err)


@pytest.mark.parametrize("pasted", [f"token {GH}", f"Authorization: token {GH}", f"  {GH}  "])
def test_found_when_pasted_with_header_or_scheme(case: Path, pasted: str) -> None:
    _, out, err = run(case, ["credentials", "find", "--stdin", "--json"], pasted)
    assert json.loads(out)["found"] is True
    assert json.loads(out)["credential"]["kind"] == "github_token"
    assert_clean(out, err)


def test_basic_found_by_user_and_password(case: Path) -> None:
    _, out, err = run(
        case, ["credentials", "find", "--stdin", "--json"], f"batch-export:{PASSWORD}"
    )
    assert json.loads(out)["credential"]["identity"] == "basic:batch-export@api.acme.example"
    assert_clean(out, err)


def test_not_found(case: Path) -> None:
    code, out, err = run(case, ["credentials", "find", "--stdin", "--json"], NEVER_SEEN)
    assert code == 0
    assert json.loads(out) == {"found": False, "credential": None, "issued": None}
    code, text, err2 = run(case, ["credentials", "find", "--stdin"], NEVER_SEEN)
    assert "not seen" in text
    assert_clean(out, err, text, err2)


def test_near_miss_is_not_found(case: Path) -> None:
    _, out, _ = run(case, ["credentials", "find", "--stdin", "--json"], API_KEY[:-1])
    assert json.loads(out)["found"] is False


def test_bulk_file(case: Path, tmp_path: Path) -> None:
    leak = tmp_path / "leak.txt"
    leak.write_text(f"# pasted from the paste site\n{NEVER_SEEN}\n\n{API_KEY}\n{GH}\n")
    code, out, err = run(case, ["credentials", "find", "--file", str(leak), "--json"])
    assert code == 0
    rows = json.loads(out)
    assert [(r["line"], r["found"]) for r in rows] == [(2, False), (4, True), (5, True)]
    assert rows[1]["credential"]["kind"] == "api_key"
    assert rows[2]["credential"]["kind"] == "github_token"
    code, table, err2 = run(case, ["credentials", "find", "--file", str(leak)])
    assert "2 of 3 secrets were seen" in err2
    assert_clean(out, err, table, err2)


def test_usage_errors(case: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(case), "credentials", "find"])
    assert result.exit_code == 2
    result = CliRunner().invoke(
        cli, ["--db", str(case), "credentials", "find", "--stdin"], input=""
    )
    assert result.exit_code == 2


def test_lookup_stores_nothing(case: Path) -> None:
    before = case.read_bytes()
    run(case, ["credentials", "find", "--stdin", "--json"], NEVER_SEEN)
    with Store.open(case) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = store.conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0]
    assert count == 4
    assert NEVER_SEEN.encode() not in case.read_bytes()
    assert len(before) > 0


def test_bulk_triage_of_a_leaked_dump(case: Path, tmp_path: Path) -> None:
    """Lines as they appear in leaked .env files, JSON configs and AWS credential files."""
    dump = tmp_path / "dump.txt"
    dump.write_text(
        f"export GITHUB_TOKEN={GH}\n"
        f'  "partner_key": "{API_KEY}",\n'
        f"aws_access_key_id = {t.AWS_KEY_ID}\n"
        f"aws_secret_access_key = {AWS_SECRET}\n"
        f"STRIPE_SECRET='{NEVER_SEEN}'\n"
    )
    code, out, err = run(case, ["credentials", "find", "--file", str(dump), "--json"])
    assert code == 0
    rows = json.loads(out)
    assert [(r["line"], r["found"]) for r in rows] == [
        (1, True),
        (2, True),
        (3, True),
        (4, False),
        (5, False),
    ]
    assert [r["credential"]["kind"] for r in rows[:3]] == ["github_token", "api_key", "aws_sigv4"]
    assert_clean(out, err)
    assert AWS_SECRET not in out + err


def test_bare_secrets_are_found_however_they_travelled(case_path: Path) -> None:
    """A responder holds the bare token: it travelled as a Basic password or user, as the
    token of ``id:token``, or in ``Token token=``."""
    mailchimp = t.rand(32, "0123456789abcdef", seed=25) + "-us6"
    atlassian_like = t.rand(24, seed=26)  # a legacy token with an e-mail user
    as_user = t.rand(32, seed=27)  # a key sent as the Basic user with an empty password
    service_token = t.rand(43, seed=28)
    pagerduty = t.rand(20, t.ALNUM + "+", seed=29)
    sent = [
        ("Authorization", "Basic " + base64.b64encode(f"anystring:{mailchimp}".encode()).decode()),
        (
            "Authorization",
            "Basic " + base64.b64encode(f"ops@acme.example:{atlassian_like}".encode()).decode(),
        ),
        ("Authorization", "Basic " + base64.b64encode(f"{as_user}:".encode()).decode()),
        ("Authorization", f"fo57eya1lvvh:{service_token}"),
        ("Authorization", f"Token token={pagerduty}"),
    ]
    with Store.open(case_path) as store:
        store.add_exchanges(
            [
                to_exchange(
                    ObservedExchange(
                        ts=1_790_000_000.0 + i,
                        source="pcap",
                        evidence=f"frames {i}",
                        method="GET",
                        target="/v1/x",
                        host="api.example",
                        status=200,
                        request_headers=(header,),
                    ),
                    store.fingerprint,
                )
                for i, header in enumerate(sent)
            ]
        )
        recompute(store)
    for bare in (mailchimp, atlassian_like, as_user, service_token, pagerduty):
        code, out, err = run(case_path, ["credentials", "find", "--stdin", "--json"], bare)
        assert code == 0 and json.loads(out)["found"] is True, bare[:4]
        assert bare not in out + err
    _, out, _ = run(case_path, ["credentials", "find", "--stdin", "--json"], mailchimp)
    assert json.loads(out)["credential"]["kind"] == "mailchimp_key"


@pytest.mark.integration
def test_a_secret_typed_at_a_terminal_is_not_echoed(case: Path) -> None:
    """`credentials find --stdin` at a real terminal (a pty): the prompt, no echo of what is
    typed, and the answer; the secret appears nowhere in what the terminal shows."""
    import os
    import pty
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ir_console", "--db", str(case), "credentials", "find", "--stdin"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 60
    while b"not echoed" not in shown:
        assert time.monotonic() < deadline, shown
        shown += os.read(leader, 4096)
    os.write(leader, GH.encode() + b"\n")
    while proc.poll() is None or b"SEEN" not in shown:
        assert time.monotonic() < deadline, shown
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    proc.wait(30)
    os.close(leader)
    assert proc.returncode == 0
    assert b"SEEN" in shown
    assert GH.encode() not in shown
