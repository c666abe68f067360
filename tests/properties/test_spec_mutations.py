"""The spec loader on mutated specs (random deletions, replacements and renames in a valid spec's
JSON tree): it loads, or raises SpecError naming the file with ``where`` a JSON pointer that
exists in the mutated document (or "/"); never another exception."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.analyse.specs import load_spec
from discovery.errors import SpecError
from tests.paths import FIXTURES

SPECS = FIXTURES / "specs"
VALID = ["shop-3.0.yaml", "ledger-3.1.yaml", "legacy-2.0.json"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "#/components/schemas/Id",
            "common.yaml#/components/schemas/User",
            "#/nowhere",
            "http://remote.example/x.json",
            "",
            "/",
            "{id}",
            "3.0.3",
            "2.0",
            "path",
            "query",
            "string",
            "integer",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=8)
            | st.sampled_from(
                [
                    "$ref",
                    "get",
                    "parameters",
                    "name",
                    "in",
                    "schema",
                    "servers",
                    "url",
                    "variables",
                    "security",
                    "paths",
                    "default",
                    "/x/{id}",
                    "a/b~c",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _places(node: Any, parts: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [parts]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _places(v, (*parts, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _places(v, (*parts, i))
    return out


def _parent(doc: Any, parts: tuple[Any, ...]) -> Any:
    for p in parts[:-1]:
        doc = doc[p]
    return doc


@st.composite
def mutated_specs(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(VALID))
    doc = yaml.safe_load((SPECS / name).read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        places = [p for p in _places(doc) if p]
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent = _parent(doc, place)
        action = draw(st.sampled_from(["delete", "replace", "rename"]))
        if action == "delete":
            del parent[place[-1]]
        elif action == "replace" or isinstance(parent, list):
            parent[place[-1]] = draw(json_values)
        else:
            new = draw(st.text(max_size=10) | st.sampled_from(["$ref", "get", "x-y", "/a/{b}"]))
            if new not in parent:
                parent[new] = parent.pop(place[-1])
    return name, doc


def resolves(doc: Any, where: str) -> bool:
    """True when ``where`` is "/" or an RFC 6901 pointer to a node of ``doc``."""
    if where == "/":
        return True
    if not where.startswith("/"):
        return False
    node = doc
    for raw in where[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def check_mutated(case: tuple[str, Any]) -> None:
    _name, doc = case
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(SPECS / "common.yaml", Path(tmp) / "common.yaml")  # shop's sibling file
        path = Path(tmp) / "mutated.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        try:
            load_spec(path)
        except SpecError as exc:
            assert str(exc).startswith(str(path)), str(exc)
            assert exc.where is not None and resolves(doc, exc.where), (exc.where, str(exc))


def test_the_valid_specs_load() -> None:
    for name in VALID:
        assert load_spec(SPECS / name).operations


@settings(max_examples=40)
@given(mutated_specs())
def test_mutated_specs_load_or_point_at_the_problem(case: tuple[str, Any]) -> None:
    check_mutated(case)


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@given(mutated_specs())
def test_fuzz_mutated_specs_load_or_point_at_the_problem(case: tuple[str, Any]) -> None:
    check_mutated(case)
