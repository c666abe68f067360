"""Documents the responder imports (an API description, the identity register) nested deeper than
their readers go: a JSON spec nested thousands deep, a schema a few hundred levels deep (the
OpenAPI validator recurses several frames per level), depth made by an alias, a chain of
thousands of ``$ref``s, a register nested deep. Each is refused with one line naming the file
and the place (exit 2), nothing changes in the case, and the case stays usable."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from discovery import boundedyaml
from tests.reliability.clirun import Outcome, run_main

HEAD = 'openapi: 3.0.3\ninfo: {title: deep, version: "1"}\nservers: [{url: "https://api.example.com"}]\n'


def spec_yaml(schema: str) -> str:
    """A one-operation spec whose response schema is ``schema`` (YAML flow text)."""
    return (
        f"{HEAD}paths:\n  /a:\n    get:\n      responses:\n        '200':\n"
        "          description: ok\n          content:\n            application/json:\n"
        f"              schema: {schema}\n"
    )


def nested(levels: int, key: str = "items") -> str:
    """A schema ``levels`` deep in flow YAML (also JSON when keys are quoted)."""
    return f'{{"{key}": ' * levels + '{"type": "string"}' + "}" * levels


def spec_json(schema_text: str) -> str:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "deep", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": "__SCHEMA__"}},
                        }
                    }
                }
            }
        },
    }
    return json.dumps(doc).replace('"__SCHEMA__"', schema_text)


def ref_chain(length: int) -> str:
    """``length`` schemas, each an array of the next (no nesting: the depth is in the $refs)."""
    schemas: dict[str, object] = {
        f"S{i}": {"type": "array", "items": {"$ref": f"#/components/schemas/S{i + 1}"}}
        for i in range(length)
    }
    schemas[f"S{length}"] = {"type": "string"}
    doc = json.loads(spec_json('{"$ref": "#/components/schemas/S0"}'))
    doc["components"] = {"schemas": schemas}
    return json.dumps(doc)


def alias_deepened() -> str:
    """A response schema 100 levels deep ending in an alias of another 100 levels: 200 once
    expanded (what the validator walks), though no part of the text is nested more than 100."""
    half = 100
    inner = f"x-parts:\n  inner: &inner {nested(half)}\n"
    return spec_yaml(nested(half).replace('{"type": "string"}', "*inner")).replace(
        "paths:", inner + "paths:"
    )


# name -> (file name, content, text expected in the error)
SPECS: dict[str, tuple[str, str, str]] = {
    "json nested 5,000 deep": ("deep.json", spec_json("[" * 5000 + "]" * 5000), "nested deeper"),
    "json schema 300 deep": ("deep.json", spec_json(nested(300)), "/paths/~1a/get/responses"),
    "yaml schema 300 deep": ("deep.yaml", spec_yaml(nested(300)), "line "),
    "yaml not 150 deep": ("deep.yaml", spec_yaml(nested(150, "not")), "line "),
    "yaml depth made by an alias": ("deep.yaml", alias_deepened(), "nested deeper"),
    "json 3,000 chained $refs": ("chain.json", ref_chain(3000), "--no-validate"),
}


def one_line(outcome: Outcome, path: Path, text: str) -> None:
    assert outcome.code == 2, outcome
    assert "Traceback" not in outcome.err and outcome.err.count("\n") == 1, outcome.err
    assert str(path) in outcome.err and text in outcome.err, outcome.err


def counts(case: Path) -> tuple[int, int]:
    conn = sqlite3.connect(case)
    try:
        return (
            conn.execute("SELECT COUNT(*) FROM specs").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM identities WHERE registered = 1").fetchone()[0],
        )
    finally:
        conn.close()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_spec_nested_too_deep_is_refused_naming_the_place(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    file_name, text, needle = SPECS[name]
    case = tmp_path / "case.db"
    good = tmp_path / "good.yaml"
    good.write_text(spec_yaml(nested(3)))
    assert run_main(capsys, case, "spec", "import", good).code == 0
    before = counts(case)
    path = tmp_path / file_name
    path.write_text(text)
    one_line(run_main(capsys, case, "spec", "import", path), path, needle)
    assert counts(case) == before
    assert run_main(capsys, case, "endpoints", "--json").code == 0


def test_a_chain_of_refs_imports_without_validation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """What the validator cannot follow, ir-console's own reading does (it follows a $ref
    only where it needs one, and a bounded number of times)."""
    path = tmp_path / "chain.json"
    path.write_text(ref_chain(3000))
    outcome = run_main(capsys, tmp_path / "case.db", "spec", "import", "--no-validate", path)
    assert outcome.code == 0, outcome
    assert "1 operations" in outcome.err


def test_a_deep_spec_within_the_bound_imports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The bound is no tighter than it says: a schema as deep as it allows is validated and
    imported (the spec's own levels above the schema count too)."""
    levels = boundedyaml.MAX_DEPTH - 12
    path = tmp_path / "deep.yaml"
    path.write_text(spec_yaml(nested(levels)))
    outcome = run_main(capsys, tmp_path / "case.db", "spec", "import", path)
    assert outcome.code == 0, outcome


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_register_nested_too_deep_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    case = tmp_path / "case.db"
    good = tmp_path / "good.yaml"
    good.write_text("identities:\n  - name: ci-deployer\n    owner: platform\n")
    assert run_main(capsys, case, "inventory", "import", good).code == 0
    path = tmp_path / f"register.{fmt}"
    path.write_text(
        '{"identities": [{"name": "a", "owner": ' + '{"a": ' * 990 + "1" + "}" * 990 + "}]}"
    )
    one_line(run_main(capsys, case, "inventory", "import", path), path, "nested deeper")
    assert counts(case) == (0, 1)
    assert run_main(capsys, case, "identities", "--json").code == 0
