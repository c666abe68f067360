"""Read commands: JSON shapes with rows inserted through the store API, tables, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.case.store import Store, dumps
from discovery.errors import CaseFileError, SubjectNotFound
from discovery.timeutil import iso
from discovery.views.exchange import CONNECTION_FACTS
from ir_console.cli import cli
from tests.conftest import make_exchange, make_sighting
from tests.ir_console.tui.casebuilder import (
    add_graphql_call,
    add_grpc_call,
    add_proxied_exchange,
)

SECRET = "key-live-0123456789abcdefXYZ"
JA4 = "t13d1516h2_8daaf6152771_02713d6af862"


def run(case_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(case_path), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def populated(case_path: Path) -> Path:
    with Store.open(case_path) as store:
        sighting = make_sighting(
            store,
            SECRET,
            identity="jwt:https://idp|svc-billing",
            identity_kind="jwt",
            claims=(("sub", "svc-billing"),),
            issued_at=1_790_000_000.0,
            expires_at=1_800_000_000.0,
        )
        store.add_exchanges(
            [
                make_exchange(ts=1_790_000_100.0, credentials=(sighting,), client_ip="10.0.0.5"),
                make_exchange(
                    ts=1_790_000_200.0,
                    credentials=(sighting,),
                    client_ip="10.0.0.9",
                    status=404,
                    ja4=JA4,
                    user_agent="python-httpx/0.27",
                ),
                make_exchange(
                    ts=1_790_000_300.0,
                    method=None,
                    path=None,
                    raw_path=None,
                    host="opaque.example.net",
                    tls=True,
                    sni="opaque.example.net",
                ),
            ]
        )
        conn = store.conn
        conn.execute(
            "INSERT INTO endpoints(host, method, template, status, requests, first_seen, "
            "last_seen, statuses) VALUES ('api.example.com','GET','/v1/users/{id}','shadow',2,"
            "1790000100,1790000200,?)",
            (dumps({"200": 1, "404": 1}),),
        )
        conn.execute("UPDATE exchanges SET endpoint_id = 1 WHERE method IS NOT NULL")
        from discovery.analyse.sightings import rebuild_sightings

        rebuild_sightings(store)
        conn.execute(
            "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence,"
            " created_at) VALUES ('shadow_endpoint_access:1','shadow_endpoint_access','medium',"
            "'x','endpoint','api.example.com GET /v1/users/{id}','{}',0),"
            "('long_lived_token:1','long_lived_token','high','y','credential','c-1','{}',0)"
        )
    return case_path


def test_endpoints_json_shape(populated: Path) -> None:
    code, out = run(populated, "endpoints", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows == [
        {
            "host": "api.example.com",
            "method": "GET",
            "template": "/v1/users/{id}",
            "status": "shadow",
            "requests": 2,
            "first_seen": "2026-09-21T14:15:00Z",
            "last_seen": "2026-09-21T14:16:40Z",
            "statuses": {"200": 1, "404": 1},
            "credentials": [rows[0]["credentials"][0]],
        }
    ]
    assert rows[0]["credentials"][0].startswith("c-")


def test_endpoints_filters(populated: Path) -> None:
    assert json.loads(run(populated, "endpoints", "--json", "--status", "documented")[1]) == []
    assert (
        len(json.loads(run(populated, "endpoints", "--json", "--status", "shadow,zombie")[1])) == 1
    )
    assert json.loads(run(populated, "endpoints", "--json", "--host", "other.example")[1]) == []
    assert (
        json.loads(run(populated, "endpoints", "--json", "--since", "2026-09-21T14:16:00Z")[1])
        == []
    )
    assert len(json.loads(run(populated, "endpoints", "--json", "--since", "2026-09-21")[1])) == 1


def test_credentials_json_shape_and_no_secret(populated: Path) -> None:
    code, out = run(populated, "credentials", "--json")
    assert code == 0
    assert SECRET not in out
    (row,) = json.loads(out)
    assert set(row) == {
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
    assert row["blocked"] is False and row["issued_by"] is None
    # how the clients that presented it look (DESIGN section 10)
    assert row["fingerprints"] == {
        "ja4": [JA4],
        "ja4h": [],  # rows written as exchanges directly: no JA4H computed for them
        "user_agents": ["curl/8", "python-httpx/0.27"],
    }
    assert row["requests"] == 2
    assert row["sources"] == ["10.0.0.5", "10.0.0.9"]
    assert row["endpoints"] == [
        {"host": "api.example.com", "method": "GET", "template": "/v1/users/{id}"}
    ]
    assert row["identity"] == "jwt:https://idp|svc-billing"
    assert row["claims"] == {"sub": "svc-billing"}
    assert row["expires_at"] == iso(1_800_000_000.0)


def test_credentials_json_says_blocked(populated: Path) -> None:
    (row,) = json.loads(run(populated, "credentials", "--json")[1])
    assert run(populated, "block", "credential", row["id"], "--reason", "leaked")[0] == 0
    (after,) = json.loads(run(populated, "credentials", "--json")[1])
    assert after["blocked"] is True
    assert run(populated, "unblock", "credential", row["id"])[0] == 0
    assert json.loads(run(populated, "credentials", "--json")[1])[0]["blocked"] is False


def test_identities_json(populated: Path) -> None:
    (row,) = json.loads(run(populated, "identities", "--json")[1])
    assert row["id"] == "jwt:https://idp|svc-billing"
    assert row["registered"] is False
    assert row["requests"] == 2 and len(row["credentials"]) == 1


def test_findings_json_sorted_and_filtered(populated: Path) -> None:
    rows = json.loads(run(populated, "findings", "--json")[1])
    assert [r["rule"] for r in rows] == ["long_lived_token", "shadow_endpoint_access"]
    assert set(rows[0]) >= {"id", "rule", "severity", "title", "subject", "evidence"}
    assert rows[0]["subject"] == {"type": "credential", "id": "c-1"}
    high = json.loads(run(populated, "findings", "--json", "--severity", "high")[1])
    assert [r["rule"] for r in high] == ["long_lived_token"]
    by_rule = json.loads(
        run(populated, "findings", "--json", "--rule", "shadow_endpoint_access")[1]
    )
    assert len(by_rule) == 1


def test_hosts_include_tls_only_hosts(populated: Path) -> None:
    rows = {r["host"]: r for r in json.loads(run(populated, "hosts", "--json")[1])}
    assert rows["opaque.example.net"]["tls"] is True
    assert rows["opaque.example.net"]["requests"] == 0
    assert rows["api.example.com"]["requests"] == 2
    assert rows["api.example.com"]["endpoints"] == 1


def test_tables_are_plain_text(populated: Path) -> None:
    code, out = run(populated, "endpoints")
    assert code == 0 and "/v1/users/{id}" in out and "SHADOW" not in out.split("\n")[1]


def _ir(case: Path, *args: str, env_db: bool = False) -> subprocess.CompletedProcess[str]:
    env_args = [] if env_db else ["--db", str(case)]
    import os

    env = dict(os.environ)
    if env_db:
        env["IR_CONSOLE_DB"] = str(case)
    return subprocess.run(
        [sys.executable, "-m", "ir_console", *env_args, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.integration
def test_exit_code_2_for_a_file_that_is_not_a_case(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("not a database at all, just text" * 20)
    proc = _ir(bogus, "endpoints", "--json")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not an ir-console case" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
def test_exit_code_2_for_a_missing_case_and_bad_usage(tmp_path: Path) -> None:
    missing = _ir(tmp_path / "nope.db", "findings")
    assert missing.returncode == 2 and "no such case file" in missing.stderr
    bad = _ir(tmp_path / "nope.db", "endpoints", "--status", "weird")
    assert bad.returncode == 2 and "weird" in bad.stderr


@pytest.mark.integration
def test_env_var_selects_the_case(populated: Path) -> None:
    proc = _ir(populated, "endpoints", "--json", env_db=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["status"] == "shadow"


@pytest.mark.integration
def test_help_lists_the_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for name in ("endpoints", "credentials", "identities", "findings", "hosts", "demo", "tui"):
        assert f"  {name}" in proc.stdout


def test_piped_tables_keep_whole_cells_whatever_columns_says(populated: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(populated), "endpoints"], catch_exceptions=False, env={"COLUMNS": "30"}
    )
    assert result.exit_code == 0
    row = result.output.splitlines()[1].split()
    assert row[:4] == ["shadow", "api.example.com", "GET", "/v1/users/{id}"]


def test_tables_shrink_to_fit_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ir_console import output

    monkeypatch.setenv("COLUMNS", "50")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    output.emit_table(["host", "template"], [["api.example.com", "/v1/" + "x" * 80]])
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 50 for line in lines)
    assert lines[1].endswith("…")


def test_an_unknown_rule_is_refused_naming_the_closest(populated: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(populated), "findings", "--rule", "shadow_endpoint"]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1  # one line, no usage block, no traceback
    assert "no such rule" in result.stderr and 'did you mean "shadow_endpoint_access"' in (
        result.stderr
    )
    nothing_close = CliRunner().invoke(cli, ["--db", str(populated), "findings", "--rule", "nope"])
    assert nothing_close.exit_code == 2 and "did you mean" not in nothing_close.stderr
    assert "unregistered_identity" in nothing_close.stderr  # the rules are listed
    # a real rule with no finding in this case is an empty answer, not an error
    quiet = CliRunner().invoke(
        cli, ["--db", str(populated), "findings", "--rule", "request_smuggling", "--json"]
    )
    assert quiet.exit_code == 0 and json.loads(quiet.stdout) == []


def test_an_unknown_command_is_answered_with_the_closest(case_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(case_path), "findigns"])
    assert result.exit_code == 2
    assert "No such command 'findigns' (did you mean \"findings\"?)" in result.stderr
    far = CliRunner().invoke(cli, ["--db", str(case_path), "zzzzzz"])
    assert far.exit_code == 2 and "did you mean" not in far.stderr


def test_the_console_refuses_a_missing_case_unless_told_to_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    result = CliRunner().invoke(cli, ["--db", str(missing), "tui"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no such case file" in result.stderr
    assert "tui --new" in result.stderr
    assert not missing.exists()  # nothing was created
    not_a_case = tmp_path / "notes.db"
    not_a_case.write_text("not a database\n")
    bad = CliRunner().invoke(cli, ["--db", str(not_a_case), "tui"])
    # the error main() prints as one line with its exit code, before any console starts
    assert isinstance(bad.exception, CaseFileError) and bad.exception.exit_code == 2
    assert "not an ir-console case" in str(bad.exception)
    assert not_a_case.read_text() == "not a database\n"


@pytest.fixture
def proxied(case_path: Path) -> tuple[Path, int]:
    """A request sent through a proxy to one address while its Host named another."""
    return case_path, add_proxied_exchange(case_path)


def test_exchange_json_says_where_it_went_and_how_the_host_contradicts_it(
    proxied: tuple[Path, int],
) -> None:
    case_path, exchange_id = proxied
    code, out = run(case_path, "exchange", str(exchange_id), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["id"] == exchange_id and shown["path"] == "/admin/users"
    assert shown["destination"] == "10.9.9.9:8080"
    assert shown["host_mismatch"] == "Host 10.0.0.1:8080 sent to 10.9.9.9:8080"
    assert shown["extraction"]["command"] is None  # a live proxy flow: no file to extract from
    assert shown["sensitive"] == {} and shown["request_sensitive"] == {}


def test_exchange_text_names_where_it_went(proxied: tuple[Path, int]) -> None:
    case_path, exchange_id = proxied
    code, out = run(case_path, "exchange", str(exchange_id))
    assert code == 0
    assert "GET 10.0.0.1:8080/admin/users -> 200" in out
    assert "went to 10.9.9.9:8080" in out
    assert "MISMATCH Host 10.0.0.1:8080 sent to 10.9.9.9:8080" in out
    assert "sensitive data in the response: none found" in out
    assert "sensitive data in the request" not in out  # only scanned requests say it


def test_exchange_shows_the_sensitive_data_of_the_request_beside_the_response(
    case_path: Path,
) -> None:
    exchange_id = add_grpc_call(case_path)
    code, out = run(case_path, "exchange", str(exchange_id), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["sensitive"] == {"email": 2} and shown["request_sensitive"] == {"email": 1}
    code, text = run(case_path, "exchange", str(exchange_id))
    assert code == 0
    assert "sensitive data in the response: email×2" in text
    assert "sensitive data in the request: email×1" in text
    for value in ("alice@example.com", "bob@example.org"):  # kinds and counts, never values
        assert value not in out and value not in text


def test_exchange_shows_the_sensitive_data_of_graphql_variables(case_path: Path) -> None:
    """A GraphQL operation's variables are the request's text: their kinds are shown as the
    request's, as a gRPC request message's are, never the values."""
    exchange_id = add_graphql_call(case_path)
    code, out = run(case_path, "exchange", str(exchange_id), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["path"] == "/graphql"
    assert shown["sensitive"] == {} and shown["request_sensitive"] == {"email": 1}
    code, text = run(case_path, "exchange", str(exchange_id))
    assert code == 0
    assert "sensitive data in the response: none found" in text
    assert "sensitive data in the request: email×1" in text
    assert "dave@example.com" not in out and "dave@example.com" not in text


# the shape ``exchange ID --json`` promises (DESIGN section 10 does not list the command: its
# help, and so docs/cli.md, documents it); scripts depend on these names
EXCHANGE_KEYS = {
    "id", "ts", "source", "evidence", "input", "client", "server", "destination",
    "host_mismatch", "method", "host", "path", "status", "endpoint", "sensitive",
    "request_sensitive", "credentials", "extraction",
}  # fmt: skip
EXCHANGE_CREDENTIAL_KEYS = {"id", "location", "name", "redacted"}
EXTRACTION_KEYS = {"command", "alternative", "note"}


def test_exchange_json_has_the_documented_shape(populated: Path) -> None:
    code, out = run(populated, "exchange", "1", "--json")
    assert code == 0
    shown = json.loads(out)
    assert set(shown) == EXCHANGE_KEYS
    assert shown["id"] == 1 and shown["ts"] == iso(1_790_000_100.0)
    assert shown["client"] == "10.0.0.5" and isinstance(shown["status"], int)
    assert [set(c) for c in shown["credentials"]] == [EXCHANGE_CREDENTIAL_KEYS]
    assert set(shown["extraction"]) == EXTRACTION_KEYS
    assert isinstance(shown["sensitive"], dict) and isinstance(shown["request_sensitive"], dict)
    # every name is documented, the optional conn.log context too
    helped = CliRunner().invoke(cli, ["exchange", "--help"]).output
    documented = set(re.findall(r'"(\w+)"', helped))
    optional = {"connection", *CONNECTION_FACTS}
    assert EXCHANGE_KEYS | EXCHANGE_CREDENTIAL_KEYS | EXTRACTION_KEYS | optional <= documented


def test_exchange_of_a_capture_and_a_missing_id(populated: Path) -> None:
    code, out = run(populated, "exchange", "1", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["host_mismatch"] is None
    assert SECRET not in out
    result = CliRunner().invoke(cli, ["--db", str(populated), "exchange", "999"])
    assert isinstance(result.exception, SubjectNotFound)
    assert result.exception.exit_code == 2 and "no exchange 999" in str(result.exception)
