"""The read side's typed queries: pages, the filter language, severity order, details, search.

Cases are real case files: the console's deterministic case (tests/ir_console/tui/casebuilder.py,
whose hostile variant holds invalid UTF-8 in keys) and a real capture ingested by the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.case.store import Store
from discovery.errors import CaseFileError
from discovery.severity import SEVERITIES
from discovery.views import details, queries, search
from discovery.views.overview import case_counts
from discovery.views.page import text_filter
from discovery.views.reader import SharedCase
from ir_console.cli import cli
from tests.ir_console.tui.casebuilder import build_case
from tests.paths import FIXTURES


@pytest.fixture
def case(tmp_path: Path) -> Path:
    return build_case(tmp_path / "case.db")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return build_case(tmp_path / "hostile.db", hostile=True)


def test_filter_words_must_all_match_and_key_value_hits_one_column(case: Path) -> None:
    with Store.open(case, create=False) as store:

        def templates(text: str) -> list[str]:
            return [e.template for e in queries.endpoint_page(store, text=text).rows]

        assert templates("status:zombie") == ["/v0/export"]
        assert templates("STATUS:Zombie") == ["/v0/export"]  # case-insensitive
        assert set(templates("api.example.com GET")) == {
            "/v1/users/{id}",
            "/internal/debug/vars",
            "/v0/export",
        }
        assert templates("api.example.com POST") == ["/v1/charges"]
        assert templates("method:post host:git") == []
        # an unknown key is a plain word; a quote or a % is text, never SQL
        assert templates("nosuch:thing") == []
        assert templates("' OR 1=1 --") == [] and templates("%") == []
    where = text_filter("a b:c", "x", {"b": "col"})
    assert where.args == ("a", "c") and "col" in where.sql


def test_a_page_counts_every_matching_row(case: Path) -> None:
    with Store.open(case, create=False) as store:
        everything = queries.endpoint_page(store)
        page = queries.endpoint_page(store, order="busiest", limit=2)
    assert len(page.rows) == 2 and page.total == len(everything.rows) == 6 and page.truncated
    assert [r.requests for r in page.rows] == sorted(
        (r.requests for r in everything.rows), reverse=True
    )[:2]
    assert not everything.truncated


def test_findings_are_ordered_by_the_one_severity_list(case: Path) -> None:
    with Store.open(case, create=False) as store:
        store.conn.execute(
            "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence, "
            "created_at) VALUES ('odd', 'x', 'weird', 't', 'host', 'h', '{}', 0)"
        )
        rows = queries.finding_page(store).rows
        high_and_above = queries.finding_page(store, severity="high").rows
    order = [r.severity for r in rows]
    assert order == ["critical", "high", "medium", "low", "weird"]  # an unknown name last
    assert sorted(order[:-1], key=SEVERITIES.index) == order[:-1]
    assert [r.severity for r in high_and_above] == ["critical", "high"]


def test_the_json_shapes_are_the_typed_rows(case: Path) -> None:
    with Store.open(case, create=False) as store:
        assert queries.credentials(store) == [
            r.to_json() for r in queries.credential_page(store).rows
        ]
        first = queries.credentials(store)[0]
        assert set(first) == {
            "id",
            "kind",
            "redacted",
            "identity",
            "first_seen",
            "last_seen",
            "requests",
            "sources",
            "endpoints",
            "issued_at",
            "expires_at",
            "claims",
            "blocked",
            "issued_by",
            "fingerprints",
        }
        assert isinstance(first["first_seen"], str)  # ISO 8601 in JSON, epoch in the rows


def test_an_identity_with_invalid_utf8_in_its_id_opens_by_its_row(hostile: Path) -> None:
    """The store shows invalid UTF-8 as U+FFFD (one policy); the identity still opens, with what
    links to it, because its details are joined inside SQLite from its row."""
    with Store.open(hostile, create=False) as store:
        store.conn.execute(
            "UPDATE credentials SET identity_id = (SELECT id FROM identities WHERE name LIKE "
            "'bad-%') WHERE redacted = 'pk_par…ZZZZ'"
        )
        store.conn.execute(
            "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence, "
            "created_at) SELECT 'about-bad', 'unregistered_identity', 'low', 'bad one', "
            "'identity', id, '{}', 0 FROM identities WHERE name LIKE 'bad-%'"
        )
        bad = next(i for i in queries.identity_page(store).rows if i.name.startswith("bad-"))
        assert "\ufffd" in bad.id and bad.credentials  # replaced text; its credential found
        detail = details.identity_detail(store, bad.rowid)
    assert detail is not None and detail.identity.id == bad.id
    assert [c.redacted for c in detail.credentials] == ["pk_par…ZZZZ"]
    assert detail.endpoints and [f.id for f in detail.findings] == ["about-bad"]


def test_host_count_is_the_host_list_length(hostile: Path) -> None:
    with Store.open(hostile, create=False) as store:
        hosts = queries.host_rows(store)
        assert queries.host_count(store) == len(hosts) == case_counts(store).hosts > 3


def test_search_matches_word_prefixes_and_treats_operators_as_text(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    result = CliRunner().invoke(
        cli, ["--db", str(case), "ingest", str(FIXTURES / "pcap" / "http_api.pcap")]
    )
    assert result.exit_code == 0, result.output
    before = case.read_bytes()
    with Store.open(case, create=False) as store:
        hosts = [h.host for h in queries.host_rows(store)]
        endpoints = queries.endpoint_page(store).rows
        word = hosts[0].split(".")[0]
        hits = search.search(store, word[:3])
        assert {h.ref for h in hits} >= {f"host:{h}" for h in hosts if h.startswith(word)}
        template_word = next(
            seg for e in endpoints for seg in e.template.split("/") if seg.isalpha()
        )
        assert any(h.type == "endpoint" for h in search.search(store, template_word))
        for text in ('"', "NOT", "a OR b", "*", "(", "NEAR(a b)", "", "   "):
            assert isinstance(search.search(store, text), list)  # never an FTS syntax error
        assert search.search(store, "zzzznothing") == []
        # a finding is found by its rule and title words
        finding = queries.finding_page(store).rows[0]
        assert f"finding:{finding.id}" in {h.ref for h in search.search(store, finding.rule)}
    assert case.read_bytes() == before  # the index lives in memory: the case is not written


def test_search_command_json(tmp_path: Path) -> None:
    case = build_case(tmp_path / "case.db")
    result = CliRunner().invoke(cli, ["--db", str(case), "search", "debug", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    refs = {h["ref"] for h in hits}
    assert "endpoint:api.example.com GET /internal/debug/vars" in refs
    assert any(h["type"] == "finding" for h in hits)  # "Undocumented debug endpoint called"
    assert all(set(h) == {"type", "id", "label", "ref"} for h in hits)
    empty = CliRunner().invoke(cli, ["--db", str(case), "search", "qqqqnothing"])
    assert empty.exit_code == 0 and "nothing matches" in empty.output


def test_shared_case_turns_sqlite_errors_into_case_errors(case: Path) -> None:
    shared = SharedCase(case)
    try:
        with pytest.raises(CaseFileError, match="cannot read the case"):
            shared.call(lambda store: store.conn.execute("SELECT * FROM no_such_table"))
        assert shared.call(queries.host_count) == 3
        assert isinstance(shared.data_version(), int)
    finally:
        shared.close()


def test_shared_case_opens_a_path_that_looks_like_a_uri(tmp_path: Path) -> None:
    """The change poll opens the case read-only by URI: a '?' or '#' in a folder name stays part
    of the path."""
    folder = tmp_path / "incident #42?draft"
    folder.mkdir()
    shared = SharedCase(build_case(folder / "case.db"))
    try:
        before = shared.data_version()
        shared.call(lambda store: store.set_meta("touched", "1"))
        assert shared.data_version() != before
    finally:
        shared.close()
