"""GraphQL requests recognised by their content and parsed, within bounds, into operations.

A GraphQL API is one URL carrying many operations, so the request's content says what was
called: a JSON body with a ``query`` string (or an array of them: a batch), a GET with
``query=``, an ``application/graphql`` body, or a persisted-query hash
(``extensions.persistedQuery.sha256Hash``, Apollo's automatic persisted queries) standing in
for the document. Recognition never depends on the path's name.

Each document is parsed with graphql-core, bounded so that a hostile document costs at most
work proportional to its own (already bounded) size: its length, its nesting (checked by a
linear scan before the recursive parser sees it), its token count (graphql-core stops lexing
past ``MAX_TOKENS``), and, after the parse, the fields walked through fragments, the aliases
and the selection depth. A document over a bound is *rejected* with a reason
(``GraphQLCall.rejected``), never parsed further.

The values a request carries (variables, string arguments written in the document) are
returned for the secret boundary to inspect (``discovery.redact``); nothing here keeps them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # graphql-core is imported at the first document parsed (it costs 0.2 s of
    # start-up, in every ingest and in each of its reader processes, for traffic that is
    # mostly not GraphQL)
    from graphql.language import ast

MAX_DOCUMENT = 64 * 1024  # characters of one document (the kept body prefix is 64 KiB too)
MAX_TOKENS = 3_000  # tokens of one document, counted before the parse (a large real query
# has a few hundred; graphql-core's lexer costs about 10 us a token)
MAX_STRING = 4096  # characters of one string literal in a document (values go in variables)
MAX_NESTING = 64  # brackets ({, (, [) open at once, checked before the recursive parse
MAX_DEPTH = 32  # selection depth (root fields are at depth 1), fragments expanded
MAX_ALIASES = 500  # aliased fields in one operation (alias batching is a brute-force path)
MAX_WALK = 20_000  # field nodes visited while expanding fragments
MAX_BATCH = 100  # operations in one batched request
MAX_FIELDS_KEPT = 64  # field paths kept per operation
MAX_ROOT_IN_LABEL = 4  # root fields naming an anonymous operation
MAX_VALUES = 256  # variable and argument values handed to the detectors per call
CACHED_DOCUMENTS = 2048  # parsed documents remembered (clients repeat the same documents)
MAX_CACHED = 8192  # characters of a document worth remembering

# what a GraphQL document starts with once ignored tokens (whitespace, commas, comments) and a
# byte-order mark are skipped: a selection set or an executable definition's keyword
_DOCUMENT_START = re.compile(
    r"(?:[\s,\ufeff]|#[^\n\r]*)*(?:\{|query\b|mutation\b|subscription\b|fragment\b)"
)
# strings and comments, removed before the bracket scan (their brackets are not structure)
_NOT_STRUCTURE = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*(?:"""|$)|"(?:[^"\\\n]|\\.)*"?|#[^\n\r]*')
_BRACKETS = re.compile(r"[^{}()\[\]]+")
_LONG_STRING = re.compile(rf'"(?:[^"\\\n]|\\.){{{MAX_STRING}}}|"""(?:[^"]|"(?!"")){{{MAX_STRING}}}')
_TOKEN = re.compile(r"[_A-Za-z][_0-9A-Za-z]*|-?[0-9][0-9.eE+-]*|\.\.\.|[!$&():=@\[\]{}|]")
_HASH = re.compile(r"[0-9a-fA-F]{16,128}")
_JSON_TEXT = re.compile(r'\s*(?:\{\s*(?:"|\})|\[)')  # a JSON object or array, not a selection


@dataclass(frozen=True, slots=True)
class GraphQLOperation:
    """One executed operation: what a GraphQL endpoint in the inventory is made of."""

    kind: str  # "query" | "mutation" | "subscription" | "persisted" (hash only, no document)
    name: str | None  # the operation's name, or the request's operationName for a hash
    root_fields: tuple[str, ...]  # field names selected at the root (fragments expanded)
    fields: tuple[str, ...]  # field paths ("user", "user.email"), the first MAX_FIELDS_KEPT
    depth: int  # deepest selection (root fields are 1)
    aliases: int  # aliased fields
    persisted_hash: str | None = None  # sha256Hash of a persisted query, when the request has one

    @property
    def label(self) -> str:
        """How the inventory names it: ``mutation createUser``; an anonymous operation by its
        root fields (``query user,viewer``); a bare persisted query by its hash's prefix."""
        if self.name:
            return f"{self.kind} {self.name}"
        if self.root_fields:
            shown = sorted(set(self.root_fields))
            more = "+" if len(shown) > MAX_ROOT_IN_LABEL else ""
            return f"{self.kind} {','.join(shown[:MAX_ROOT_IN_LABEL])}{more}"
        if self.persisted_hash:
            return f"{self.kind} sha256:{self.persisted_hash[:16].lower()}"
        return self.kind

    @property
    def introspection(self) -> bool:
        """Whether it asks for the schema (``__schema`` or ``__type`` at the root)."""
        return "__schema" in self.root_fields or "__type" in self.root_fields


