"""Matching observed paths to documented templates: literal segments beat parameters, parameter
schemas narrow what a parameter accepts (an integer ``{id}`` does not match ``me``), and the path
is chosen first, then the method (a new method on a documented path is still that path)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from discovery.case.store import Store

_PARAM = re.compile(r"\{([^{}/]+)\}")
_INTEGER = re.compile(r"-?\d+\Z")
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")

Check = Callable[[str], bool]


def schema_check(schema: Mapping[str, Any]) -> Check | None:
    """A predicate for a path value from a (compact) parameter schema; None accepts anything."""
    checks: list[Check] = []
    kind = schema.get("type")
    if kind == "integer":
        checks.append(lambda v: _INTEGER.match(v) is not None)
    elif kind == "number":
        checks.append(lambda v: _NUMBER.match(v) is not None)
    elif kind == "boolean":
        checks.append(lambda v: v in ("true", "false"))
    fmt = schema.get("format")
    if fmt == "uuid":
        checks.append(lambda v: _UUID.match(v) is not None)
    elif fmt == "date":
        checks.append(lambda v: _DATE.match(v) is not None)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        allowed = frozenset(str(e).lower() if isinstance(e, bool) else str(e) for e in enum)
        checks.append(lambda v: v in allowed)
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            compiled = re.compile(pattern)
        except re.error:
            compiled = None
        if compiled is not None:
            checks.append(lambda v: compiled.search(v) is not None)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def describe_schema(schema: Mapping[str, Any]) -> str:
    """A short human description of what a parameter schema accepts."""
    parts = [str(schema[k]) for k in ("type", "format") if k in schema]
    if "enum" in schema:
        parts.append("one of " + ", ".join(map(str, schema["enum"])))
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    return " ".join(parts) or "any value"


@dataclass(frozen=True, slots=True)
class Operation:
    """A documented operation as matching and the findings need it."""

    id: int
    host: str
    method: str
    template: str
    deprecated: bool
    security: list[dict[str, list[str]]] | None
    scopes: tuple[str, ...]
    spec_title: str
    parameters: tuple[dict[str, Any], ...] = ()


def requires_credential(
    security: list[dict[str, list[str]]] | None,
) -> TypeGuard[list[dict[str, list[str]]]]:
    """True when an operation's security requirement names a scheme in every alternative (an
    empty alternative ``{}`` or ``security: []`` makes a credential optional)."""
    return bool(security) and all(bool(req) for req in security or [])


@dataclass(frozen=True, slots=True)
class SpecMatch:
    """A documented path a request falls under, and its operation (None: method not documented)."""

    template: str
    operation: Operation | None


class _ParamSegment:
    """A template segment with parameters: a whole-segment ``{id}`` or mixed ``{name}.json``."""

    __slots__ = ("checks", "key", "literal_chars", "names", "regex")

    def __init__(self, segment: str) -> None:
        self.key = _PARAM.sub("{}", segment)
        self.names = _PARAM.findall(segment)
        self.literal_chars = len(self.key) - 2 * len(self.names)
        self.regex: re.Pattern[str] | None = None
        if self.key != "{}":
            pieces = [re.escape(p) for p in self.key.split("{}")]
            self.regex = re.compile("(.+?)".join(pieces) + r"\Z")
        self.checks: list[Check | None] = []  # one per documented variant; None = any value

    def accepts(self, value: str) -> bool:
        if self.regex is not None:  # schema checks apply to whole-segment parameters only
            return self.regex.match(value) is not None
        if not self.checks:
            return True
        return any(check is None or check(value) for check in self.checks)

    @property
    def constrained(self) -> bool:
        return bool(self.checks) and all(c is not None for c in self.checks)


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    params: list[tuple[_ParamSegment, _Node]] = field(default_factory=list)
    template: str | None = None


class HostMatcher:
    """The documented templates of one host, in a trie walked literal-first with backtracking."""

    def __init__(self, host: str, operations: Iterable[Operation]) -> None:
        self.host = host
        self.root = _Node()
        self.operations: dict[tuple[str, str], Operation] = {}
        self.templates: dict[str, list[Operation]] = {}
        for op in operations:
            canonical = self._add(op)
            self.operations.setdefault((op.method, canonical), op)
            self.templates.setdefault(canonical, []).append(op)
        self._sort(self.root)

    def _add(self, op: Operation) -> str:
        node = self.root
        schemas = {p["name"]: p.get("schema") or {} for p in op.parameters if p.get("in") == "path"}
        for segment in [s for s in op.template.split("/") if s]:
            if "{" not in segment:
                node = node.literals.setdefault(segment, _Node())
                continue
            param = _ParamSegment(segment)
            for existing, child in node.params:
                if existing.key == param.key:
                    param, node = existing, child
                    break
            else:
                child = _Node()
                node.params.append((param, child))
                node = child
            if param.regex is None:
                param.checks.append(schema_check(schemas.get(param.names[0], {})))
        if node.template is None:
            node.template = op.template
        return node.template

    def _sort(self, node: _Node) -> None:
        # most specific first: more literal characters, then schema-constrained parameters
        node.params.sort(key=lambda pc: (-pc[0].literal_chars, not pc[0].constrained))
        for child in node.literals.values():
            self._sort(child)
        for _, child in node.params:
            self._sort(child)

    def match_path(self, path: str) -> str | None:
        """The documented template a (normalised) path falls under, or None."""
        segments = [s for s in path.split("/") if s]
        return _walk(self.root, segments, 0)

    def match(self, method: str, path: str) -> SpecMatch | None:
        """The documented path and operation of a request, or None when no path matches."""
        template = self.match_path(path)
        if template is None:
            return None
        return SpecMatch(template, self.operations.get((method, template)))


def _walk(node: _Node, segments: list[str], i: int) -> str | None:
    if i == len(segments):
        return node.template
    value = segments[i]
    child = node.literals.get(value)
    if child is not None:
        found = _walk(child, segments, i + 1)
        if found is not None:
            return found
    for param, child in node.params:
        if param.accepts(value):
            found = _walk(child, segments, i + 1)
            if found is not None:
                return found
    return None


def load_matchers(store: Store) -> dict[str, HostMatcher]:
    """A matcher per host that has a spec in the case."""
    by_host: dict[str, list[Operation]] = {}
    for row in store.conn.execute(
        "SELECT so.id, so.host, so.method, so.template, so.deprecated, so.security, so.scopes, "
        "s.title, so.parameters FROM spec_operations so JOIN specs s ON s.id = so.spec_id "
        "ORDER BY so.spec_id, so.id"
    ):
        by_host.setdefault(row[1], []).append(
            Operation(
                id=int(row[0]),
                host=row[1],
                method=row[2],
                template=row[3],
                deprecated=bool(row[4]),
                security=None if row[5] is None else json.loads(row[5]),
                scopes=tuple(json.loads(row[6])),
                spec_title=row[7],
                parameters=tuple(json.loads(row[8])),
            )
        )
    return {host: HostMatcher(host, ops) for host, ops in by_host.items()}
