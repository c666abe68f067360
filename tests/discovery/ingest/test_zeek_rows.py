"""The Zeek fast path (``zeek_rows``: an http.log record straight to its stored row) gives the
rows the general conversion gives (observed exchange -> ``to_exchanges`` -> ``exchange_fields``),
on varied records in TSV and JSON: escapes, unset and empty values, sets, credential digests,
Basic users and passwords, credentials in the query and the path, GraphQL, gRPC, absolute
URIs, JA4H header shapes, JA4 of ssl.log; and it answers for the plain records itself."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from discovery.case.store import exchange_fields
from discovery.ingest.zeek_rows import HttpRows, rows
from discovery.redact.convert import to_exchanges
from discovery.sources import zeek
from discovery.sources.zeek import HttpRecord
from discovery.stats import IngestStats

FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "trans_depth",
    "method",
    "host",
    "uri",
    "referrer",
    "version",
    "user_agent",
    "origin",
    "request_body_len",
    "response_body_len",
    "status_code",
    "username",
    "password",
    "orig_mime_types",
    "resp_mime_types",
    "irc_cred_hmacs",
    "tags",
]
DIGEST = hashlib.sha256(b"zeek-rows-test").hexdigest()
OTHER = hashlib.sha256(b"zeek-rows-other").hexdigest()
# made here, never a real secret: a query API key and a bot token in the path
QUERY_KEY = "k" + "3f9a" * 8
BOT_TOKEN = "123456789:" + "AAH" + "x7Yq" * 8


def fingerprint(value: str) -> str:
    return hashlib.sha256(b"case-key:" + value.encode("utf-8", "surrogateescape")).hexdigest()


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": "1795168800.250000",
        "uid": "CabcDEF123",
        "id.orig_h": "10.1.2.3",
        "id.orig_p": "40000",
        "id.resp_h": "10.9.0.5",
        "id.resp_p": "80",
        "trans_depth": "1",
        "method": "GET",
        "host": "api.internal.example",
        "uri": "/api/v1/users/17",
        "referrer": "-",
        "version": "1.1",
        "user_agent": "billing-sync/3.2",
        "origin": "-",
        "request_body_len": "0",
        "response_body_len": "512",
        "status_code": "200",
        "username": "-",
        "password": "-",
        "orig_mime_types": "-",
        "resp_mime_types": "application/json",
        "irc_cred_hmacs": f"authorization:bearer:{DIGEST}",
        "tags": "(empty)",
    }
    base.update(changes)
    return base


# (what it is, its changes, whether the fast path answers for it itself)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("plain", {}, True),
    ("no digest, unset values", {"irc_cred_hmacs": "-", "user_agent": "-"}, True),
    ("two digests", {"irc_cred_hmacs": f"x-api-key::{DIGEST},authorization:bearer:{OTHER}"}, True),
    ("basic user only", {"username": "svc-legacy", "irc_cred_hmacs": "-"}, True),
    (
        "basic digest names its user",
        {"username": "svc", "irc_cred_hmacs": f"authorization:basic:{DIGEST}"},
        True,
    ),
    ("password logged", {"username": "svc", "password": "pw-" + "9" * 6}, False),
    ("password without user", {"password": "pw-" + "9" * 6}, True),
    ("no host: the server address", {"host": "-", "id.resp_p": "8080"}, True),
    ("host with port 80", {"host": "API.Internal.Example:80"}, True),
    ("host contradicts the address", {"host": "10.9.0.7"}, True),
    (
        "POST with types",
        {
            "method": "post",
            "orig_mime_types": "application/json,text/plain",
            "request_body_len": "40",
        },
        True,
    ),
    (
        "referrer and origin",
        {"referrer": "https://app.example/page?x=1", "origin": "https://app.example"},
        True,
    ),
    ("HTTP/1.0", {"version": "1.0", "user_agent": "-"}, True),
    ("query names", {"uri": "/api/v1/search?q=item5&limit=20&q=again"}, True),
    ("key in the query", {"uri": f"/api/v1/items?api_key={QUERY_KEY}"}, False),
    ("token in the path", {"uri": f"/bot{BOT_TOKEN}/sendMessage"}, False),
    ("GraphQL query", {"uri": "/graphql?query=%7Bme%7Bid%7D%7D"}, False),
    ("gRPC", {"method": "POST", "orig_mime_types": "application/grpc"}, False),
    ("absolute URI", {"uri": "http://other.example:8080/x"}, False),
    ("long path, folded", {"uri": "/a" * 80}, True),
    ("unset uri", {"uri": "-"}, True),
    ("dot segments and escapes", {"uri": "/api/./v1/%7Euser/../users//17/"}, True),
    ("escaped value", {"user_agent": "agent\\x41\\x09x"}, True),
    ("empty set of types", {"resp_mime_types": "(empty)"}, True),
    ("empty string value", {"user_agent": ""}, True),
    ("status not a number", {"status_code": "OK"}, True),
    ("status out of range", {"status_code": "1200"}, True),
    ("status with sign", {"status_code": "+201"}, True),
    ("size with spaces", {"response_body_len": " 12"}, True),
    ("huge size", {"response_body_len": "9" * 19}, True),
    ("bad digest", {"irc_cred_hmacs": "authorization:bearer:nothex"}, True),
    ("bad port", {"id.resp_p": "70000"}, True),
    ("bad ts", {"ts": "nan"}, True),
    ("iso ts", {"ts": "2026-11-20T10:00:00Z"}, True),
    ("no method", {"method": "-"}, True),
    ("non-ASCII", {"user_agent": "clïent/1", "uri": "/api/v1/ü/17"}, True),
]


def write_tsv(path: Path, records: list[dict[str, Any]]) -> None:
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\thttp",
        "#fields\t" + "\t".join(FIELDS),
    ]
    lines += ["\t".join(r[f] for f in FIELDS) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def as_json(r: dict[str, Any]) -> dict[str, Any]:
    """A record as Zeek's JSON writer logs it: unset fields left out, sets as lists."""
    out: dict[str, Any] = {}
    for name, value in r.items():
        if value == "-":
            continue
        if name in ("orig_mime_types", "resp_mime_types", "irc_cred_hmacs", "tags"):
            out[name] = [] if value == "(empty)" else value.split(",")
        elif name in ("id.orig_p", "id.resp_p", "trans_depth", "status_code") and value.isdigit():
            out[name] = int(value)
        elif name == "ts":
            try:
                out[name] = float(value)
            except ValueError:
                out[name] = value
        else:
            out[name] = value.replace("\\x41", "A").replace("\\x09", "\t")
    return out


