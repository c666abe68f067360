"""GraphQL schemas as specs: SDL (``.graphql``, ``.graphqls``, ``.gql``) or an introspection
result (JSON with ``__schema``, bare or under ``data``), read with graphql-core.

Every root field (``Query.user``, ``Mutation.createUser``) is a documented operation of the
host's GraphQL endpoint; the schema's types, each field with its return type and deprecation,
are kept beside the spec (``specs.schema``) so an observed operation's field paths can be
checked for deprecated fields. A schema names no server: ``--host HOST[/PATH]`` says which
endpoint it documents (``/graphql`` when no path is given).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # graphql-core is imported where a schema is built or read (the analysis
    # imports this module on every ingest, for cases that mostly hold no GraphQL schema)
    from graphql import GraphQLSchema

from discovery.analyse.specs.document import read_text
from discovery.analyse.specs.model import LoadedSpec, SpecOperation
from discovery.errors import SpecError

PROTOCOL = "graphql"
SDL_SUFFIXES = (".graphql", ".graphqls", ".gql", ".sdl")
DEFAULT_PATH = "/graphql"
MAX_SCHEMA = 32 * 1024 * 1024  # characters of a schema file (the largest public SDLs are ~2 MB)
ROOT_KINDS = ("query", "mutation", "subscription")


def is_graphql_schema(path: Path, text: str) -> bool:
    """Whether a spec file is a GraphQL schema: by its suffix, or an introspection result."""
    if path.suffix.lower() in SDL_SUFFIXES:
        return True
    head = text.lstrip()[:1]
    if head != "{":
        return False
    return '"__schema"' in text[:4096] or '"__schema"' in text[-4096:]


def _introspection(root: Any) -> dict[str, Any] | None:
    if isinstance(root, dict):
        if isinstance(root.get("__schema"), dict):
            return root
        data = root.get("data")
        if isinstance(data, dict) and isinstance(data.get("__schema"), dict):
            return data
    return None


def _build(path: Path, text: str) -> tuple[GraphQLSchema, str]:
    """The schema and how it was written (``GraphQL SDL`` | ``GraphQL introspection``)."""
    from graphql import GraphQLError, build_client_schema, build_schema

    where = str(path)
    if len(text) > MAX_SCHEMA:
        raise SpecError(where, f"schema larger than {MAX_SCHEMA // (1024 * 1024)} MiB")
    if text.lstrip()[:1] == "{":
        try:
            root = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(where, f"invalid JSON: {exc.msg}", f"line {exc.lineno}") from exc
        except RecursionError:
            raise SpecError(where, "invalid JSON: nested deeper than the reader goes") from None
        result = _introspection(root)
        if result is None:
            raise SpecError(where, "not a GraphQL introspection result (no __schema)", "/")
        try:
            return build_client_schema(result), "GraphQL introspection"  # type: ignore[arg-type]
        except (GraphQLError, TypeError, KeyError, ValueError) as exc:
            message = " ".join(str(exc).split())[:300]
            raise SpecError(where, f"not a usable introspection result: {message}") from exc
    try:
        return build_schema(text, no_location=False), "GraphQL SDL"
    except GraphQLError as exc:
        line = None
        if exc.locations:
            line = f"line {exc.locations[0].line}, column {exc.locations[0].column}"
        message = " ".join(exc.message.split())[:300]
        raise SpecError(where, f"invalid GraphQL schema: {message}", line) from exc
    except (TypeError, RecursionError) as exc:
        raise SpecError(where, f"invalid GraphQL schema: {type(exc).__name__}") from exc


def _carrier(host: str | None, where: str) -> tuple[str, str]:
    if not host:
        raise SpecError(where, "a GraphQL schema names no server: give --host HOST[/PATH]")
    name, slash, path = host.strip().partition("/")
    if not name:
        raise SpecError(where, f"--host {host!r} names no host")
    template = (
        "/" + "/".join(p for p in path.split("/") if p)
        if slash and path.strip("/")
        else DEFAULT_PATH
    )
    return name.lower(), template


def type_map(schema: GraphQLSchema) -> dict[str, dict[str, list[str | None]]]:
    """Object and interface types: {type: {field: [return type, deprecation reason or None]}}."""
    from graphql import GraphQLInterfaceType, GraphQLObjectType, get_named_type

    out: dict[str, dict[str, list[str | None]]] = {}
    for name, kind in schema.type_map.items():
        if name.startswith("__") or not isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            continue
        out[name] = {
            fname: [get_named_type(f.type).name, f.deprecation_reason]
            for fname, f in kind.fields.items()
        }
    return out


@dataclass
class GraphQLSpec:
    """What classification needs of an imported GraphQL schema."""

    spec_title: str
    carrier: str
    roots: dict[str, str]  # operation kind -> root type name
    types: dict[str, dict[str, list[str | None]]]
    operation_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, field) -> id

    def root_field(self, kind: str, name: str) -> list[str | None] | None:
        root = self.roots.get(kind)
        return self.types.get(root, {}).get(name) if root else None

    def deprecated_paths(self, kind: str, paths: list[str]) -> list[str]:
        """``Type.field (reason)`` for each deprecated field the paths go through."""
        found: dict[str, None] = {}
        root = self.roots.get(kind)
        if root is None:
            return []
        for path in paths:
            current: str | None = root
            for name in path.split("."):
                entry = self.types.get(current or "", {}).get(name)
                if entry is None:
                    break  # a field of a union member or an unknown type: not judged
                if entry[1] is not None:
                    found[f"{current}.{name} ({entry[1]})"] = None
                current = entry[0]
        return list(found)


def load_graphql_spec(path: Path, host: str | None) -> tuple[LoadedSpec, dict[str, Any]]:
    """The spec (its root fields as operations) and the stored schema of a GraphQL file."""
    text, sha256 = read_text(path)
    where = str(path)
    name, carrier = _carrier(host, where)
    schema, how = _build(path, text)
    roots = {
        kind: root.name
        for kind, root in zip(
            ROOT_KINDS,
            (schema.query_type, schema.mutation_type, schema.subscription_type),
            strict=True,
        )
        if root is not None
    }
    if not roots:
        raise SpecError(where, "the schema has no Query, Mutation or Subscription type")
    types = type_map(schema)
    operations = [
        SpecOperation(
            host=name,
            method="POST",
            template=carrier,
            operation_id=f"{kind} {fname}",
            deprecated=entry[1] is not None,
        )
        for kind, root in roots.items()
        for fname, entry in types.get(root, {}).items()
    ]
    title = path.stem
    description = schema.description
    if description:
        title = " ".join(description.split())[:80]
    loaded = LoadedSpec(
        title=title,
        version=None,
        openapi_version=how,
        hosts=[{"host": name, "base_path": carrier}],
        operations=operations,
        security_schemes={},
        sha256=sha256,
    )
    return loaded, {"protocol": PROTOCOL, "carrier": carrier, "roots": roots, "types": types}


def load_graphql_specs(conn: Any) -> dict[str, GraphQLSpec]:
    """Per host, the GraphQL schema imported for it (the last import wins)."""
    out: dict[str, GraphQLSpec] = {}
    for spec_id, title, stored in conn.execute(
        "SELECT id, title, schema FROM specs WHERE schema IS NOT NULL ORDER BY id"
    ):
        try:
            schema = json.loads(stored)
        except ValueError:
            continue
        if not isinstance(schema, Mapping) or schema.get("protocol") != PROTOCOL:
            continue
        ids: dict[tuple[str, str], int] = {}
        hosts: set[str] = set()
        for op_id, op_host, operation_id in conn.execute(
            "SELECT id, host, operation_id FROM spec_operations WHERE spec_id = ?", (spec_id,)
        ):
            kind, _, fname = str(operation_id).partition(" ")
            ids[(kind, fname)] = int(op_id)
            hosts.add(op_host)
        for host in hosts:
            out[host] = GraphQLSpec(
                spec_title=title,
                carrier=str(schema.get("carrier") or DEFAULT_PATH),
                roots=dict(schema.get("roots") or {}),
                types=dict(schema.get("types") or {}),
                operation_ids=ids,
            )
    return out
