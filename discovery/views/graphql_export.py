"""A host's observed GraphQL operations written as SDL: the schema its traffic shows.

Each root type (``Query``, ``Mutation``, ``Subscription``) gets the root fields operations
called, each object the fields selected under it (field paths from the stored facts), leaves
typed ``Observed`` (traffic shows which fields were asked for, not their types). Every root
field says which operations called it, with their status and request counts. Nothing a request
carried (variables, arguments) is copied: the case holds none of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from discovery.case.store import Store
from discovery.errors import SubjectNotFound
from discovery.timeutil import iso

ROOT_TYPES = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}\Z")
MAX_FIELDS = 2000  # fields written per host (a hostile case cannot make the export huge)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    callers: dict[str, None] = field(default_factory=dict)  # operations (root fields only)


@dataclass
class _Op:
    label: str
    status: str
    requests: int
    first: float | None
    last: float | None
    carrier: str


def graphql_hosts(store: Store) -> list[str]:
    """Hosts with observed GraphQL operations."""
    return [
        h
        for (h,) in store.conn.execute(
            "SELECT DISTINCT host FROM endpoints WHERE protocol = 'graphql' "
            "AND status != 'orphan' ORDER BY host"
        )
    ]


def _load(store: Store, host: str) -> tuple[dict[str, _Op], dict[str, _Node]]:
    ops: dict[str, _Op] = {}
    for template, label, status, requests, first, last in store.conn.execute(
        "SELECT template, operation, status, requests, first_seen, last_seen FROM endpoints "
        "WHERE host = ? AND protocol = 'graphql' AND status != 'orphan' ORDER BY template",
        (host,),
    ):
        carrier = template[: -len(label) - 1] if label and template.endswith(label) else template
        ops[label] = _Op(label, status, requests, first, last, carrier)
    roots: dict[str, _Node] = {}
    written = 0
    for label, facts in store.conn.execute(
        "SELECT DISTINCT operation, facts FROM exchanges INDEXED BY exchanges_operation "
        "WHERE host = ? AND operation IS NOT NULL AND protocol = 'graphql'",
        (host,),
    ):
        if label not in ops:
            continue
        try:
            parsed: Any = json.loads(facts or "{}")
        except ValueError:
            continue
        kind = parsed.get("kind") if isinstance(parsed, dict) else None
        if kind not in ROOT_TYPES:
            continue  # a persisted query sent as a hash: no fields to show
        root = roots.setdefault(kind, _Node())
        for path in parsed.get("fields") or ():
            names = str(path).split(".")
            if not all(_NAME.match(n) and not n.startswith("__") for n in names):
                continue  # meta fields (__typename) and anything that is not a name
            node = root
            for depth, name in enumerate(names):
                if name not in node.children:
                    if written >= MAX_FIELDS:
                        break
                    written += 1
                node = node.children.setdefault(name, _Node())
                if depth == 0:
                    node.callers[label] = None
    return ops, roots


def _type_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def _describe(text: str, indent: str) -> str:
    return f'{indent}"""\n{indent}{text}\n{indent}"""\n'


def export_graphql_sdl(store: Store, host: str) -> str:
    """The SDL of one host's observed GraphQL operations."""
    host = host.lower()
    ops, roots = _load(store, host)
    if not ops:
        raise SubjectNotFound(f"no observed GraphQL operation on host {host!r}")
    carriers = sorted({op.carrier for op in ops.values()})
    lines: list[str] = [
        _describe(
            f"Observed GraphQL operations on {host} ({', '.join(carriers)}), written by "
            "ir-console from traffic: leaves are typed Observed (traffic shows which fields "
            "were asked for, not their types); no value a request carried is copied.",
            "",
        )
    ]
    present = [kind for kind in ROOT_TYPES if kind in roots and roots[kind].children]
    if present:
        lines.append(
            "schema {\n" + "".join(f"  {kind}: {ROOT_TYPES[kind]}\n" for kind in present) + "}\n\n"
        )
    lines.append("scalar Observed\n\n")
    for kind in present:
        objects: list[tuple[str, _Node]] = [(ROOT_TYPES[kind], roots[kind])]
        while objects:
            type_name, node = objects.pop(0)
            body: list[str] = []
            for name, child in node.children.items():
                if child.callers:
                    called = ", ".join(
                        f"{ops[c].label} ({ops[c].status}, {ops[c].requests} requests, "
                        f"{iso(ops[c].first)} to {iso(ops[c].last)})"
                        for c in child.callers
                    )
                    body.append(_describe(f"called by: {called}", "  "))
                if child.children:
                    nested = _type_name(type_name, name)
                    body.append(f"  {name}: {nested}\n")
                    objects.append((nested, child))
                else:
                    body.append(f"  {name}: Observed\n")
            lines.append(f"type {type_name} {{\n" + "".join(body) + "}\n\n")
    unparsed = sorted(op.label for op in ops.values() if op.label.startswith("persisted "))
    if unparsed:
        lines.append("# persisted queries seen only by their hash: " + ", ".join(unparsed) + "\n")
    return "".join(lines).rstrip("\n") + "\n"
