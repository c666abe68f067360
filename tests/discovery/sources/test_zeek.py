"""Zeek http.log and ssl.log, TSV and JSON: exchanges, opaque TLS hosts, Basic usernames, and the
credential HMACs our policy script adds (kept in their own namespace, never raw)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.errors import InputError
from discovery.ingest.files import ingest_file
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.sources import detect_format
from discovery.sources.zeek import hmac_pads, http_record, read
from discovery.stats import IngestStats
from discovery.views import queries
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "zeek"
DEPLOYMENT_KEY = bytes(range(1, 33))  # the key the fixtures' irc_cred_hmacs were made with
BEARER = "opaque-zeek-bearer-7a6b5c4d3e2f1a0b"


def deployment_hmac(value: str) -> str:
    return hmac.new(DEPLOYMENT_KEY, value.encode(), hashlib.sha256).hexdigest()


def read_all(name: str) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    return list(read(FIXTURES / name, stats)), stats


@pytest.mark.parametrize("name", ["http.log", "ssl.log", "http.json.log", "ssl.json.log"])
def test_detected_as_zeek(name: str) -> None:
    assert detect_format(FIXTURES / name) == "zeek"


def test_http_tsv() -> None:
    observed, stats = read_all("http.log")
    assert len(observed) == 5
    assert stats.skipped == {"bad_zeek_line": 1, "bad_http_record": 1}
    assert any("line 14" in w and "expected 31 fields, got 3" in w for w in stats.warnings)
    first, _, search, legacy, status = observed
    assert first.ts == 1_795_168_800.1 and first.evidence == "uid CHhAvVGS1DHFjwGM9#1 (line 9)"
    assert (first.client_ip, first.server_ip, first.server_port) == ("10.1.2.3", "10.9.0.5", 80)
    assert first.host == "api.internal.example" and first.target == "/api/v1/users/17"
    assert first.status == 200 and first.http_version == "1.1" and not first.tls
    assert ("User-Agent", "billing-sync/3.2") in first.request_headers
    assert first.response_headers == (("Content-Type", "application/json"),)
    (cred,) = first.extra
    assert cred.kind == "zeek_hmac" and cred.namespace == "zeek-hmac"
    assert cred.digest == deployment_hmac(BEARER) and cred.name == "authorization"
    assert search.target == "/api/v1/search?q=a\tb&limit=5"  # \x09 unescaped
    assert search.extra[0].name == "x-api-key" and search.request_bytes == 42
    assert [(c.kind, c.identity) for c in legacy.extra] == [
        ("zeek_hmac", "basic:svc-legacy@legacy.internal.example")
    ]
    assert status.host == "10.9.0.6"  # no Host header logged: the server address
    assert [(c.kind, c.identity) for c in status.extra] == [
        ("basic_user", "basic:svc-old@10.9.0.6")
    ]


def test_ssl_tsv_is_opaque_tls() -> None:
    observed, stats = read_all("ssl.log")
    assert stats.skipped == {}
    named, unnamed, failed = observed
    assert named.method is None and named.tls and named.sni == named.host == "api.partner.example"
    assert named.ja4 == "t13d1516h2_8daaf6152771_02713d6af862" and named.error is None
    assert unnamed.sni is None and unnamed.host == "203.0.113.51" and unnamed.server_port == 8443
    assert failed.error == "TLS handshake not established"


def test_json_logs() -> None:
    observed, stats = read_all("http.json.log")
    assert [o.method for o in observed] == ["GET", "DELETE"]
    assert observed[1].ts == 1_795_172_401.25  # ISO 8601 timestamps too
    assert observed[0].extra[0].digest == deployment_hmac(BEARER)
    assert observed[1].extra[0].identity == "basic:ops-bot@inventory.internal.example"
    # a conn.log record without its server address: counted, not kept
    assert stats.skipped == {"bad_conn_record": 1, "bad_zeek_line": 1, "bad_http_record": 1}
    assert any("line 5" in w and "irc_cred_hmacs" in w for w in stats.warnings)
    ssl_observed, _ = read_all("ssl.json.log")
    assert {o.host for o in ssl_observed} == {"hooks.partner.example"}


def test_ingest_keeps_hmacs_in_their_own_namespace(store: Store) -> None:
    for name in ("http.log", "ssl.log", "http.json.log", "ssl.json.log"):
        assert ingest_file(store, FIXTURES / name).format == "zeek"
    rows = store.conn.execute(
        "SELECT kind, fingerprint, requests FROM credentials ORDER BY kind, requests"
    ).fetchall()
    bearer = [r for r in rows if r[1] == store.fingerprint("zeek-hmac:" + deployment_hmac(BEARER))]
    assert bearer and bearer[0][0] == "zeek_hmac" and bearer[0][2] == 3  # two TSV + one JSON
    assert store.fingerprint(BEARER) not in {r[1] for r in rows}  # never mixed with case keys
    assert sorted(r[0] for r in rows) == [
        "basic_user",
        "basic_user",
        "zeek_hmac",
        "zeek_hmac",
        "zeek_hmac",
    ]
    identities = {i["id"] for i in queries.identities(store)}
    assert {
        "basic:svc-legacy@legacy.internal.example",
        "basic:svc-old@10.9.0.6",
        "basic:ops-bot@inventory.internal.example",
    } <= identities
    hosts = {h["host"]: h for h in queries.hosts(store)}
    assert hosts["api.partner.example"]["tls"] is True
    assert hosts["api.partner.example"]["requests"] == 0
    assert hosts["api.internal.example"]["requests"] == 2
    dump = b"".join(
        p.read_bytes() for p in store.path.parent.glob("case.db*") if not p.name.endswith(".key")
    )
    assert deployment_hmac(BEARER).encode() not in dump


def test_captured_basic_password_matches_capture_fingerprints(store: Store) -> None:
    record = {
        "ts": 1.0,
        "uid": "Cpw",
        "method": "GET",
        "host": "h.example",
        "uri": "/x",
        "username": "alice",
        "password": "s3cret-pw",
    }
    exchange = to_exchange(http_record(record, "line 1"), store.fingerprint)
    (sighting,) = exchange.credentials
    assert sighting.kind == "basic"
    captured = ObservedExchange(
        ts=1.0,
        source="pcap",
        evidence="frames 1-2",
        method="GET",
        target="/x",
        host="h.example",
        request_headers=(("Authorization", "Basic YWxpY2U6czNjcmV0LXB3"),),
    )
    (same,) = to_exchange(captured, store.fingerprint).credentials
    assert sighting.fingerprint == same.fingerprint  # one credential, whichever source saw it


@pytest.mark.parametrize("key", [DEPLOYMENT_KEY, b"k", bytes(range(100))])
def test_hmac_pads_give_hmac_sha256_as_the_zeek_script_computes_it(key: bytes) -> None:
    ipad, opad = hmac_pads(key)
    assert len(ipad) == len(opad) == 128
    message = b"Bearer-value-under-test"
    inner = hashlib.sha256(bytes.fromhex(ipad) + message).digest()
    outer = hashlib.sha256(bytes.fromhex(opad) + inner).hexdigest()
    assert outer == hmac.new(key, message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("content", "reason", "where"),
    [
        ("hello world\n", "not a Zeek log", "line 1"),
        ("#separator \\x09\n1795168800.0\tCx\n", "before its #fields header", "line 2"),
        ("", "empty Zeek log", None),
    ],
)
def test_unusable_logs(tmp_path: Path, content: str, reason: str, where: str | None) -> None:
    path = tmp_path / "bad.log"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        list(read(path, IngestStats()))
    assert reason in str(info.value) and str(path) in str(info.value)
    if where:
        assert where in str(info.value)