@dataclass(frozen=True, slots=True)
class GraphQLCall:
    """One call of a request (a batch has several): its operation, or why it was rejected, and
    the raw values it carried (for the credential detectors and the sensitive-data scan)."""

    operation: GraphQLOperation | None
    rejected: str | None = None  # "size" | "nesting" | "tokens" | "depth" | "aliases" | ...
    values: tuple[tuple[str, str], ...] = ()  # (variable or argument name, raw string value)
    variable_names: tuple[str, ...] = ()


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_document(text: str) -> bool:
    """Whether a string starts as a GraphQL executable document does (and has the selection
    set every operation and fragment has): ``query for shoes`` and JSON text do not."""
    if "{" not in text or _JSON_TEXT.match(text) is not None:
        return False
    return _DOCUMENT_START.match(text) is not None


def calls_of(
    method: str | None,
    query: list[tuple[str, str]],
    content_type: str | None,
    body: bytes,
) -> tuple[GraphQLCall, ...] | None:
    """The GraphQL calls of a request, or None when it is not a GraphQL request.

    ``query`` is the request's decoded query pairs; ``body`` the kept (decoded) body prefix.
    """
    if method is None:
        return None
    kind = _media_type(content_type)
    if body:
        if kind == "application/graphql":
            return (_call(body.decode("utf-8", "replace"), None, None, None),)
        if (b'"query"' in body or b"persistedQuery" in body) and (
            "json" in kind or body.lstrip()[:1] in (b"{", b"[")
        ):
            return _json_calls(body)
    if query and method.upper() in ("GET", "POST"):
        return _get_call(query)
    return None


def _get_call(pairs: list[tuple[str, str]]) -> tuple[GraphQLCall, ...] | None:
    """A GET-style call: ``query``, ``operationName``, ``variables``, ``extensions`` as query
    parameters (the GraphQL over HTTP draft, and Apollo's persisted queries)."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in ("query", "operationName", "variables", "extensions"):
            params.setdefault(name, value)
    document = params.get("query")
    extensions = _loads_object(params.get("extensions"))
    persisted = _persisted_hash(extensions)
    if document is None and persisted is None:
        return None
    if document is not None and not looks_like_document(document):
        return None  # a search parameter named query, not a GraphQL document
    variables = _loads_object(params.get("variables"))
    return (_call(document, params.get("operationName"), variables, persisted),)


def _loads_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _json_calls(body: bytes) -> tuple[GraphQLCall, ...] | None:
    """The calls of a JSON body: one object, or an array of them (a batch)."""
    try:
        payload = json.loads(body)
    except RecursionError:
        return (GraphQLCall(None, "nesting"),)
    except ValueError:
        if len(body) >= MAX_DOCUMENT and b'"query"' in body[:4096]:
            return (GraphQLCall(None, "truncated"),)  # cut at the kept prefix: named, counted
        return None
    items = payload if isinstance(payload, list) else [payload]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    calls: list[GraphQLCall] = []
    for item in items:
        document = item.get("query")
        extensions = item.get("extensions")
        persisted = _persisted_hash(extensions if isinstance(extensions, dict) else None)
        if not isinstance(document, str):
            document = None
        if document is None and persisted is None:
            if calls or len(items) > 1:
                calls.append(GraphQLCall(None, "no_document"))
                continue
            return None  # {"query": {...}} (a search DSL), not GraphQL
        if document is not None and not looks_like_document(document):
            if len(items) == 1:
                return None
            calls.append(GraphQLCall(None, "syntax"))
            continue
        if len(calls) >= MAX_BATCH:
            calls.append(GraphQLCall(None, "batch"))
            break
        name = item.get("operationName")
        variables = item.get("variables")
        calls.append(
            _call(
                document,
                name if isinstance(name, str) else None,
                variables if isinstance(variables, dict) else None,
                persisted,
            )
        )
    return tuple(calls)


def _persisted_hash(extensions: dict[str, Any] | None) -> str | None:
    if not extensions:
        return None
    persisted = extensions.get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    value = persisted.get("sha256Hash")
    if isinstance(value, str) and _HASH.fullmatch(value):
        return value.lower()
    return None


def _call(
    document: str | None,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    persisted: str | None,
) -> GraphQLCall:
    values: list[tuple[str, str]] = []
    names: tuple[str, ...] = ()
    if variables:
        names = tuple(str(k)[:128] for k in list(variables)[:MAX_VALUES])
        _flatten(variables, "", values)
    if operation_name is not None and not _NAME.fullmatch(operation_name):
        operation_name = None  # not a GraphQL name: never shown
    if document is None:
        op = GraphQLOperation("persisted", operation_name, (), (), 0, 0, persisted)
        return GraphQLCall(op, None, tuple(values), names)
    found, reason, inline = parsed(document, operation_name)
    values.extend(inline)
    if found is None:
        return GraphQLCall(None, reason, tuple(values), names)
    op = found
    if persisted is not None:
        op = GraphQLOperation(
            op.kind, op.name, op.root_fields, op.fields, op.depth, op.aliases, persisted
        )
    return GraphQLCall(op, None, tuple(values), names)


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}")


def _flatten(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    """String leaves of a variables object as (dotted path, value), the first MAX_VALUES."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(out) < MAX_VALUES:
        where, item = stack.pop()
        if isinstance(item, str):
            out.append((where.rsplit(".", 1)[-1] or "variables", item))
        elif isinstance(item, dict):
            for key, sub in list(item.items())[:MAX_VALUES]:
                stack.append((f"{where}.{key}" if where else str(key), sub))
        elif isinstance(item, list):
            for sub in item[:MAX_VALUES]:
                stack.append((where, sub))


