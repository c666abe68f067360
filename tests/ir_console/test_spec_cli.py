"""``spec import``/``spec list``, ``ingest --spec``, ``endpoints explain`` and ``openapi export``
through the CLI: exit codes, JSON shapes, and an export that validates and leaks no value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from ir_console.cli import cli
from tests.conftest import make_exchange, make_sighting
from tests.paths import FIXTURES

SPECS = FIXTURES / "specs"
SHOP = "api.shop.example"
SECRET = "shop-key-5f4dcc3b5aa765d61d8327deb882cf99"
EMAIL = "alice.wonder@example.org"


def run(case: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(case), *args], catch_exceptions=False)


@pytest.fixture
def traffic(case_path: Path) -> Path:
    with Store.open(case_path) as store:
        key = make_sighting(store, SECRET, location="query", name="api_key")
        store.add_exchanges(
            [
                make_exchange(
                    host=SHOP,
                    path="/v1/users/42",
                    credentials=(key,),
                    query_names=("api_key", "fields"),
                ),
                make_exchange(host=SHOP, path="/v1/users/7", credentials=(key,)),
                make_exchange(host=SHOP, path="/v1/users/me", credentials=(key,)),
                make_exchange(host=SHOP, path="/v1/orders/A1", status=200),
                make_exchange(host=SHOP, path=f"/v1/lookup/{EMAIL}", status=200),
                make_exchange(
                    host=SHOP,
                    path="/v1/users/7",
                    method="PATCH",
                    status=204,
                    request_content_type="application/json",
                ),
                make_exchange(host="other.example", path="/a/1"),
            ]
        )
        recompute(store)
    return case_path


def test_spec_import_reclassifies_old_traffic(traffic: Path) -> None:
    before = json.loads(run(traffic, "endpoints", "--json").output)
    assert {e["status"] for e in before} == {"shadow"}
    result = run(traffic, "spec", "import", str(SPECS / "shop-3.0.yaml"), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["spec"] == "Shop API" and summary["hosts"] == [
        {"host": SHOP, "base_path": "/v1"}
    ]
    assert summary["deprecated"] == 1 and summary["endpoints"]["zombie"] == 1
    rows = {
        (e["method"], e["template"]): e["status"]
        for e in json.loads(run(traffic, "endpoints", "--json", "--host", SHOP).output)
    }
    assert rows[("GET", "/v1/users/{id}")] == "documented"
    assert rows[("PATCH", "/v1/users/{id}")] == "shadow"
    assert rows[("POST", "/v1/reports/export")] == "orphan"
    listed = json.loads(run(traffic, "spec", "list", "--json").output)
    assert [(s["title"], s["operations"]) for s in listed] == [("Shop API", 6)]


def test_spec_import_host_override(traffic: Path) -> None:
    result = run(traffic, "spec", "import", str(SPECS / "shop-3.0.yaml"), "--host", "OTHER.example")
    assert result.exit_code == 0
    assert "other.example/v1" in result.stderr


@pytest.mark.integration
def test_a_broken_spec_exits_2_with_the_pointer_and_changes_nothing(
    traffic: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    broken = tmp_path / "broken.yaml"
    shutil.copy(SPECS / "broken-ref-3.0.yaml", broken)
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(traffic), "spec", "import", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert str(broken) in line and "/paths/~1items~1{id}/get/parameters/0" in line
    assert json.loads(run(traffic, "spec", "list", "--json").output) == []


def test_ingest_with_spec(tmp_path: Path) -> None:
    har = tmp_path / "t.har"
    har.write_text(
        json.dumps(
            {
                "log": {
                    "version": "1.2",
                    "creator": {"name": "t", "version": "1"},
                    "entries": [
                        {
                            "startedDateTime": "2026-09-21T14:15:00Z",
                            "time": 1,
                            "request": {
                                "method": "GET",
                                "url": f"https://{SHOP}/v1/users/5",
                                "httpVersion": "HTTP/1.1",
                                "headers": [],
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
                    ],
                }
            }
        )
    )
    case = tmp_path / "c.db"
    result = run(case, "ingest", str(har), "--spec", str(SPECS / "shop-3.0.yaml"))
    assert result.exit_code == 0, result.output
    rows = json.loads(run(case, "endpoints", "--json", "--status", "documented").output)
    assert [(r["method"], r["template"]) for r in rows] == [("GET", "/v1/users/{id}")]
    again = run(case, "ingest", str(har), "--spec", str(SPECS / "legacy-2.0.json"))
    assert again.exit_code == 0 and "already ingested" in again.stdout
    hosts = {h["host"]: h["spec"] for h in json.loads(run(case, "hosts", "--json").output)}
    assert hosts[SHOP] == "Shop API"


def test_endpoints_explain(traffic: Path) -> None:
    run(traffic, "spec", "import", str(SPECS / "shop-3.0.yaml"))
    result = run(traffic, "endpoints", "explain", SHOP, "get", "/v1//users/42/", "--json")
    why = json.loads(result.stdout)
    assert why["template"] == "/v1/users/{id}" and why["source"] == "documented"
    assert why["normalised_path"] == "/v1/users/42" and why["status"] == "documented"
    assert [d["kind"] for d in why["segments"]] == ["literal", "literal", "parameter"]
    text = run(traffic, "endpoints", "explain", SHOP, "PATCH", "/v1/users/7").stdout
    assert "status:   shadow" in text and "not for PATCH" in text
    unknown = run(traffic, "endpoints", "explain", "other.example", "GET", "/a/99").stdout
    assert "no spec in the case documents other.example" in unknown
    assert "an integer" in unknown
    assert run(traffic, "endpoints", "explain", SHOP, "GET", "no-slash").exit_code == 2


def test_openapi_export_validates_and_copies_no_value(traffic: Path, tmp_path: Path) -> None:
    run(traffic, "spec", "import", str(SPECS / "shop-3.0.yaml"))
    out = tmp_path / "shop.yaml"
    result = run(traffic, "openapi", "export", "--host", SHOP, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    doc = yaml.safe_load(text)
    validate(doc)  # openapi-spec-validator: a valid OpenAPI 3.1 document
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": f"http://{SHOP}"}]
    users = doc["paths"]["/v1/users/{id}"]
    get = users["get"]
    assert get["parameters"][0] == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert [p["name"] for p in get["parameters"][1:]] == ["fields"]  # api_key is a scheme
    assert get["security"] == [{"query_api_key": []}]
    assert doc["components"]["securitySchemes"]["query_api_key"] == {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
    }
    assert get["x-ir-console"]["classification"] == "documented"
    assert "200" in get["responses"]
    assert users["patch"]["x-ir-console"]["classification"] == "shadow"
    assert "requestBody" in users["patch"]
    assert doc["paths"]["/v1/orders/{orderId}"]["get"]["deprecated"] is True
    lookup = doc["paths"]["/v1/lookup/{email}"]["get"]
    assert lookup["parameters"][0]["schema"] == {"type": "string", "format": "email"}
    assert lookup["security"] == []  # never seen with a credential
    assert "/v1/reports/export" not in doc["paths"]  # an orphan was not observed
    for value in (SECRET, EMAIL, "42", "A1"):
        assert value not in text.replace("'", ""), value
    as_json = run(traffic, "openapi", "export", "--host", SHOP, "--format", "json")
    assert json.loads(as_json.stdout)["paths"].keys() == doc["paths"].keys()


def test_openapi_export_several_hosts(traffic: Path, tmp_path: Path) -> None:
    refused = run(traffic, "openapi", "export")
    assert refused.exit_code == 2 and "pass --host HOST" in refused.output
    folder = tmp_path / "oas"
    folder.mkdir()
    assert run(traffic, "openapi", "export", "-o", str(folder)).exit_code == 0
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["api.shop.example.openapi.yaml", "other.example.openapi.yaml"]
    for path in folder.iterdir():
        validate(yaml.safe_load(path.read_text()))
    from discovery.errors import SubjectNotFound

    with pytest.raises(SubjectNotFound) as info:  # main() maps it to one line and exit 2
        run(traffic, "openapi", "export", "--host", "nowhere.example")
    assert info.value.exit_code == 2
