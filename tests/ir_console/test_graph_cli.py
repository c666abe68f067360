"""``ir-console graph``: analyses as JSON and tables, exports to files and stdout, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

from discovery.case.store import Store
from ir_console.cli import cli
from tests.discovery.casebuilder import ADMIN, API, EXPORT, USERS, SmallCase, build_small_case


def run(case_path: Path, *args: str) -> tuple[int, str, str]:
    # a wide terminal, so table cells are not shortened whatever runs the tests
    result = CliRunner().invoke(
        cli, ["--db", str(case_path), *args], catch_exceptions=False, env={"COLUMNS": "400"}
    )
    return result.exit_code, result.stdout, result.stderr


def run_process(case_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def small(case_path: Path) -> SmallCase:
    with Store.open(case_path) as store:
        return build_small_case(store)


def test_blast_radius_json_and_table(case_path: Path, small: SmallCase) -> None:
    code, out, _ = run(case_path, "graph", "blast-radius", small.a, "--json")
    assert code == 0
    result = json.loads(out)
    assert [e["id"] for e in result["endpoints"]] == [EXPORT, USERS]
    assert [c["id"] for c in result["co_credentials"]] == [small.d]
    code, out, err = run(case_path, "graph", "blast-radius", "billing-service")
    assert code == 0
    assert "/internal/export" in out and "/v2/invoices" in out
    assert "3 endpoints on 2 services (1 shadow" in err


def test_exposure_paths_choke_points_and_what_if(case_path: Path, small: SmallCase) -> None:
    code, out, _ = run(case_path, "graph", "exposure", USERS, "--json")
    assert code == 0 and sorted(c["id"] for c in json.loads(out)["credentials"]) == sorted(
        [small.a, small.c]
    )
    code, out, _ = run(case_path, "graph", "paths", "identity:aws:AKIAIOSFODNN7EXAMPLE", "--json")
    assert code == 0 and [p["target"]["id"] for p in json.loads(out)] == [ADMIN]
    code, out, _ = run(case_path, "graph", "paths", "billing-service", "--to", f"host:{API}")
    assert code == 0 and "-HOLDS->" in out and "-PART_OF->" in out
    code, out, _ = run(case_path, "graph", "choke-points", "--top", "1", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [small.c]
    code, out, _ = run(case_path, "graph", "what-if", small.c, "--json")
    assert code == 0
    assert [e["id"] for e in json.loads(out)["endpoints"] if e["unreached"]] == [ADMIN]
    code, _, err = run(case_path, "graph", "what-if", small.a, small.d)
    assert code == 0 and "removing 2 credentials" in err


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json", "dot", "opengraph"])
def test_export_to_file_and_stdout(
    case_path: Path, small: SmallCase, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"graph.{fmt}"
    code, out, err = run(case_path, "graph", "export", "--format", fmt, "-o", str(target))
    assert code == 0 and out == "" and "18 nodes and 19 edges" in err
    data = target.read_bytes()
    code, out, _ = run(case_path, "graph", "export", "--format", fmt)
    assert code == 0 and out.encode() == data
    if fmt == "graphml":
        assert nx.read_graphml(io.BytesIO(data)).number_of_nodes() == 18
    elif fmt == "json":
        assert len(json.loads(data)["edges"]) == 19
    elif fmt == "opengraph":
        assert len(json.loads(data)["graph"]["edges"]) == 19


def test_opengraph_export_writes_its_extension_schema(
    case_path: Path, small: SmallCase, tmp_path: Path
) -> None:
    schema = tmp_path / "schema.json"
    code, _, _ = run(
        case_path,
        "graph",
        "export",
        "--format",
        "opengraph",
        "-o",
        str(tmp_path / "g.json"),
        "--schema",
        str(schema),
    )
    assert code == 0
    kinds = {
        r["name"]: r["is_traversable"] for r in json.loads(schema.read_text())["relationship_kinds"]
    }
    assert kinds["IRC_Holds"] is True and kinds["IRC_PartOf"] is False


@pytest.mark.integration
@pytest.mark.parametrize(
    "argv",
    [
        ["graph", "blast-radius", "c-000000000000"],
        ["graph", "blast-radius", f"host:{API}"],
        ["graph", "exposure", "nowhere.example.org"],
        ["graph", "what-if", USERS],
        ["graph", "export", "--format", "svg"],
    ],
)
def test_bad_subjects_exit_2_with_one_line(
    case_path: Path, small: SmallCase, argv: list[str]
) -> None:
    proc = run_process(case_path, *argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    if argv[1] != "export":
        assert proc.stderr.startswith("ir-console: error:") and proc.stderr.count("\n") == 1


@pytest.mark.integration
def test_graph_help_does_not_import_networkx(case_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['ir-console', 'graph', '--help']\n"
        "from ir_console.cli import cli\n"
        "try:\n"
        "    cli.main(standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('networkx' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "blast-radius" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_hostile_labels_are_cleaned_in_tables(case_path: Path, small: SmallCase) -> None:
    with Store.open(case_path) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO endpoints(host, method, template, status) VALUES (?, 'GET', ?, 'shadow')",
            (API, "/x\x1b]0;pwned\x07/\x1b[2J"),
        )
        conn.execute(
            "INSERT INTO sightings(credential_id, endpoint_id, client_ip, requests) "
            "SELECT ?, id, '10.0.0.5', 1 FROM endpoints WHERE template LIKE '/x%'",
            (small.a,),
        )
    code, out, err = run(case_path, "graph", "blast-radius", small.a)
    assert code == 0 and "/x]0;pwned/[2J" in out
    assert "\x1b" not in out + err and "\x07" not in out + err