def prescan(document: str) -> str | None:
    """Why a document is over a bound, from linear scans (no parse): its size, a string
    literal's length, its bracket nesting, its token count; else None."""
    if len(document) > MAX_DOCUMENT:
        return "size"
    if len(document) > MAX_STRING and _LONG_STRING.search(document) is not None:
        return "string"
    structure, strings = _NOT_STRUCTURE.subn(" ", document)
    if nesting(structure) > MAX_NESTING:
        return "nesting"
    if strings + len(_TOKEN.findall(structure)) > MAX_TOKENS:
        return "tokens"
    return None


def nesting(structure: str) -> int:
    """The deepest bracket nesting of a document whose strings and comments are removed."""
    brackets = _BRACKETS.sub("", structure)
    depth = deepest = 0
    for ch in brackets:
        if ch in "{([":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth > 0:
            depth -= 1
    return deepest


_Parsed = tuple[GraphQLOperation | None, str | None, tuple[tuple[str, str], ...]]


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _parsed_cached(document: str, operation_name: str | None) -> _Parsed:
    return _parsed(document, operation_name)


def parsed(document: str, operation_name: str | None) -> _Parsed:
    """(operation or None, rejection reason or None, string arguments written in it) of a
    document. Clients send the same few documents with new variables each time, so parses of
    documents up to MAX_CACHED characters are remembered (a bounded LRU)."""
    if len(document) <= MAX_CACHED:
        return _parsed_cached(document, operation_name)
    return _parsed(document, operation_name)


def _parsed(document: str, operation_name: str | None) -> _Parsed:
    reason = prescan(document)
    if reason is not None:
        return None, reason, ()
    from graphql import GraphQLError, parse
    from graphql.language import ast as nodes

    values: list[tuple[str, str]] = []
    try:
        tree = parse(document, no_location=True, max_tokens=MAX_TOKENS * 2)
        operations: list[ast.OperationDefinitionNode] = []
        fragments: dict[str, ast.FragmentDefinitionNode] = {}
        for definition in tree.definitions:
            if isinstance(definition, nodes.OperationDefinitionNode):
                operations.append(definition)
            elif isinstance(definition, nodes.FragmentDefinitionNode):
                fragments[definition.name.value] = definition
        op = _walk(_choose(operations, operation_name), fragments, values)
    except GraphQLError:
        return None, "syntax", ()
    except RecursionError:  # pragma: no cover - the nesting bound comes first
        return None, "nesting", ()
    except _Rejected as exc:
        return None, exc.reason, tuple(values)
    return op, None, tuple(values)


