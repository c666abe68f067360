"""Exports: `openapi export` leaves gRPC methods out (they are no REST paths) and `grpc export`
lists them, with their classification, outcomes and the metadata that carried credentials."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.case.writer import ExchangeWriter
from discovery.models import observed_exchange
from ir_console.cli import cli
from tests.discovery.grpc.conftest import Captured
from tests.discovery.grpc.grpc_lab import GET_ACCOUNT_OUTCOMES

pytestmark = pytest.mark.integration


def _with_rest(captured: Captured, tmp_path: Path) -> Path:
    """The captured case plus one REST call to the same host."""
    case = tmp_path / "case.db"
    shutil.copy(captured.case, case)
    with Store.open(case) as store:
        writer = ExchangeWriter(store, None)
        writer.add(
            observed_exchange(
                ts=1.7e9,
                source="pcap",
                evidence="frame 1",
                http_version="1.1",
                method="GET",
                target="/v1/health",
                host=captured.lab.target,
                status=200,
                response_headers=(("content-type", "application/json"),),
            )
        )
        writer.flush()
        recompute(store)
    return case


def _run(case: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(case), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_openapi_export_has_no_grpc_method(captured: Captured, tmp_path: Path) -> None:
    case = _with_rest(captured, tmp_path)
    doc = json.loads(_run(case, "openapi", "export", "--format", "json"))
    assert list(doc["paths"]) == ["/v1/health"]


def test_grpc_export_lists_the_methods(captured: Captured, tmp_path: Path) -> None:
    case = _with_rest(captured, tmp_path)
    _run(
        case, "spec", "import", str(captured.compiled.descriptor_set), "--host", captured.lab.target
    )
    rows = json.loads(_run(case, "grpc", "export"))
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {
        "/lab.internal.Debug/Dump",
        "/lab.v1.Accounts/DeleteAccount",
        "/lab.v1.Accounts/GetAccount",
    }  # observed methods only: no REST path, no orphan
    get = by_path["/lab.v1.Accounts/GetAccount"]
    assert get["service"] == "lab.v1.Accounts" and get["method"] == "GetAccount"
    assert get["status"] == "documented" and get["spec"] == "lab.v1.Accounts"
    assert get["outcomes"] == GET_ACCOUNT_OUTCOMES
    assert get["protocols"] == ["grpc"]
    assert {"kind": "bearer", "name": "authorization"} in get["metadata_credentials"]
    assert by_path["/lab.v1.Accounts/DeleteAccount"]["deprecated"] is True
    assert by_path["/lab.v1.Accounts/DeleteAccount"]["status"] == "zombie"
    assert by_path["/lab.internal.Debug/Dump"]["status"] == "shadow"
    text = _run(case, "grpc", "export")
    assert captured.lab.token[-8:] not in text and captured.lab.api_key[-8:] not in text
