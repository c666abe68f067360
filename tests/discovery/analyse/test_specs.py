"""Spec loading: 2.0, 3.0 (sibling-file refs, server prefix), 3.1 (server variables); errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.analyse.specs import load_spec
from discovery.errors import SpecError
from tests.paths import FIXTURES

SPECS = FIXTURES / "specs"


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
    assert (
        load_spec(SPECS / "ledger-3.1.yaml", host="ledger.internal").hosts[0]["host"]
        == "ledger.internal"
    )


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("broken-schema-3.0.yaml", "/paths/~1items~1{id}/get/parameters/0"),
        ("broken-ref-3.0.yaml", "/paths/~1items~1{id}/get/parameters/0"),
        ("relative-server-3.0.yaml", "/servers"),
    ],
)
def test_broken_spec_names_pointer(name: str, where: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(SPECS / name)
    assert info.value.where == where
    assert info.value.exit_code == 2


def test_a_validated_spec_is_remembered_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openapi_spec_validator

    from discovery.analyse.specs.document import validation_cache_dir

    spec = tmp_path / "ledger.yaml"
    spec.write_bytes((SPECS / "ledger-3.1.yaml").read_bytes())
    calls: list[str] = []
    real = openapi_spec_validator.OpenAPIV31SpecValidator

    class Counting(real):  # type: ignore[misc, valid-type]
        def iter_errors(self):  # type: ignore[no-untyped-def]
            calls.append("validated")
            return super().iter_errors()

    monkeypatch.setattr(openapi_spec_validator, "OpenAPIV31SpecValidator", Counting)
    load_spec(spec)
    load_spec(spec)
    assert calls == ["validated"]  # the second load trusted the first
    assert len(list(validation_cache_dir().iterdir())) == 1
    spec.write_text(spec.read_text() + "\n# edited\n")
    load_spec(spec)
    assert calls == ["validated", "validated"]  # new content: validated again


def test_a_broken_spec_is_never_remembered(tmp_path: Path) -> None:
    """A spec whose structure ir-console can read but that fails openapi-spec-validator (no
    info.version) is refused every time, and nothing is remembered for it."""
    from discovery.analyse.specs.document import validation_cache_dir

    spec = tmp_path / "no-version.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: t}\nservers: [{url: 'https://a.example'}]\n"
        "paths:\n  /x:\n    get: {responses: {'200': {description: ok}}}\n"
    )
    assert load_spec(spec, validate=False).operations  # extraction alone accepts it
    for _ in range(2):
        with pytest.raises(SpecError, match="version"):
            load_spec(spec)
    assert not validation_cache_dir().exists() or not any(validation_cache_dir().iterdir())


def test_specs_with_sibling_refs_are_always_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from discovery.analyse.specs.document import load_document, validation_cache_key

    assert validation_cache_key(load_document(SPECS / "shop-3.0.yaml")) is None
    assert validation_cache_key(load_document(SPECS / "ledger-3.1.yaml")) is not None