def _choose(
    operations: list[ast.OperationDefinitionNode], operation_name: str | None
) -> ast.OperationDefinitionNode:
    """The operation a server executes: the one named by operationName, else the only one."""
    if operation_name:
        for op in operations:
            if op.name is not None and op.name.value == operation_name:
                return op
        raise _Rejected("unknown_operation")
    if len(operations) != 1:
        raise _Rejected("no_operation" if not operations else "ambiguous_operation")
    return operations[0]


def _walk(
    op: ast.OperationDefinitionNode,
    fragments: dict[str, ast.FragmentDefinitionNode],
    values: list[tuple[str, str]],
) -> GraphQLOperation:
    """Root fields, field paths, depth and aliases of an operation, fragments expanded; bounded
    by MAX_WALK visits (fragment cycles end where they repeat on the path)."""
    from graphql.language import ast as nodes

    roots: dict[str, None] = {}
    paths: dict[str, None] = {}
    depth = aliases = visits = 0
    # (selection set, depth of its fields, path prefix, fragments on the path)
    stack: list[tuple[ast.SelectionSetNode, int, str, frozenset[str]]] = [
        (op.selection_set, 1, "", frozenset())
    ]
    while stack:
        selection_set, level, prefix, seen = stack.pop()
        for selection in selection_set.selections:
            visits += 1
            if visits > MAX_WALK:
                raise _Rejected("complexity")
            if isinstance(selection, nodes.FieldNode):
                name = selection.name.value
                if selection.alias is not None:
                    aliases += 1
                    if aliases > MAX_ALIASES:
                        raise _Rejected("aliases")
                if level > depth:
                    depth = level
                    if depth > MAX_DEPTH:
                        raise _Rejected("depth")
                path = f"{prefix}.{name}" if prefix else name
                if level == 1:
                    roots[name] = None
                if len(paths) < MAX_FIELDS_KEPT:
                    paths[path] = None
                if selection.arguments and len(values) < MAX_VALUES:
                    _argument_strings(selection.arguments, values, nodes)
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, level + 1, path, seen))
            elif isinstance(selection, nodes.InlineFragmentNode):
                stack.append((selection.selection_set, level, prefix, seen))
            elif isinstance(selection, nodes.FragmentSpreadNode):
                target = selection.name.value
                fragment = fragments.get(target)
                if fragment is not None and target not in seen:
                    stack.append((fragment.selection_set, level, prefix, seen | {target}))
    return GraphQLOperation(
        str(op.operation.value),  # OperationType: query, mutation or subscription
        op.name.value if op.name is not None else None,
        tuple(roots),
        tuple(paths),
        depth,
        aliases,
    )


def _argument_strings(arguments: Any, values: list[tuple[str, str]], nodes: ModuleType) -> None:
    """String literals written as arguments (``login(password: "...")``): values the document
    carries inline, which the detectors must see as they see variables. ``nodes``:
    ``graphql.language.ast``, imported once per walk (not per field)."""
    for argument in arguments:
        stack: list[tuple[str, Any]] = [(argument.name.value, argument.value)]
        while stack and len(values) < MAX_VALUES:
            name, node = stack.pop()
            if isinstance(node, nodes.StringValueNode):
                values.append((name, node.value))
            elif isinstance(node, nodes.ObjectValueNode):
                stack.extend((f.name.value, f.value) for f in node.fields)
            elif isinstance(node, nodes.ListValueNode):
                stack.extend((name, v) for v in node.values)


def response_outcomes(body: bytes, count: int) -> list[str | None]:
    """Per call of a request of ``count`` calls, the response's outcome: ``data`` (some field
    answered), ``errors``, ``data+errors``, or None when the response cannot be read."""
    unknown: list[str | None] = [None] * count
    if not body or body.lstrip()[:1] not in (b"{", b"["):
        return unknown
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return unknown
    items = payload if isinstance(payload, list) else [payload]
    out: list[str | None] = []
    for i in range(count):
        item = items[i] if i < len(items) else None
        if not isinstance(item, dict):
            out.append(None)
            continue
        data = item.get("data")
        errors = item.get("errors")
        has_data = isinstance(data, dict) and any(v is not None for v in data.values())
        has_errors = isinstance(errors, list) and bool(errors)
        outcome = (
            "data+errors"
            if has_data and has_errors
            else "data"
            if has_data
            else "errors"
            if has_errors
            else None
        )
        out.append(outcome)
    return out
