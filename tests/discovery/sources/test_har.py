"""HAR 1.2 from two producers (Chrome devtools shape, Firefox shape), written from the spec:
pseudo-headers, base64 bodies, failed requests, WebSocket handshakes, missing optional fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discovery.case.store import Store
from discovery.errors import InputError
from discovery.ingest.files import ingest_file
from discovery.sources import detect_format
from discovery.sources.har import http_version, parse_time, read
from discovery.stats import IngestStats
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "har"
CHROME, FIREFOX = FIXTURES / "chrome_devtools.har", FIXTURES / "firefox.har"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T10:00:00.123Z", 1_795_168_800.123),
        ("2026-11-21T09:30:00.250+01:00", 1_795_249_800.25),
        ("2026-11-20T10:00:00", 1_795_168_800.0),  # no offset: UTC
    ],
)
def test_parse_time(value: str, expected: float) -> None:
    assert parse_time(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HTTP/1.1", "1.1"),
        ("http/2.0", "2"),
        ("HTTP/2", "2"),
        ("h3", "3"),
        ("", None),
        ("unknown", None),
        (None, None),
    ],
)
def test_http_version(value: object, expected: str | None) -> None:
    assert http_version(value) == expected


def test_chrome_shape() -> None:
    assert detect_format(CHROME) == "har"
    stats = IngestStats()
    ok, failed, ws = list(read(CHROME, stats))
    assert ok.host == "api.shop.example" and ok.target == "/v1/customers/42?fields=email,name"
    assert ok.http_version == "2" and ok.tls and ok.status == 200 and ok.server_ip == "2001:db8::10"
    assert ok.server_port == 443 and ok.evidence == "entry 0"
    assert all(not name.startswith(":") for name, _ in ok.request_headers)
    assert json.loads(ok.response_body)["email"] == "dana@example.org"  # base64 decoded
    assert ok.response_bytes == 56
    assert failed.status is None and failed.error == "net::ERR_CONNECTION_REFUSED"
    assert ("Cookie", "session=sess-chrome-cookie-a1b2c3d4e5f6") in failed.request_headers
    assert failed.request_body == b'{"sku":"A"}' and failed.request_bytes == 12
    assert ws.websocket and ws.status == 101 and ws.host == "stream.shop.example" and ws.tls
    assert stats.skipped == {}


def test_firefox_shape_with_missing_fields_and_a_bad_entry() -> None:
    assert detect_format(FIREFOX) == "har"
    stats = IngestStats()
    post, get, bare = list(read(FIREFOX, stats))
    assert post.host == "partners.example.net:8080" and post.server_port == 8080 and not post.tls
    assert post.ts == pytest.approx(1_795_249_800.25) and post.status == 201
    assert post.request_body == b'{"order":"INV-2026-000123"}'
    assert get.response_body == b"[]" and get.http_version == "2"
    assert get.target == "/api/v2/orders?status=open&api_key=k-ff-query-0123456789"
    assert bare.method == "DELETE" and bare.status is None and bare.error == "no response"
    assert bare.request_headers == () and bare.host == "partners.example.net"
    assert stats.skipped == {"bad_entry": 2}
    assert any("/log/entries/3/request/url" in w for w in stats.warnings)
    assert any("/log/entries/4" in w for w in stats.warnings)


def test_ingest_both_producers_into_one_case(store: Store) -> None:
    for path in (CHROME, FIREFOX):
        assert ingest_file(store, path).format == "har"
    rows = store.conn.execute(
        "SELECT host, method, path, status, source, websocket FROM exchanges ORDER BY ts"
    ).fetchall()
    assert len(rows) == 6 and {r[4] for r in rows} == {"har"}
    assert ("api.shop.example", "GET", "/v1/customers/42", 200, "har", 0) in rows
    assert ("partners.example.net:8080", "POST", "/api/v2/orders", 201, "har", 0) in rows
    names = {
        r[0].lower() for r in store.conn.execute("SELECT DISTINCT name FROM exchange_credentials")
    }
    assert {"authorization", "x-api-key"} <= names
    identities = {r[0] for r in store.conn.execute("SELECT id FROM identities")}
    assert "basic:partner-acme@partners.example.net:8080" in identities
    dump = b"".join(
        p.read_bytes() for p in store.path.parent.glob("case.db*") if not p.name.endswith(".key")
    )
    for secret in (
        b"opaque-chrome-token-5d1e2f3a4b5c6d7e",
        b"pw-firefox-basic-secret",
        b"key-firefox-header-9f8e7d6c5b4a",
    ):
        assert secret not in dump


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        ('{"log": {"entries": [\n  {"request": }', "line 2 column", "not valid JSON"),
        ('{"log": {"creator": {"name": "x"}}}', "/log/entries", "not a HAR file"),
        ("[1, 2]", "/log/entries", "not a HAR file"),
    ],
)
def test_unusable_files_raise_input_error(
    tmp_path: Path, content: str, where: str, reason: str
) -> None:
    path = tmp_path / "broken.har"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        list(read(path, IngestStats()))
    assert str(path) in str(info.value) and where in str(info.value)
    assert reason in str(info.value)


def test_ingest_command_reports_formats_and_skips(case_path: Path) -> None:
    from click.testing import CliRunner

    from ir_console.cli import cli

    zeek_log = FIXTURES.parent / "zeek" / "http.log"
    result = CliRunner().invoke(
        cli,
        ["--db", str(case_path), "ingest", str(CHROME), str(FIREFOX), str(zeek_log), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = {Path(item["path"]).name: item for item in json.loads(result.stdout)}
    assert summary["chrome_devtools.har"]["format"] == "har"
    assert summary["chrome_devtools.har"]["exchanges"] == 3
    assert summary["firefox.har"]["skipped"] == {"bad_entry": 2}
    assert summary["http.log"]["format"] == "zeek" and summary["http.log"]["exchanges"] == 5
