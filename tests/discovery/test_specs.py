"""Spec loading: 2.0, 3.0 (sibling-file refs, server prefix), 3.1 (server variables); errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.errors import SpecError
from discovery.specs import load_spec

SPECS = Path(__file__).parent.parent / "fixtures" / "specs"


def test_openapi_30_with_sibling_refs_and_prefix() -> None:
    spec = load_spec(SPECS / "shop-3.0.yaml")
    ops = {(o.method, o.template): o for o in spec.operations}
    assert spec.hosts == [{"host": "api.shop.example", "base_path": "/v1"}]
    assert ops[("GET", "/v1/users/{id}")].parameters[0]["schema"]["type"] == "integer"
    assert ops[("GET", "/v1/health")].security == []
    assert ops[("GET", "/v1/orders/{orderId}")].deprecated


def test_swagger_20_and_openapi_31_hosts() -> None:
    legacy = load_spec(SPECS / "legacy-2.0.json")
    assert legacy.hosts == [{"host": "legacy.example.com", "base_path": "/api"}]
    ledger = load_spec(SPECS / "ledger-3.1.yaml")
    assert ledger.hosts == [{"host": "eu.ledger.example", "base_path": "/api/v2"}]
    assert load_spec(SPECS / "ledger-3.1.yaml", host="ledger.internal").hosts[0]["host"] == \
        "ledger.internal"


@pytest.mark.parametrize(("name", "where"), [
    ("broken-schema-3.0.yaml", "/paths/~1items~1{id}/get/parameters/0"),
    ("broken-ref-3.0.yaml", "/paths/~1items~1{id}/get/parameters/0"),
    ("relative-server-3.0.yaml", "/servers"),
])
def test_broken_spec_names_pointer(name: str, where: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(SPECS / name)
    assert info.value.where == where
    assert info.value.exit_code == 2
