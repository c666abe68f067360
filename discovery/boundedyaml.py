"""YAML loaded like ``yaml.safe_load``, with the work it can cause bounded.

A YAML alias is a reference to an anchored node, so a kilobyte of anchors and aliases (a "billion
laughs") stands for a tree of billions of nodes: PyYAML builds it cheaply (aliases share objects),
but every consumer that walks the data (validation, ``$ref`` resolution, hashing, JSON) visits
each expanded node. Here the document is composed first (linear in the text), the size of the
tree it stands for is counted without expanding it, and a document whose aliases add more than
``MAX_EXPANSION`` nodes, or that refers to itself, is refused before anything is constructed.
So is a tree nested deeper than ``MAX_DEPTH`` levels (aliases included): every consumer of a
spec, a register or a runbook walks it recursively (the OpenAPI validator spends several Python
frames per level). Every refusal is a ``yaml.MarkedYAMLError`` naming the line, so callers report
it as any YAML error.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

import yaml

MAX_EXPANSION: Final = 1_000_000  # nodes that aliases may add to the document's own
# mappings and lists inside one another; the deepest real spec we know (Stripe's) has 25, the
# OpenAPI validator fails past about 200
MAX_DEPTH: Final = 128
# libyaml when PyYAML was built with it (several times faster; it caps nesting itself)
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimit(yaml.MarkedYAMLError):
    """A YAML document refused for the work it would cause (aliases, self-reference, depth)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def expanded_size(root: yaml.Node, max_depth: int = MAX_DEPTH) -> tuple[int, int]:
    """(nodes in the composed graph, nodes in the tree it stands for), counted iteratively with
    each shared node counted once per reference; ``YamlLimit`` for a node that contains itself
    and for a tree nested deeper than ``max_depth`` mappings and lists (through aliases too)."""
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}  # mappings and lists from a node down to its deepest leaf
    open_: set[int] = set()  # nodes whose children are being counted: the path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    cap = 1 << 62
    while stack:
        node, counted = stack.pop()
        key = id(node)
        if counted:
            children = _children(node)
            sizes[key] = min(cap, 1 + sum(sizes[id(child)] for child in children))
            heights[key] = 1 + max((heights[id(child)] for child in children), default=0)
            open_.discard(key)
            if len(open_) + heights[key] > max_depth:  # a shared node deepens every place
                _too_deep(max_depth, node)
            continue
        if key in sizes:
            continue
        if key in open_:
            raise YamlLimit("an alias refers to a node that contains it", node.start_mark)
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            sizes[key], heights[key] = 1, 0
            continue
        if len(open_) >= max_depth:
            _too_deep(max_depth, node)
        open_.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return len(sizes), sizes[id(root)]


def _too_deep(max_depth: int, node: yaml.Node) -> NoReturn:
    raise YamlLimit(f"nested deeper than {max_depth} levels", node.start_mark)


def load_with_node(text: str) -> tuple[Any, yaml.Node | None]:
    """The data of one YAML document (as ``yaml.safe_load``) and its composed root node (for
    line numbers), or ``yaml.YAMLError``."""
    loader = _LOADER(text)
    try:
        try:
            root = loader.get_single_node()
        except RecursionError:
            raise YamlLimit("nested deeper than the YAML reader goes", None) from None
        if root is None:
            return None, None
        composed, expanded = expanded_size(root)
        if expanded - composed > MAX_EXPANSION:
            raise YamlLimit(
                f"aliases expand this document to more than {composed + MAX_EXPANSION:,} nodes "
                f"(it has {composed:,}): an alias bomb?",
                root.start_mark,
            )
        try:
            return loader.construct_document(root), root
        except RecursionError:
            raise YamlLimit("nested deeper than the YAML reader goes", root.start_mark) from None
    finally:
        loader.dispose()


def safe_load(text: str) -> Any:
    """The data of one YAML document, as ``yaml.safe_load``, with the work bounded."""
    return load_with_node(text)[0]
