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
from discovery.wire.paths import path_segments

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


_PATH_NAMES = frozenset({"path", "ref", "key", "file", "filename", "object", "prefix", "splat"})


def spans_slashes(name: str, param: Mapping[str, Any]) -> bool:
    """Whether a final whole-segment parameter (after a literal) may take the rest of a path,
    slashes included: an unconstrained string the spec marks as reserved-friendly (``allowReserved``,
    ``x-multi-segment``) or names as a path, ref or key (``{path}``, ``{ref}``, ``{logpath}``),
    as the Kubernetes proxy and the GitHub contents and git refs routes use them."""
    if param.get("allowReserved") or param.get("x-multi-segment"):
        return True
    schema = param.get("schema") or {}
    if schema.get("type") not in (None, "string") or any(
        k in schema for k in ("pattern", "enum", "format")
    ):
        return False
    lowered = name.lower()
    return lowered in _PATH_NAMES or lowered.endswith(("path", "_ref", "_key", "_file"))


class _ParamSegment:
    """A template segment with parameters (a whole-segment ``{id}`` or mixed ``{name}.json``)
    and the schema of one documented variant: operations whose parameters at the same place
    have different schemas (``{JournalID}`` uuid, ``{JournalNumber}`` integer) keep their own
    segment, so they stay apart."""

    __slots__ = ("check", "key", "literal_chars", "names", "regex", "schema_key", "spans")

    def __init__(self, segment: str, schema: Mapping[str, Any] | None) -> None:
        self.key = _PARAM.sub("{}", segment)
        self.names = _PARAM.findall(segment)
        self.literal_chars = len(self.key) - 2 * len(self.names)
        self.regex: re.Pattern[str] | None = None
        self.check: Check | None = None
        if self.key != "{}":
            pieces = [re.escape(p) for p in self.key.split("{}")]
            self.regex = re.compile("(.+?)".join(pieces) + r"\Z")
        elif schema:  # schema checks apply to whole-segment parameters only
            self.check = schema_check(schema)
        self.schema_key = json.dumps(schema or {}, sort_keys=True, default=str)
        self.spans = False  # a final parameter that may take the rest of the path

    def accepts(self, value: str) -> bool:
        if self.regex is not None:
            return self.regex.match(value) is not None
        return self.check is None or self.check(value)

    @property
    def constrained(self) -> bool:
        return self.check is not None


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    params: list[tuple[_ParamSegment, _Node]] = field(default_factory=list)
    template: str | None = None