def general(path: Path) -> tuple[list[tuple[Any, ...]], IngestStats]:
    """The rows of the general conversion, and its counters."""
    stats = IngestStats()
    found = [
        (exchange_fields(ex), ex.ts, ex.credentials)
        for observed in zeek.read(path, stats)
        for ex in to_exchanges(observed, fingerprint)
    ]
    return found, stats


def fast(path: Path) -> tuple[list[tuple[Any, ...]], IngestStats]:
    stats = IngestStats()
    return [row for _line, row in rows(path, stats, fingerprint)], stats


@pytest.mark.parametrize("form", ["tsv", "json"])
def test_fast_rows_equal_the_general_conversion(tmp_path: Path, form: str) -> None:
    records = [record(uid=f"C{n}", **changes) for n, (_, changes, _) in enumerate(CASES)]
    path = tmp_path / f"http.{form}.log"
    if form == "tsv":
        write_tsv(path, records)
    else:
        path.write_text("".join(json.dumps(as_json(r)) + "\n" for r in records))
    expected, expected_stats = general(path)
    got, got_stats = fast(path)
    assert len(expected) > 20  # the bad records are skipped by both, counted alike
    assert got == expected
    assert got_stats.as_dict() == expected_stats.as_dict()
    assert got_stats.warnings == expected_stats.warnings


def test_fast_path_answers_for_plain_records_and_declines_the_others(tmp_path: Path) -> None:
    """The fast path builds the row of a record that needs nothing more (the general path
    is not asked), and declines a record the general conversion must handle."""
    fast_rows = HttpRows(fingerprint)
    for what, changes, answers in CASES:
        path = tmp_path / "one.log"
        write_tsv(path, [record(**changes)])
        answered: list[bool] = []

        def counting(values: HttpRecord, answered: list[bool] = answered) -> Any:
            row = fast_rows(values)
            answered.append(row is not None)
            return row

        list(zeek.read_rows(path, IngestStats(), counting))
        if answered:  # a record skipped as bad reaches neither path
            assert answered == [answers], what
    assert fast_rows(zeek.http_values(as_json(record()), "line 1")) is not None


def test_jsonl_and_tsv_rows_with_ssl_and_conn_logs(tmp_path: Path) -> None:
    """Logs other than http.log take the general path: JA4 of ssl.log, conn.log facts."""
    ssl = tmp_path / "ssl.log"
    ssl.write_text(
        json.dumps(
            {
                "ts": 1795168800.5,
                "uid": "Cssl1",
                "id.orig_h": "10.1.2.3",
                "id.orig_p": 40001,
                "id.resp_h": "10.9.0.6",
                "id.resp_p": 443,
                "server_name": "login.example",
                "established": True,
                "ja4": "t13d1516h2_8daaf6152771_02713d6af862",
            }
        )
        + "\n"
    )
    expected, _ = general(ssl)
    got, _ = fast(ssl)
    assert got == expected and got[0][0][10] == "t13d1516h2_8daaf6152771_02713d6af862"


def test_ja4h_follows_the_header_shape(tmp_path: Path) -> None:
    """JA4H, kept per header shape by the fast path, changes with the headers and method."""
    path = tmp_path / "http.log"
    shapes = [
        record(),
        record(user_agent="-"),
        record(referrer="https://a.example/"),
        record(origin="https://a.example"),
        record(method="POST", orig_mime_types="application/json"),
        record(version="1.0"),
    ]
    write_tsv(path, shapes)
    got, _ = fast(path)
    expected, _ = general(path)
    ja4hs = [row[0][-1] for row in got]
    assert ja4hs == [row[0][-1] for row in expected]
    assert len(set(ja4hs)) == len(shapes)
