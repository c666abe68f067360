"""A request path of about a thousand segments (a 2 KB URL; HTTP allows 16 KiB) blinds nothing:
paths are folded past MAX_PATH_SEGMENTS (the rest kept as one segment, the exchange marked),
every walk over paths is iterative, and the analysis isolates a failure to the row that caused
it (logged, counted, shown) instead of stopping. Through a HAR file, a capture made with tcpdump
on loopback, and a running mitmdump with our addon."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from discovery import compiled
from discovery.analyse.matching import HostMatcher, Operation
from discovery.analyse.templating import HostTemplater
from discovery.wire.paths import MAX_PATH_SEGMENTS, folded_depth, normalise_path
from ir_console.cli import cli
from tests.conftest import require_tool
from tests.discovery.proxyfixtures import mitmdump, upstream
from tests.discovery.redact.credentials.loopback_capture import tcpdump

DEEP = "/" + "/".join(f"s{i}" for i in range(1000))  # 1,000 segments, under 6 KB
NORMAL = ["/v1/users/42", "/v1/users/43/orders", "/v1/health"]


def test_normalising_folds_a_deep_path_and_says_how_deep_it_was() -> None:
    folded = normalise_path(DEEP)
    segments = folded.split("/")[1:]
    assert len(segments) == MAX_PATH_SEGMENTS
    assert segments[:3] == ["s0", "s1", "s2"]
    assert segments[-1].startswith(f"s{MAX_PATH_SEGMENTS - 1}%2Fs{MAX_PATH_SEGMENTS}%2F")
    assert segments[-1].endswith("%2Fs999")  # the rest is kept, as one segment
    assert folded_depth(DEEP) == 1000
    assert folded_depth("/v1/users/42") == 0
    assert normalise_path(folded) == folded  # folding is stable


def test_templating_and_matching_walk_any_depth_in_constant_stack() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the path's depth: only iteration gets through
    try:
        unfolded = "/a" * 5000  # the templater folds what it is given, too
        templater = HostTemplater("h")
        templater.learn([DEEP, unfolded, *NORMAL])
        assert templater.template("/v1/users/44") == "/v1/users/{id}"
        assert templater.template(unfolded).count("/") == MAX_PATH_SEGMENTS
        assert len(templater.explain(DEEP).decisions) == MAX_PATH_SEGMENTS
        op = Operation(1, "h", "GET", "/v1/users/{id}", False, None, (), "t")
        deep_op = Operation(2, "h", "GET", "/x" * 400 + "/{rest}", False, None, (), "t")
        matcher = HostMatcher("h", [op, deep_op])
        assert matcher.match_path(DEEP) is None
        assert matcher.match_path("/v1/users/7") == "/v1/users/{id}"
    finally:
        sys.setrecursionlimit(limit)


def _har(path: Path, host: str, paths: list[str]) -> None:
    entries = [
        {
            "startedDateTime": f"2026-11-01T10:00:{i:02d}.000Z",
            "time": 1,
            "request": {
                "method": "GET",
                "url": f"http://{host}{p}",
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": "Host", "value": host}],
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 200,
                "statusText": "OK",
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "cookies": [],
                "content": {"size": 0, "mimeType": "application/json"},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": 0,
            },
            "cache": {},
            "timings": {"send": 0, "wait": 1, "receive": 0},
        }
        for i, p in enumerate(paths)
    ]
    path.write_text(
        json.dumps({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": entries}})
    )


def _ingest(case: Path, *inputs: Path) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(case), "ingest", *map(str, inputs)])
    assert result.exit_code == 0, result.output
    return result


def _endpoints(case: Path) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["--db", str(case), "endpoints", "--json"])
    assert result.exit_code == 0, result.output
    return {r["template"]: r["status"] for r in json.loads(result.stdout)}


def _deep_rows(case: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(case) as conn:
        return conn.execute(
            "SELECT path, raw_path, error FROM exchanges WHERE path LIKE '/s0/s1/%'"
        ).fetchall()


def _assert_deep_case(case: Path) -> None:
    """The deep request is in the case, folded and marked; the other endpoints are there."""
    templates = _endpoints(case)
    assert "/v1/users/{id}" in templates and "/v1/health" in templates
    ((path, raw, error),) = _deep_rows(case)
    assert path.count("/") == MAX_PATH_SEGMENTS and raw.count("/") >= 1000
    assert error is not None and f"path of 1000 segments folded after {MAX_PATH_SEGMENTS}" in error
    assert any(t.count("/") == MAX_PATH_SEGMENTS for t in templates)  # its endpoint, too


def test_a_deep_path_in_a_har_file_leaves_the_case_working(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    first, later = tmp_path / "deep.har", tmp_path / "later.har"
    _har(first, "api.example.com", [*NORMAL, DEEP])
    _har(later, "api.example.com", ["/v1/users/99", "/v1/orders/7"])
    _ingest(case, first)
    _assert_deep_case(case)
    _ingest(case, later)  # the next ingest (and its analysis) works too
    assert "/v1/orders/{id}" in _endpoints(case)
    explained = CliRunner().invoke(
        cli, ["--db", str(case), "endpoints", "explain", "api.example.com", "GET", DEEP, "--json"]
    )
    assert explained.exit_code == 0, explained.output
    assert len(json.loads(explained.stdout)["segments"]) == MAX_PATH_SEGMENTS


@pytest.mark.integration
def test_a_deep_path_captured_with_tcpdump_leaves_the_case_working(tmp_path: Path) -> None:
    curl = require_tool("curl")
    capture = tmp_path / "deep.pcap"
    with upstream() as server, tcpdump(capture, server.port):
        for path in [*NORMAL, DEEP]:
            subprocess.run(
                [curl, "-sS", "-o", "/dev/null", "-H", "Host: api.example.com", server.url(path)],
                check=True,
                timeout=30,
            )
    case = tmp_path / "case.db"
    _ingest(case, capture)
    _assert_deep_case(case)


@pytest.mark.integration
def test_a_deep_path_through_the_proxy_leaves_the_case_working(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    with (
        upstream() as server,
        mitmdump(tmp_path / "conf", "--set", f"irc_db={case}", "--set", "irc_recompute=1") as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):
        for path in [DEEP, *NORMAL, DEEP]:
            assert client.get(server.url(path)).status_code == 200
    with sqlite3.connect(case) as conn:
        (pending,) = conn.execute(
            "SELECT COUNT(*) FROM meta WHERE key = 'analysis_pending'"
        ).fetchone()
        hosts = {h for (h,) in conn.execute("SELECT DISTINCT host FROM endpoints")}
    assert pending == 0  # the final recompute finished
    templates = _endpoints(case)
    assert "/v1/users/{id}" in templates and "/v1/health" in templates, (hosts, templates)
    assert len(_deep_rows(case)) == 2


@pytest.mark.integration  # in the compiled build, runs itself again in a pure interpreter
def test_a_failure_is_isolated_to_its_row_logged_counted_and_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A path the templater fails on (injected here: no real input fails it any more) is
    skipped; the rest of the analysis goes on, the case counts it and ingest says so."""
    if compiled.in_use():
        # a compiled class calls its methods natively: the injected failure only takes
        # effect in the pure build, so the same test runs there in a child interpreter
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-m",
                "",
                f"{__file__}::test_a_failure_is_isolated_to_its_row_logged_counted_and_shown",
            ],
            env={**os.environ, compiled.PURE_ENV: "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-2000:]
        return
    original = HostTemplater.resolve

    def failing(self: HostTemplater, path: str, explain: bool = True) -> Any:
        if path.startswith("/boom"):
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, path, explain)

    monkeypatch.setattr(HostTemplater, "resolve", failing)
    case, har = tmp_path / "case.db", tmp_path / "in.har"
    _har(har, "api.example.com", [*NORMAL, "/boom/1"])
    result = _ingest(case, har)
    assert "analysis skipped 1 path(s)" in result.output
    assert "/boom/1" in result.output and "RecursionError" in result.output
    assert any("skipped GET api.example.com/boom/1" in r.getMessage() for r in caplog.records)
    templates = _endpoints(case)
    assert "/v1/users/{id}" in templates and not any(t.startswith("/boom") for t in templates)
    with sqlite3.connect(case) as conn:
        (raw,) = conn.execute("SELECT value FROM meta WHERE key = 'analysis_skipped'").fetchone()
    assert json.loads(raw)["count"] == 1
    monkeypatch.setattr(HostTemplater, "resolve", original)
    more = tmp_path / "more.har"
    _har(more, "api.example.com", ["/v1/users/77"])
    assert "skipped" not in _ingest(case, more).output  # nothing fails now: the mark goes
    with sqlite3.connect(case) as conn:
        assert conn.execute("SELECT 1 FROM meta WHERE key = 'analysis_skipped'").fetchone() is None
    assert any(t.startswith("/boom") for t in _endpoints(case))