class HostMatcher:
    """The documented templates of one host, in a trie walked literal-first with backtracking
    (iteratively: a path of any depth walks in constant stack)."""

    def __init__(self, host: str, operations: Iterable[Operation]) -> None:
        self.host = host
        self.root = _Node()
        self.operations: dict[tuple[str, str], Operation] = {}
        self.templates: dict[str, list[Operation]] = {}
        self._spanning = False
        for op in operations:
            canonical = self._add(op)
            self.operations.setdefault((op.method, canonical), op)
            self.templates.setdefault(canonical, []).append(op)
        self._sort()

    def _add(self, op: Operation) -> str:
        node = self.root
        params = {p["name"]: p for p in op.parameters if p.get("in") == "path"}
        segments = [s for s in op.template.split("/") if s]
        for i, segment in enumerate(segments):
            if "{" not in segment:
                node = node.literals.setdefault(segment, _Node())
                continue
            names = _PARAM.findall(segment)
            whole = len(names) == 1 and segment == "{" + names[0] + "}"
            param_spec = params.get(names[0], {}) if whole else {}
            param = _ParamSegment(segment, param_spec.get("schema") if whole else None)
            for existing, child in node.params:
                if existing.key == param.key and existing.schema_key == param.schema_key:
                    param, node = existing, child
                    break
            else:
                child = _Node()
                node.params.append((param, child))
                node = child
            after_literal = i > 0 and "{" not in segments[i - 1]
            if (
                whole
                and after_literal
                and i == len(segments) - 1
                and spans_slashes(names[0], param_spec)
            ):
                param.spans = self._spanning = True
        if node.template is None:
            node.template = op.template
        return node.template

    def _sort(self) -> None:
        # most specific first: more literal characters, then schema-constrained parameters
        stack = [self.root]
        while stack:
            node = stack.pop()
            node.params.sort(key=lambda pc: (-pc[0].literal_chars, not pc[0].constrained))
            stack.extend(node.literals.values())
            stack.extend(child for _, child in node.params)

    def literal_siblings(self, template: str, index: int) -> frozenset[str]:
        """The documented literals beside the parameter at ``index`` of a documented template
        (``stats`` beside ``{archive_format}``): routes a value there would have taken."""
        segments = [s for s in template.split("/") if s]
        nodes = [self.root]
        for segment in segments[:index]:
            following: list[_Node] = []
            for node in nodes:
                if "{" not in segment:
                    child = node.literals.get(segment)
                    if child is not None:
                        following.append(child)
                    continue
                key = _PARAM.sub("{}", segment)
                following.extend(c for p, c in node.params if p.key == key)
            nodes = following
        return frozenset(v for node in nodes for v in node.literals)

    def literal_segments(self) -> frozenset[str]:
        """Every literal segment of this host's documented templates."""
        return frozenset(s for t in self.templates for s in t.split("/") if s and "{" not in s)

    def match_path(self, path: str) -> str | None:
        """The documented template a (normalised) path falls under, or None."""
        return self.match_segments(path_segments(path))

    def match_segments(self, segments: list[str]) -> str | None:
        """``match_path`` for a path already split into (folded) segments."""
        found = _walk(self.root, segments, spanning=False)
        if found is None and self._spanning and len(segments) > 1:
            found = _walk(self.root, segments, spanning=True)
        return found

    def match(self, method: str, path: str) -> SpecMatch | None:
        """The documented path and operation of a request, or None when no path matches."""
        template = self.match_path(path)
        if template is None:
            return None
        return SpecMatch(template, self.operations.get((method, template)))


def _walk(root: _Node, segments: list[str], spanning: bool) -> str | None:
    """Depth-first, the literal child before parameters, each parameter tried only when what
    came before it failed (backtracking), with an explicit stack; with ``spanning``, a final
    parameter that may span slashes takes the rest of the path."""
    n = len(segments)
    if not spanning:  # the first path depth-first search would take: most paths end there
        node: _Node | None = root
        for value in segments:
            assert node is not None
            nxt = node.literals.get(value)
            if nxt is None:
                for param, child in node.params:
                    if param.accepts(value):
                        nxt = child
                        break
                else:
                    break
            node = nxt
        else:
            if node is not None and node.template is not None:
                return node.template
    stack: list[tuple[_Node, int, int]] = [(root, 0, -1)]  # (node, segment, next parameter)
    while stack:
        node, i, k = stack.pop()
        if i == n:
            if node.template is not None:
                return node.template
            continue
        value = segments[i]
        if k < 0:  # first visit: the literal child first, the parameters after it failed
            if node.params:
                stack.append((node, i, 0))
            literal = node.literals.get(value)
            if literal is not None:
                stack.append((literal, i + 1, -1))
            continue
        params = node.params
        while k < len(params):
            param, child = params[k]
            k += 1
            if not param.accepts(value):
                continue
            if k < len(params):
                stack.append((node, i, k))  # the next parameter, should this one fail
            if spanning and param.spans and child.template is not None and i < n - 1:
                stack.append((child, n, -1))
            stack.append((child, i + 1, -1))
            break
    return None


def load_matchers(store: Store) -> dict[str, HostMatcher]:
    """A matcher per host that has a spec in the case."""
    by_host: dict[str, list[Operation]] = {}
    for row in store.conn.execute(
        "SELECT so.id, so.host, so.method, so.template, so.deprecated, so.security, so.scopes, "
        "s.title, so.parameters FROM spec_operations so JOIN specs s ON s.id = so.spec_id "
        "WHERE so.protocol IS NULL ORDER BY so.spec_id, so.id"  # paths only (not GraphQL's)
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
