"""Path templating: observed paths -> templates, explainably and correctably.

Per position, from shape and structure, never from one global count:

- a **typed** value (``segments.py``: integer, UUID, hex digest, date, email, provider-prefixed
  id, random base62 id, generated name, token…) is a parameter; all typed values at one position
  are one parameter (a router cannot tell them apart either), a file-name suffix stays
  (``{sid}.json``), and a date that is the only one at its position, with routes below it, is a
  dated version segment (``/2010-04-01/…``) and stays literal;
- **words** under one parent become one parameter only when they look like one parameter's
  values, never because a global count was reached:
  *shared subtree*: they share the routes below them (``namespaces/{default,kube-system}/pods``),
  words followed by versions excepted (API and group names);
  *joins typed*: plain words beside generated names they resemble, with the same routes below;
  *fixed length*: letters and digits of exactly the length of the fixed-length ids beside them
  (the odd random id whose case changes were too few to be recognised on its own);
  *collection item*: under a plural collection that follows a parameter (``{ns}/limitranges``),
  or called with several methods under a collection (items answer GET, PUT, DELETE; actions
  such as ``search`` or ``login`` answer one, more often than an item's mix of methods makes
  likely);
  *alike values*: leaves shaped alike that keep bringing new values relative to the requests
  (at least ``LEAF_RATIO`` new values per request) under a collection or shaped like values;
  *known / values elsewhere* (a second pass over the whole host): words after the same
  collection word, or words that are already values of a parameter elsewhere on the host;
  resource and method names (plurals, snake_case, camelCase verbs, dotted methods) stay
  literal, and so do the children of the root, of API prefixes and of version segments;
- file names are values with their suffixes (``receipt.pdf`` beside ``invoice-2024.pdf``: one
  ``{name}``), while a route's own suffix stays (``{sid}.json``: one suffix at the position);
- once merged, a parameter's subtree is the union of its values' subtrees, and every decision
  below it is taken again from shape and structure, never from the pooled counts;
- ``threshold`` (the rules file) is a safety net: that many distinct alike values under one
  parent merge even without the evidence above, when they still bring a new value every few
  requests.

Compared with what others do: Akto merges two URLs of the same length that differ in one string
position once ten such pairs exist; Optic collapses any two constant siblings into a variable
(pooling their subtrees); Drain-style log miners put tokens with digits behind a wildcard and
group by a global similarity threshold. Here each position is decided from its own evidence
(value types, the shape of the siblings, the structure below them, the methods they answer,
what the rest of the host says) and every decision says why (``explain``).

Documented templates win (the caller matches the spec first); a templater is per host, so
nothing merges across hosts. Walks are iterative and paths are folded past
``MAX_PATH_SEGMENTS`` (``discovery.wire.paths``), so no path can exhaust the stack. Users pin
templates or forbid merges in a small YAML file beside the case (``CASE.templates.yaml``)::

    threshold: 20                 # distinct alike values under one parent that merge on count
    pins:
      - {host: api.example.com, template: /v1/orgs/{org}/reports/{name}}
    forbid_merge:
      - {host: "*", parent: /v1/regions}   # children of this parent stay literal
"""

from __future__ import annotations

import gc
import re
import sys
from collections import Counter
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from math import inf
from pathlib import Path
from typing import Any, Final

from discovery.analyse.matching import HostMatcher, describe_schema
from discovery.analyse.segments import (
    INTEGER,
    SegmentKind,
    classify_segment,
    file_suffix,
    is_version,
    looks_plural,
    mixes_classes,
    names_like,
    segment_kind,
    shape_family,
)
from discovery.errors import InputError
from discovery.wire.grpc import is_service_name
from discovery.wire.paths import path_segments

__all__ = [
    "DEFAULT_THRESHOLD",
    "INTEGER",
    "HostTemplater",
    "SegmentDecision",
    "SegmentKind",
    "TemplateRules",
    "Templated",
    "classify_segment",
    "load_rules",
    "rules_path",
    "segment_kind",
]

DEFAULT_THRESHOLD = 20
MIN_VALUES: Final = 3  # distinct words before they can be one parameter's values
LEAF_RATIO: Final = 0.3  # alike leaves merge when distinct values / requests reaches this
SHARED_SUBTREE: Final = 0.6  # share of a word's routes below it that its siblings also have
HEAVY: Final = 4  # a word with this many times a value's usual requests is a name, not a value
# ---------------------------------------------------------------------------- rules file


@dataclass(frozen=True)
class TemplateRules:
    """User corrections: the merge threshold, pinned templates, parents whose children stay
    literal."""

    threshold: int = DEFAULT_THRESHOLD
    pins: tuple[tuple[str, str], ...] = ()  # (host or "*", template)
    forbid: tuple[tuple[str, str], ...] = ()  # (host or "*", parent path)
    source: str = "defaults"

    def pins_for(self, host: str) -> list[str]:
        return [t for h, t in self.pins if h in ("*", host)]

    def forbidden_for(self, host: str) -> set[str]:
        return {_strip(p) for h, p in self.forbid if h in ("*", host)}


def _strip(path: str) -> str:
    return "/" + "/".join(s for s in path.split("/") if s)


def rules_path(case_path: Path) -> Path:
    """Where a case's templating rules live: beside the case file."""
    return case_path.with_name(case_path.name + ".templates.yaml")


def load_rules(path: Path | None) -> TemplateRules:
    """Read a rules file (absent file: defaults); bad content raises InputError naming the place."""
    if path is None or not path.exists():
        return TemplateRules()
    import yaml  # here: a case without a rules file never loads the YAML library

    from discovery import boundedyaml

    where = str(path)
    try:
        data = boundedyaml.safe_load(path.read_text(encoding="utf-8"))  # aliases, nesting bounded
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            where,
            f"invalid YAML: {getattr(exc, 'problem', exc)}",
            f"line {mark.line + 1}" if mark is not None else None,
        ) from exc
    except OSError as exc:
        raise InputError(where, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(where, "not UTF-8 text", f"byte {exc.start}") from exc
    if data is None:
        return TemplateRules(source=where)
    if not isinstance(data, dict):
        raise InputError(where, "expected a map with threshold / pins / forbid_merge", "/")
    unknown = set(data) - {"threshold", "pins", "forbid_merge"}
    if unknown:
        raise InputError(where, f"unknown key {sorted(unknown)[0]!r}", f"/{sorted(unknown)[0]}")
    threshold = data.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 2:
        raise InputError(where, "threshold must be an integer >= 2", "/threshold")

    def entries(key: str, field_name: str) -> tuple[tuple[str, str], ...]:
        items = data.get(key) or []
        if not isinstance(items, list):
            raise InputError(where, f"{key} must be a list", f"/{key}")
        out = []
        for i, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get(field_name), str)
                or not str(item[field_name]).startswith("/")
            ):
                raise InputError(
                    where, f"needs {field_name!r}: a path starting with '/'", f"/{key}/{i}"
                )
            out.append((str(item.get("host") or "*").lower(), str(item[field_name])))
        return tuple(out)

    return TemplateRules(
        threshold, entries("pins", "template"), entries("forbid_merge", "parent"), where
    )


# ---------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class SegmentDecision:
    """Why one segment of a path became a literal or a parameter in its template."""

    value: str
    template: str  # the segment in the template: "users" or "{id}"
    kind: str  # "literal" | "parameter"
    rule: str  # integer, uuid, …, word, version, shared-subtree, alike-values, documented, …
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "segment": self.value,
            "template": self.template,
            "kind": self.kind,
            "rule": self.rule,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Templated:
    """A path's template, where it came from (documented / pinned / inferred) and the decisions;
    ``masked_by`` names the documented template that would have absorbed a path whose value
    does not look like that parameter's values (a possibly masked undocumented route)."""

    path: str
    template: str
    source: str  # "documented" | "pinned" | "inferred"
    decisions: tuple[SegmentDecision, ...] = ()
    masked_by: str | None = None


def _param_name(base: str, used: dict[str, int]) -> str:
    count = used.get(base, 0) + 1
    used[base] = count
    return base if count == 1 else f"{base}{count}"


# ---------------------------------------------------------------------------- the learned trie

_SEEN_MAX: Final = 256  # distinct values remembered per typed position (to count them)
# per documented parameter: values classified to count its typed ids (a sample), and distinct
# words remembered with their requests and methods (for masked routes)
_DOC_SAMPLE: Final = 64
_DOC_WORDS: Final = 128
RESERVED_PARENTS: Final = frozenset({"api", "apis", "rest"})  # API prefixes, like the root


_METHOD_BITS: Final = {"GET": 1, "POST": 2, "PUT": 4, "PATCH": 8, "DELETE": 16, "HEAD": 32}


def method_bit(method: str | None) -> int:
    """A method as one bit (every other method shares the last one)."""
    return _METHOD_BITS.get(method or "GET", 64)


class _Raw:
    """One node of the learned trie: words by value, typed values by their template suffix."""

    __slots__ = (
        "by_method",
        "ends",
        "literals",
        "methods",
        "one",
        "one_value",
        "params",
        "requests",
        "typed",
    )

    def __init__(self) -> None:
        # children, by value and by typed suffix ("" or ".json"); a leaf (most nodes) shares
        # one empty map until a child is added (``_literal_child``), and the only literal
        # child of a node (most of the others: ``…/issues/1234/comments``) sits in ``one``
        # without a map (read through ``_names``, ``_children``), until a second one comes
        self.literals: dict[str, _Raw] = _LEAF
        self.one: _Raw | None = None
        self.one_value = ""
        self.params: dict[str, _Raw] = _LEAF
        self.requests = 0  # requests through this node
        self.ends = 0  # requests ending here
        self.methods = 0  # bits of the methods of the requests ending here
        # method bit -> requests ending here, once a second method ends here (until then
        # every end is of the one method in ``methods``: no dict per leaf)
        self.by_method: dict[int, int] | None = None
        self.typed: _Typed | None = None  # a typed node's values (none for a literal)


class _Typed:
    """What the typed values at one learned node were: their parameter names with requests,
    how many distinct values (counted by hash, bounded: the values themselves are not kept)
    and their one common length, if they have one."""

    __slots__ = ("documented", "length", "names", "seen")

    def __init__(self) -> None:
        self.names: dict[str, int] = {}  # parameter name -> requests
        self.seen: set[int] = set()  # hashes of distinct values (bounded)
        self.length = 0  # the length every value seen has; -1 once they differ
        self.documented = False  # a parameter of a documented template

    def see(self, value: str) -> None:
        seen = self.seen
        if len(seen) < _SEEN_MAX:
            seen.add(hash(value))
            length = self.length
            if length != len(value):
                self.length = len(value) if not length else -1


_LEAF: Final[dict[str, _Raw]] = {}  # never written: the children of every leaf


def _literal_child(node: _Raw, value: str) -> _Raw:
    """The child of a learned node for a literal value, added when missing."""
    one = node.one
    if one is not None:
        if node.one_value == value:
            return one
        child = _Raw()  # a second child: both in a map, in the order they came
        node.literals = {node.one_value: one, sys.intern(value): child}
        node.one, node.one_value = None, ""
        return child
    literals = node.literals
    if literals is _LEAF:
        child = node.one = _Raw()
        node.one_value = sys.intern(value)  # the same names recur under many parents
        return child
    found = literals.get(value)
    if found is None:
        found = literals[sys.intern(value)] = _Raw()
    return found


def _names(node: _Raw) -> Iterable[str]:
    """The values of a learned node's literal children."""
    return node.literals if node.one is None else (node.one_value,)


def _children(node: _Raw) -> Iterable[_Raw]:
    """A learned node's literal children, without a map made for an only one."""
    one = node.one
    return node.literals.values() if one is None else (one,)


def _add_names(names: set[str], node: _Raw) -> None:
    """Add the values of a learned node's literal children to ``names``."""
    if node.one is not None:
        names.add(node.one_value)
    elif node.literals:
        names.update(node.literals)


def _has_children(node: _Raw) -> bool:
    return bool(node.literals or node.one is not None or node.params)


def _typed_child(node: _Raw, suffix: str) -> _Raw:
    """The child of a learned node for the typed values of a suffix, added when missing."""
    child = node.params.get(suffix)
    if child is None:
        if node.params is _LEAF:
            node.params = {}
        child = node.params[suffix] = _Raw()
        child.typed = _Typed()
    return child


class _Place:
    """What one whole-segment parameter of a documented template receives: how many of its
    values were classified (a sample), the typed ids among them, and its words, each with its
    requests and methods packed in one int (``requests << 7 | method bits``)."""

    __slots__ = ("checked", "typed", "words")

    def __init__(self) -> None:
        self.checked = 0
        self.typed: set[int] | None = None  # hashes of the distinct typed ids
        self.words: dict[str, int] = {}


class _DocSlots:
    """One documented template as the learning sees it: its length in segments, the places
    of its whole-segment parameters, and the methods whose structure is already learned."""

    __slots__ = ("added", "length", "places")

    def __init__(self, length: int, places: list[tuple[int, _Place]]) -> None:
        self.length = length
        self.places = places
        self.added = 0  # method bits whose structure ``_add_documented`` added


_METHOD_MASK: Final = 127  # the method bits of a packed word count (method_bit() <= 64)


class _Tmpl:
    """One node of the template trie built from the learned one by ``finish``."""

    __slots__ = (
        "families",
        "files",
        "forbidden",
        "joined",
        "literal_count",
        "literals",
        "names",
        "notes",
        "params",
        "protected",
        "source",
    )

    def __init__(self) -> None:
        self.literals: dict[str, _Tmpl] = {}
        self.params: dict[str, _Tmpl] = {}  # suffix -> parameter node
        self.names: dict[str, str] = {}  # suffix -> parameter base name
        self.joined: dict[str, tuple[str, str]] = {}  # word -> (rule, reason): a value
        self.families: dict[str, tuple[str, str]] = {}  # unseen words of these shapes: values
        self.notes: dict[str, tuple[str, str]] = {}  # literal -> (rule, reason) kept specially
        self.forbidden = False
        self.files = False  # values here are file names: a suffix is part of the value
        self.protected = ""  # why children stay literal: "the root", "a version segment"…
        self.literal_count = 0
        # while ``finish`` runs: the learned nodes this node stands for, its prefix, context
        # and chain (the second pass decides again only where what it knows can change)
        self.source: _Frame | None = None

    def take(self, other: _Tmpl) -> None:
        """Become ``other`` (a node decided again by the second pass), children included."""
        self.literals, self.params, self.names = other.literals, other.params, other.names
        self.joined, self.families, self.notes = other.joined, other.families, other.notes
        self.forbidden, self.files, self.protected = other.forbidden, other.files, other.protected
        self.literal_count = other.literal_count


@dataclass(slots=True)
class _Word:
    """What one word under a parent carries, pooled over every node it stands for."""

    requests: int = 0
    ends: int = 0
    methods: int = 0
    by_method: dict[int, int] | None = None  # method bit -> requests ending (``_by_method``)
    keys: AbstractSet[str] | None = None  # literal names one level below (read only)
    typed_below: bool = False
    group: list[_Raw] | None = None  # the learned nodes it stands for
    deep: set[str] | None = None  # literal names two levels below (``_deep``, when asked)


def _deep(w: _Word) -> set[str]:
    """The literal names two levels below a word (computed once, when a rule asks)."""
    if w.deep is None:
        deep: set[str] = set()
        for raw in w.group or ():
            for child in _children(raw):
                _add_names(deep, child)
            for child in raw.params.values():
                _add_names(deep, child)
        w.deep = deep
    return w.deep


def _by_method(w: _Word) -> dict[int, int]:
    """Method bit -> requests ending at a word, pooled over its nodes (computed when asked)."""
    if w.by_method is None:
        pooled: dict[int, int] = {}
        for raw in w.group or ():
            counts = raw.by_method
            if counts is None:  # every end of the one method in ``methods``
                if raw.ends:
                    pooled[raw.methods] = pooled.get(raw.methods, 0) + raw.ends
                continue
            for bit, count in counts.items():
                pooled[bit] = pooled.get(bit, 0) + count
        w.by_method = pooled
    return w.by_method


def _word(group: list[_Raw]) -> _Word:
    w = _Word(group=group)
    keys: set[str] | None = None
    for raw in group:
        w.requests += raw.requests
        w.ends += raw.ends
        w.methods |= raw.methods
        if raw.params:
            w.typed_below = True
        if len(group) == 1:
            # a view: no copy of a large node's names
            w.keys = raw.literals.keys() if raw.one is None else {raw.one_value}
        else:
            if keys is None:
                keys = set()
            _add_names(keys, raw)
            w.keys = keys
    return w


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


ITEM_CHANCE: Final = 0.01  # below this, one method alone is no item's mix of methods


def _plausible_item(word: _Word, shares: Counter[int], total: int) -> bool:
    """Whether a word's requests, all of one method, could be an item's: the chance that
    that many requests to an item all use that method, at the items' share of it."""
    counts = _by_method(word)
    if len(counts) != 1 or not total:
        return True
    ((bit, count),) = counts.items()
    return count < MIN_VALUES or bool((shares[bit] / total) ** count >= ITEM_CHANCE)


def _compound_name(word: str) -> bool:
    """A route's name by its form: snake_case, camelCase or dotted (a plain plural such as a
    username ending in s is no evidence)."""
    return names_like(word) and not (looks_plural(word) and word.isalpha() and word.islower())


def _value_like(word: str) -> bool:
    """A word shaped like a value rather than a name: digits in it, a short upper-case code,
    or a hyphenated slug."""
    return (
        any(c.isdigit() for c in word)
        or (word.isupper() and len(word) <= 3)
        or ("-" in word and not word.startswith("-"))
    )


def _dns_like(word: str) -> bool:
    return word[:1].isalnum() and all(c.islower() or c.isdigit() or c in "-." for c in word)


_JOINS_WORDS: Final = frozenset({"name", "ref"})  # typed kinds plain words may be values of
_VALUES_MAX: Final = 1 << 16  # words remembered as values between the two passes
_DIGIT: Final = re.compile(r"\d")
# a frame of the iterative build: (node, learned nodes it stands for, prefix, context, chain,
# whether the node is the first pass's, to be decided again only where the second can change it)
_Frame = tuple["_Tmpl", list["_Raw"], str, str, tuple[str, int], bool]


def _again(frame: _Frame) -> _Frame:
    """A first-pass node's frame, to be revisited by the second pass."""
    node, raws, prefix, context, chain, _revisit = frame
    return node, raws, prefix, context, chain, True


def _template_parts(template: str) -> list[tuple[str, str | None, str]]:
    """(literal, None, "") or ("", parameter name, suffix) per segment of a documented
    template; a segment mixing text and parameters counts as a literal."""
    out: list[tuple[str, str | None, str]] = []
    for part in path_segments(template):
        if part.startswith("{") and "}" in part and "{" not in part[1:]:
            name, _, suffix = part[1:].partition("}")
            if "{" not in suffix:
                out.append(("", name, suffix))
                continue
        out.append((part, None, ""))
    return out


def _file_names(params: dict[str, list[_Raw]], joined: dict[str, str]) -> bool:
    """Whether the values at a position are file names (``receipt.pdf``, ``scan-2024.png``),
    their suffixes part of the value rather than of the route: typed values with several
    different suffixes there, or with a suffix beside words that are values and file names,
    all of them leaves (a route's ``{sid}.json`` keeps one suffix, and its own)."""
    suffixes = [s for s in params if s]
    if not suffixes or any(_has_children(r) for s in suffixes for r in params[s]):
        return False
    return len(suffixes) >= 2 or any(file_suffix(v) for v in joined)


def _pick(words: list[str], top: int = 3) -> str:
    return ", ".join(words[:top]) + ("…" if len(words) > top else "")


def _items_profile(words: dict[str, int]) -> tuple[int, float] | None:
    """(values answering several methods, median requests per value) at a documented final
    parameter (words packed as ``requests << 7 | method bits``), or None when its values do
    not look like items."""
    multi = sum(1 for entry in words.values() if bin(entry & _METHOD_MASK).count("1") > 1)
    if multi < MIN_VALUES or 2 * multi < len(words) - 1:
        return None
    return multi, _median([entry >> 7 for entry in words.values()])


class HostTemplater:
    """Learns one host's paths, decides per position from shape and structure, then templates
    and explains any path."""

    def __init__(
        self, host: str, rules: TemplateRules | None = None, matcher: HostMatcher | None = None
    ) -> None:
        self.host = host
        self.rules = rules or TemplateRules()
        self.matcher = matcher
        self.root = _Raw()
        self.tree = _Tmpl()
        self._pins = [(p, [s for s in p.split("/") if s]) for p in self.rules.pins_for(host)]
        self._forbidden = self.rules.forbidden_for(host)
        self._finished = False
        # documented parameters' values, for masked routes: (template, index) -> counts
        self._masked: dict[tuple[str, int], dict[str, str]] = {}
        self._doc_parts: dict[str, list[tuple[str, str | None, str]]] = {}
        # per documented template: its length and its whole-segment parameters' places
        self._doc_slots: dict[str, _DocSlots] = {}
        self._doc_literals: frozenset[str] | None = None
        self._mask_checks: dict[str, list[tuple[int, frozenset[str]]]] = {}

    # -- learning

    def documented(self, path: str) -> str | None:
        """The documented template of a path on this host, if a spec covers it."""
        return self.matcher.match_path(path) if self.matcher is not None else None

    def pinned(self, segments: list[str]) -> str | None:
        for template, parts in self._pins:
            if len(parts) == len(segments) and all(
                p == s or (p.startswith("{") and p.endswith("}"))
                for p, s in zip(parts, segments, strict=True)
            ):
                return template
        return None

    def learn(self, paths: Iterable[str]) -> None:
        """Add observed paths, one request each."""
        for path in paths:
            self.add(path)

    def add(self, path: str, requests: int = 1, method: str | None = None) -> None:
        """Add one observed path and how many requests it carried (pinned paths are decided,
        not learned; documented ones teach the structure their undocumented siblings share)."""
        segments = path_segments(path)
        if self._pins and self.pinned(segments) is not None:
            return
        if self.matcher is not None:
            template = self.matcher.match_segments(segments)
            if template is not None:
                slots = self._doc_slots.get(template)
                if slots is None:
                    slots = self._doc_slots[template] = self._slots_for(template)
                bit = method_bit(method)
                if slots.places:
                    self._note_documented(slots, segments, requests, bit)
                if not slots.added & bit:  # its structure, once per template and method
                    slots.added |= bit
                    self._add_documented(template, requests, method)
                return
        node = self.root
        node.requests += requests
        forbidden = self._forbidden
        prefix = ""
        for value in segments:
            kind = segment_kind(value)
            typed = kind.param is not None and kind.rule != "date"
            if forbidden:
                if (prefix or "/") in forbidden:
                    typed = False
                prefix += "/" + (kind.template if typed else value)
            if typed:
                child = _typed_child(node, kind.suffix)
                info = child.typed
                assert info is not None
                names = info.names
                name = kind.param or "id"
                names[name] = names.get(name, 0) + requests
                info.see(value)
            else:
                child = _literal_child(node, value)
            child.requests += requests
            node = child
        bit = method_bit(method)
        if node.by_method is not None:
            node.by_method[bit] = node.by_method.get(bit, 0) + requests
        elif node.methods and node.methods != bit:  # a second method: counted apart from now
            node.by_method = {node.methods: node.ends, bit: requests}
        node.ends += requests
        node.methods |= bit
        self._finished = False

    def _add_documented(self, template: str, requests: int, method: str | None) -> None:
        """A documented path teaches its template's structure (documented parameters as
        parameters), so undocumented paths below it are decided with the spec's help, at the
        cost of one trie path per template rather than per value."""
        parts = self._doc_parts.get(template)
        if parts is None:
            parts = self._doc_parts[template] = _template_parts(template)
        node = self.root
        node.requests += requests
        for literal, name, suffix in parts:
            if name is None:
                child = _literal_child(node, literal)
            else:
                child = _typed_child(node, suffix)
                info = child.typed
                assert info is not None
                info.names[name] = info.names.get(name, 0) + requests
                info.documented = True
            child.requests += requests
            node = child
        node.ends += requests
        node.methods |= method_bit(method)

    def _slots_for(self, template: str) -> _DocSlots:
        parts = self._doc_parts.get(template)
        if parts is None:
            parts = self._doc_parts[template] = _template_parts(template)
        # whole-segment parameters; a final one spanning slashes changes the length
        return _DocSlots(
            len(parts),
            [
                (i, _Place())
                for i, (_l, name, suffix) in enumerate(parts)
                if name is not None and not suffix
            ],
        )

    def _note_documented(
        self, slots: _DocSlots, segments: list[str], requests: int, bit: int
    ) -> None:
        """Count the values a documented parameter receives: typed ids (among a sample of
        values classified) and words with their requests and methods, for masked routes
        (``finish``)."""
        if slots.length != len(segments):
            return  # a final parameter spanning slashes: no masked route there
        added = requests << 7
        for i, place in slots.places:
            value = segments[i]
            if not (len(value) < 10 and value.isalpha()):  # short words are never typed
                checked = place.checked
                if checked >= _DOC_SAMPLE:  # enough values classified here to count ids
                    if value.isdecimal() or _DIGIT.search(value) is not None:
                        continue  # a route's name has no digit
                else:
                    place.checked = checked + 1
                    # a typed id (a word with a digit, such as an account named security-148,
                    # is no evidence of ids); past the sample, the rest are counted as words
                    if segment_kind(value).param is not None:
                        if place.typed is None:
                            place.typed = set()
                        place.typed.add(hash(value))  # counted, not kept
                        continue
            words = place.words
            entry = words.get(value)
            if entry is not None:
                words[value] = (entry + added) | bit
            elif len(words) < _DOC_WORDS:
                words[sys.intern(value)] = added | bit  # the same names recur at many places

    # -- deciding

    def finish(self) -> None:
        """Build the template trie from the learned one, top-down and without recursion, twice:
        the second pass knows what the first decided everywhere on the host (which words name
        collections, and after which collection words are values), so a value seen once, where
        nothing else could tell, is decided like its kind elsewhere.

        The cyclic garbage collector is paused meanwhile: the build allocates tens of thousands
        of containers that all live on (the tree) or die by reference counting (the pooled
        groups), so each collection it would trigger walks every object of the process (the
        learned trie, and whatever the caller holds) and frees nothing: a third of the time."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._finish()
        finally:
            if collecting:
                gc.enable()

    def _finish(self) -> None:
        self._collections: set[str] = set()
        self._chains: dict[tuple[str, int], dict[str, tuple[str, str]]] = {}
        self._decided_at: dict[tuple[str, int], set[str]] = {}
        self._values: set[str] = set()  # words decided as values somewhere (pass 1)
        self._knows = False
        tree = _Tmpl()
        tree.protected = "the root"
        self._build_tree(tree, revisit=False)
        # the second pass walks the first one's tree and decides again only the places where
        # what the first pass learned about the whole host can add values
        self._knows = True
        self._build_tree(tree, revisit=True)
        self.tree = tree
        self._chains, self._decided_at, self._values = {}, {}, set()  # only while deciding
        self._masked = self._masked_routes()
        self._mask_checks = {}
        self._finished = True

    def _build_tree(self, tree: _Tmpl, revisit: bool) -> None:
        stack: list[_Frame] = [(tree, [self.root], "", "root", ("", 0), revisit)]
        while stack:
            frame = stack.pop()
            if frame[5]:
                self._revisit(frame, stack)
            else:
                self._build(*frame[:5], stack)
        if revisit:  # done: the sources of the nodes are not needed any more
            stack_nodes = [tree]
            while stack_nodes:
                node = stack_nodes.pop()
                node.source = None
                stack_nodes.extend(node.literals.values())
                stack_nodes.extend(node.params.values())

    def _revisit(self, frame: _Frame, stack: list[_Frame]) -> None:
        """The second pass at a node of the first pass's tree: unchanged (its children
        revisited) unless what the first pass learned adds values here, then built again."""
        node, raws, prefix, context, chain, _first = frame
        if self._may_add(node, raws, prefix, context, chain):
            fresh = _Tmpl()
            fresh.protected = node.protected
            pending: list[_Frame] = []
            self._build(fresh, raws, prefix, context, chain, pending)
            if fresh.joined.keys() != node.joined.keys():
                # decided again: children standing for the same learned nodes as before are
                # revisited, the others (the parameter the new values joined) built afresh
                old_literals, old_params = node.literals, node.params
                node.take(fresh)
                frames = {id(f[0]): f for f in pending}
                for children, old_children in (
                    (node.literals, old_literals),
                    (node.params, old_params),
                ):
                    for key, child in children.items():
                        old = old_children.get(key)
                        frame = frames[id(child)]
                        if old is not None and old.source and old.source[1:5] == frame[1:5]:
                            children[key] = old
                            frames[id(child)] = _again(old.source)
                stack.extend(frames.values())
                return
        for child in node.literals.values():  # in the order the build pushed them
            assert child.source is not None
            stack.append(_again(child.source))
        for child in node.params.values():
            assert child.source is not None
            stack.append(_again(child.source))

    def _may_add(
        self, node: _Tmpl, raws: list[_Raw], prefix: str, context: str, chain: tuple[str, int]
    ) -> bool:
        """Whether the second pass's rules (known / values elsewhere) could join a word at
        this node of the first pass (a cheap test on the names below it, never wrong by
        saying no)."""
        if node.forbidden or node.protected or prefix in self._decided_at.get(chain, ()):
            return False
        known = self._chains.get(chain) if chain[0] else None
        values = self._values if context != "param" else None
        if not known and not values:
            return False
        joined = node.joined
        for raw in raws:
            for value in _names(raw):
                if value in joined:
                    continue
                if values is not None and value in values:
                    return True
                if known and shape_family(value) in known:
                    return True
        return False

    def _build(
        self,
        node: _Tmpl,
        raws: list[_Raw],
        prefix: str,
        context: str,
        chain: tuple[str, int],
        stack: list[_Frame],
    ) -> None:
        node.source = (node, raws, prefix, context, chain, False)
        literals: dict[str, list[_Raw]] = {}
        params: dict[str, list[_Raw]] = {}
        for raw in raws:
            one = raw.one
            if one is not None:
                group = literals.get(raw.one_value)
                if group is None:
                    literals[raw.one_value] = [one]
                else:
                    group.append(one)
            else:
                for value, sub in raw.literals.items():
                    group = literals.get(value)
                    if group is None:
                        literals[value] = [sub]
                    else:
                        group.append(sub)
            if raw.params:
                for suffix, sub in raw.params.items():
                    group = params.get(suffix)
                    if group is None:
                        params[suffix] = [sub]
                    else:
                        group.append(sub)
        node.forbidden = (prefix or "/") in self._forbidden
        joined: dict[str, str] = {}  # value -> parameter base name
        if node.forbidden:
            node.protected = f"a parent whose merges {self.rules.source} forbids"
        else:
            self._decide(node, literals, params, prefix, context, chain, joined)
            if _file_names(params, joined):
                node.files = True
                whole = params.setdefault("", [])
                for suffix in [s for s in params if s]:
                    whole.extend(params.pop(suffix))
        names: dict[str, dict[str, int]] = {}
        for suffix, group in params.items():
            counts = names[suffix] = {}
            for raw in group:
                if raw.typed is not None:
                    for name, count in raw.typed.names.items():
                        counts[name] = counts.get(name, 0) + count
        pooled: list[_Raw] | None = params.get("") if joined else None
        for value, group in literals.items():
            base = joined.get(value)
            if base is not None:
                if pooled is None:
                    pooled = params[""] = []
                pooled.extend(group)
                joined_names = names.get("")
                if joined_names is None:
                    joined_names = names[""] = {}
                joined_names[base] = joined_names.get(base, 0) + sum(r.requests for r in group)
                continue
            child = node.literals[value] = _Tmpl()
            kind = classify_segment(value)
            if kind.rule == "version" or value in node.notes:
                child.protected = "a version segment"
            elif context == "root" and not node.forbidden and value.lower() in RESERVED_PARENTS:
                child.protected = "an API prefix"
            elif context == "root" and not node.forbidden and is_service_name(value):
                child.protected = "a gRPC service (what follows is a method's name)"
            if context == "param" and names_like(value) and looks_plural(value):
                position = "item-collection"  # {namespace}/limitranges
            elif context == "param" or node.protected:
                position = "name"  # a route's name: after the root, a version, a parameter
            else:
                position = "literal"
            stack.append((child, group, f"{prefix}/{value}", position, (value, 0), False))
        node.literal_count = len(node.literals)
        if params and chain[1] == 0 and context in ("name", "item-collection"):
            self._collections.add(chain[0])  # a name followed by a parameter: a collection
        if joined and not self._knows:
            known = self._chains.setdefault(chain, {})
            for value in joined:
                rule, _reason = node.joined.get(value, ("", ""))
                known.setdefault(shape_family(value), (rule, prefix or "/"))
            self._decided_at.setdefault(chain, set()).add(prefix)
            if len(self._values) < _VALUES_MAX:
                self._values.update(joined)
        for suffix, group in params.items():
            tally = names.get(suffix)
            base = min(tally.items(), key=lambda kv: (-kv[1], kv[0]))[0] if tally else "param"
            node.names[suffix] = base
            param = node.params[suffix] = _Tmpl()
            stack.append(
                (
                    param,
                    group,
                    f"{prefix}/{{{base}}}{suffix}",
                    "param",
                    (chain[0], chain[1] + 1),
                    False,
                )
            )

    def _decide(
        self,
        node: _Tmpl,
        literals: dict[str, list[_Raw]],
        params: dict[str, list[_Raw]],
        prefix: str,
        context: str,
        chain: tuple[str, int],
        joined: dict[str, str],
    ) -> None:
        """Which words under this parent are one parameter's values (``joined``), and why."""
        parent = prefix or "/"
        words: dict[str, _Word] = {}
        dates: list[str] = []
        protected = bool(node.protected)
        for value, group in literals.items():
            kind = classify_segment(value)
            if kind.rule == "date":
                dates.append(value)
            elif kind.param is None and kind.rule != "version" and not protected:
                words[value] = _word(group)  # (names stay literal under a protected parent)
        if dates:
            self._decide_dates(node, literals, dates, parent, joined)
        typed = params.get("")
        documented = bool(typed) and any(
            raw.typed is not None and raw.typed.documented for raw in typed or ()
        )
        if documented and not node.protected:
            node.families.setdefault(
                "*", ("documented-parameter", f"where the spec has a parameter under {parent}")
            )
        if node.protected or not words:
            return
        if documented:
            self._documented_param(node, words, parent, joined)
        self._shared_subtree(node, words, parent, context, joined)
        self._join_typed(node, words, typed, parent, joined)
        self._fixed_length(node, words, typed, parent, joined)
        if context == "item-collection" and not typed:
            self._collection_items(node, words, parent, joined)
        if context != "param":
            self._alike_values(node, words, parent, joined)
        if context != "param" and looks_plural(chain[0]) and names_like(chain[0]):
            self._items(node, words, bool(typed), parent, joined)
        if self._knows and chain[0]:
            self._known_elsewhere(node, words, parent, chain, joined)
        if self._knows and context != "param":
            self._values_elsewhere(node, words, parent, chain, joined)

    def _values_elsewhere(
        self,
        node: _Tmpl,
        words: dict[str, _Word],
        parent: str,
        chain: tuple[str, int],
        joined: dict[str, str],
    ) -> None:
        """Words most of which are values of a parameter elsewhere on this host (the same
        account names under /repos and under /users): values here too."""
        if (parent if parent != "/" else "") in self._decided_at.get(chain, ()):
            return
        rest = [v for v in words if v not in joined and not is_version(v)]
        hits = [v for v in rest if v in self._values]
        # one is enough under a collection: a name followed by a parameter elsewhere on the
        # host (the same resource under another API version)
        needed = 1 if chain[1] == 0 and chain[0] in self._collections else 2
        if len(hits) < needed or 2 * len(hits) < len([v for v in rest if not names_like(v)]):
            return
        per_value = _median([words[v].requests for v in hits])
        families = {shape_family(v) for v in hits}
        reason = (
            f"{len(hits)} of the words under {parent} are a parameter's values elsewhere on "
            f"this host ({_pick(sorted(hits))}): values here too"
        )
        why = ("values-elsewhere", reason)  # one tuple for every value it joins
        for value in rest:
            w = words[value]
            if value in hits or (
                shape_family(value) in families
                and not names_like(value)
                and w.requests <= HEAVY * per_value
            ):
                joined[value] = "param"
                node.joined[value] = why
        for family in families:
            node.families.setdefault(family, why)

    def _known_elsewhere(
        self,
        node: _Tmpl,
        words: dict[str, _Word],
        parent: str,
        chain: tuple[str, int],
        joined: dict[str, str],
    ) -> None:
        """Words at a place where, elsewhere on this host, words of the same shape after the
        same collection word are one parameter's values (``namespaces/{namespace}`` in every
        API group, ``repos/{owner}/{repo}`` under teams): values here too."""
        known = self._chains.get(chain)
        if not known or (parent if parent != "/" else "") in self._decided_at.get(chain, ()):
            return  # decided here already, on this place's own evidence
        for value in words:
            if value in joined or value in self._collections or is_version(value):
                continue
            seen = known.get(shape_family(value))
            if seen is None:
                continue
            rule, where = seen
            joined[value] = "param"
            node.joined[value] = (
                "known-elsewhere",
                f"after {chain[0]!r}, words shaped like this one are a parameter elsewhere on "
                f"this host (under {where}, by {rule}): a value here too",
            )

    def _decide_dates(
        self,
        node: _Tmpl,
        literals: dict[str, list[_Raw]],
        dates: list[str],
        parent: str,
        joined: dict[str, str],
    ) -> None:
        if len(dates) == 1:
            (value,) = dates
            group = literals[value]
            requests = sum(r.requests for r in group)
            below = any(_has_children(r) for r in group)
            if requests >= MIN_VALUES and below:
                node.notes[value] = (
                    "dated-version",
                    f"a date, but the only one under {parent} across {requests} requests, with "
                    "routes below it: a dated version segment, stays literal",
                )
                return
        why = ("date", f"a date ({len(dates)} distinct under {parent})")
        for value in dates:
            joined[value] = "date"
            node.joined[value] = why

    def _documented_param(
        self, node: _Tmpl, words: dict[str, _Word], parent: str, joined: dict[str, str]
    ) -> None:
        """Words of undocumented paths where the spec has a parameter (``/repos/{owner}``):
        values of it, unless shaped like a route's name or documented as a literal elsewhere
        (a possibly masked route stays apart)."""
        if self._doc_literals is None:
            self._doc_literals = self.matcher.literal_segments() if self.matcher else frozenset()
        why = (
            "documented-parameter",
            f"where the spec has a parameter under {parent}: a value of it",
        )
        for value in words:
            if value in joined or value in self._doc_literals:
                continue
            if _compound_name(value):
                continue  # snake_case, camelCase (findByTags) or dotted: a route's name
            joined[value] = "param"
            node.joined[value] = why

    def _join_typed(
        self,
        node: _Tmpl,
        words: dict[str, _Word],
        typed: list[_Raw] | None,
        parent: str,
        joined: dict[str, str],
    ) -> None:
        """Plain words beside generated names or mixed ids they resemble (``coredns`` beside
        ``nginx-66b6c48dd5-4jw2p``), with the same routes below and no more traffic than a
        value: values of the same parameter."""
        if not typed:
            return
        kinds: Counter[str] = Counter()
        seen: set[int] = set()
        requests = ends = 0
        below: set[str] = set()
        for raw in typed:
            if raw.typed is not None:
                kinds.update(raw.typed.names)
                seen.update(raw.typed.seen)
            requests += raw.requests
            ends += raw.ends
            _add_names(below, raw)
        main = min(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[0] if kinds else ""
        if main not in _JOINS_WORDS:
            return
        # heavier than a value (a name) only once enough values were seen to tell what a
        # value usually carries: beside one or two, a node fetched 7 times is still a value
        ceiling = HEAVY * max(1.0, requests / len(seen)) if len(seen) >= MIN_VALUES else inf
        members = [
            value
            for value, w in words.items()
            if value not in joined
            and _dns_like(value)
            and w.requests <= ceiling
            and (bool(w.keys & below) if w.keys else ends > 0 and not _compound_name(value))
        ]
        why = (
            "joins-typed",
            f"a word shaped like the {len(seen)} {main} value(s) beside it under {parent}, "
            "with the same routes below: a value of the same parameter",
        )
        for value in members:
            joined[value] = main
            node.joined[value] = why
        if members:
            node.families.setdefault(
                "dns", ("joins-typed", f"shaped like the {main} values under {parent}")
            )

    def _fixed_length(
        self,
        node: _Tmpl,
        words: dict[str, _Word],
        typed: list[_Raw] | None,
        parent: str,
        joined: dict[str, str],
    ) -> None:
        """Letters-and-digits literals of exactly the length of the fixed-length ids beside
        them (22-character base62 catalogue ids, one of which came out with too few case
        changes to be recognised on its own), with no more traffic than an id: ids too."""
        if not typed:
            return
        lengths: set[int] = set()
        requests = count = 0
        for raw in typed:
            if raw.typed is not None and raw.typed.seen:
                lengths.add(raw.typed.length)  # -1: lengths differ
                count += len(raw.typed.seen)
            requests += raw.requests
        if len(lengths) != 1 or count < MIN_VALUES:
            return
        (length,) = lengths
        if length < 10:
            return
        per_value = requests / count
        members = [
            value
            for value, w in words.items()
            if value not in joined
            and len(value) == length
            and mixes_classes(value)
            and w.requests <= HEAVY * max(1.0, per_value)
        ]
        why = (
            "fixed-length",
            f"letters and digits of exactly the length of the {count} fixed-length ids "
            f"beside it under {parent} ({length} characters): one of them",
        )
        for value in members:
            joined[value] = "param"
            node.joined[value] = why

    def _shared_subtree(
        self,
        node: _Tmpl,
        words: dict[str, _Word],
        parent: str,
        context: str,
        joined: dict[str, str],
    ) -> None:
        """Words whose routes below are alike (``namespaces/{default,kube-system}/pods``):
        values of one parameter. Words followed by versions name APIs, and names of
        resources (plurals, snake_case, camelCase verbs) stay literal."""
        candidates: dict[str, set[str]] = {}
        named = 0
        for value, w in words.items():
            if value in joined or not w.keys:
                continue
            if all(is_version(k) for k in w.keys):
                continue  # {name}/v1/…: an API or group name, not a value
            keys = set(w.keys)
            if context != "param":
                keys.update("/" + k for k in _deep(w))
            candidates[value] = keys
            named += names_like(value)
        if len(candidates) < MIN_VALUES or 2 * named > len(candidates):
            return  # too few, or mostly shaped like names (git/{refs,ref,matching-refs})
        counts: Counter[str] = Counter(k for keys in candidates.values() for k in keys)
        shared = {k for k, c in counts.items() if c >= 2}
        scores = {v: len(keys & shared) / len(keys) for v, keys in candidates.items()}
        members = [v for v, s in scores.items() if s >= 0.5]
        mean = sum(scores.values()) / len(scores)
        _top_key, top = counts.most_common(1)[0]
        needed = SHARED_SUBTREE if context != "param" else 0.8
        if len(members) < MIN_VALUES or mean < needed or 3 * top < len(candidates):
            return
        nearest = sorted(shared, key=lambda k: (k.startswith("/"), -counts[k], k))
        common = [k.lstrip("/") for k in nearest[:3]]
        reason = (
            f"one of {len(members)} words under {parent} whose routes below are alike "
            f"({_pick(common)}): values of one parameter"
        )
        why = ("shared-subtree", reason)  # one tuple for every value it joins
        families = {shape_family(v) for v in members}
        per_value = _median([words[v].requests for v in members])
        for value in members:
            joined[value] = "param"
            node.joined[value] = why
        for value, w in words.items():  # the other values: alike, no heavier than a value
            if value in joined or w.requests > HEAVY * per_value:
                continue
            if w.keys:  # with routes below, even shaped like a name ("payments", "rails")
                alike = not all(is_version(k) for k in w.keys)
            else:  # the same values called without a sub-route
                alike = shape_family(value) in families and not names_like(value)
            if alike:
                joined[value] = "param"
                node.joined[value] = why
        for family in families:
            node.families.setdefault(family, why)

    def _collection_items(
        self, node: _Tmpl, words: dict[str, _Word], parent: str, joined: dict[str, str]
    ) -> None:
        """Under a collection that follows a parameter (``{namespace}/limitranges``,
        ``{repo}/collaborators``), words are item ids, REST's collection/{id}, when none of
        them is shaped like a name: a value called once is still a value there."""
        rest = [v for v in words if v not in joined]
        if not rest or any(self._route_name(v, words[v]) or is_version(v) for v in rest):
            return
        reason = (
            f"under {parent}, a collection after a parameter, words are its items' ids "
            "(collection/{id}): a parameter"
        )
        why = ("collection-item", reason)  # one tuple for every value it joins
        for value in rest:
            joined[value] = "param"
            node.joined[value] = why
        for family in {shape_family(v) for v in rest}:
            node.families.setdefault(family, why)

    def _items(
        self,
        node: _Tmpl,
        words: dict[str, _Word],
        typed: bool,
        parent: str,
        joined: dict[str, str],
    ) -> None:
        """Under a collection (a plural name), a word called with several methods (GET, PUT,
        DELETE) is an item, REST's collection/{id}; actions (``search``, ``upcoming``) answer
        one method. Words shaped like it then join it when no typed id sits beside them."""
        items = [
            v
            for v, w in words.items()
            if v not in joined
            and bin(w.methods).count("1") >= 2
            and not names_like(v)
            and not is_version(v)
        ]
        if not items:
            return
        reason = (
            f"under {parent}, a collection, a word called with several methods as items are: "
            "a parameter"
        )
        why = ("collection-item", reason)  # one tuple for every value it joins
        families = {shape_family(v) for v in items}
        for value in items:
            joined[value] = "param"
            node.joined[value] = why
        if typed:
            return
        for value, _w in words.items():
            if value not in joined and shape_family(value) in families and not names_like(value):
                joined[value] = "param"
                node.joined[value] = why
        for family in families:
            node.families.setdefault(family, why)

    def _route_name(self, value: str, word: _Word) -> bool:
        """Shaped like a route's name rather than an item's id: snake_case, camelCase or a
        dotted method; or a plural with routes below it that names a collection elsewhere."""
        if not names_like(value):
            return False
        return not looks_plural(value) or word.typed_below or bool(word.keys)

    def _alike_values(
        self, node: _Tmpl, words: dict[str, _Word], parent: str, joined: dict[str, str]
    ) -> None:
        """Leaves shaped alike that keep bringing new values (at least one per 1/LEAF_RATIO
        requests) under a collection (a plural parent) or shaped like values: one parameter.
        So does any set of at least ``threshold`` alike words still bringing new values."""
        by_family: dict[str, list[str]] = {}
        for value, _w in words.items():
            if value in joined or names_like(value):
                continue
            by_family.setdefault(shape_family(value), []).append(value)
        if not by_family:
            return
        family, values = max(by_family.items(), key=lambda kv: (len(kv[1]), kv[0]))
        leaves = [v for v in values if not words[v].keys]
        last = parent.rsplit("/", 1)[-1]
        collection = names_like(last) and not last.startswith("{")
        requests = sum(words[v].requests for v in leaves)
        ratio = len(leaves) / max(1, requests)
        multi = [
            v
            for v, w in words.items()
            if v not in joined and not w.keys and bin(w.methods).count("1") >= 2
        ]
        if (
            len(leaves) >= MIN_VALUES
            and ratio >= LEAF_RATIO
            and (collection or 2 * sum(_value_like(v) for v in leaves) >= len(leaves))
        ):
            per_value = _median([words[v].requests for v in leaves])
            members = [v for v in leaves if words[v].requests <= HEAVY * per_value]
            reason = (
                f"one of {len(leaves)} alike words under {parent}, a new value every "
                f"{1 / ratio:.1f} requests: values of one parameter"
            )
            rule = "alike-values"
        elif len(multi) >= MIN_VALUES and 2 * len(multi) >= len(leaves):
            # items answer several methods (GET, PUT, DELETE); an action called often with
            # one method only (login, logout) is a name beside them: more requests than an
            # item's, or more of one method than items' share of it makes likely
            per_value = _median([words[v].requests for v in multi])
            shares: Counter[int] = Counter()
            for v in multi:
                shares.update(_by_method(words[v]))
            total = sum(shares.values())
            members = multi + [
                v
                for v in leaves
                if v not in multi
                and words[v].requests <= per_value
                and _plausible_item(words[v], shares, total)
            ]
            reason = (
                f"one of {len(leaves)} alike words under {parent}, most called with several "
                "methods as items are: values of one parameter"
            )
            rule = "alike-values"
        else:
            requests = sum(words[v].requests for v in values)
            ratio = len(values) / max(1, requests)
            if len(values) < self.rules.threshold or ratio < LEAF_RATIO / 2:
                return
            members = values
            rule = "cardinality"
            reason = (
                f"{len(values)} distinct alike words under {parent} reach the merge threshold "
                f"{self.rules.threshold}: a parameter"
            )
        if len(members) < MIN_VALUES:
            return
        why = (rule, reason)  # one tuple for every value it joins
        for value in members:
            joined[value] = "param"
            node.joined[value] = why
        node.families.setdefault(family, why)

    def _masked_routes(self) -> dict[tuple[str, int], dict[str, str]]:
        """Words a documented parameter received where it otherwise receives typed ids, when
        the word is a documented literal elsewhere on the host or shaped like a route name
        (``/v1/payment_intents/search`` under ``{intent}``): possibly masked routes."""
        if self.matcher is None:
            return {}
        literals = self.matcher.literal_segments()
        masked: dict[tuple[str, int], dict[str, str]] = {}
        for template, slots in self._doc_slots.items():
            length, places = slots.length, slots.places
            documented = 0
            for op in self.matcher.templates.get(template, []):
                documented |= method_bit(op.method)
            for index, place in places:
                if place.words:
                    final = index == length - 1
                    self._masked_at(template, index, final, place, documented, literals, masked)
        return masked

    def _masked_at(
        self,
        template: str,
        index: int,
        final: bool,
        place: _Place,
        documented: int,
        literals: frozenset[str],
        masked: dict[tuple[str, int], dict[str, str]],
    ) -> None:
        """The possibly masked routes among the words one documented parameter received."""
        words = place.words
        typed = len(place.typed or ())
        items = _items_profile(words) if final else None
        for word, entry in words.items():
            methods = entry & _METHOD_MASK
            if typed >= 2 and typed >= 2 * len(words) and (word in literals or names_like(word)):
                why = (
                    "a documented literal elsewhere in the spec"
                    if word in literals
                    else "shaped like a route name"
                )
                reason = (
                    f"{word!r} where the documented parameter otherwise receives ids "
                    f"({typed} seen), and {why}: a possibly masked undocumented route"
                )
            elif (
                final
                and names_like(word)
                and not looks_plural(word)
                and methods
                and not methods & documented
            ):
                reason = (
                    f"{word!r}, shaped like a route name, is only called with methods the "
                    f"documented {template} does not have: a possibly masked undocumented route"
                )
            elif (
                items is not None and bin(methods).count("1") == 1 and entry >> 7 >= 2 * items[1]
            ):  # called often with one method, beside values answering several as items do
                reason = (
                    f"{word!r} is called with one method only and far more often than the "
                    "parameter's other values, which answer several methods as items do: "
                    "a possibly masked undocumented route (an action)"
                )
            else:
                continue
            masked.setdefault((template, index), {})[word] = reason

    # -- templating

    def template(self, path: str) -> str:
        """The template of a path (documented, pinned or inferred)."""
        return self.resolve(path, explain=False).template

    def explain(self, path: str) -> Templated:
        """The template of a path with a decision and its reason for every segment."""
        return self.resolve(path, explain=True)

    def resolve(self, path: str, explain: bool = True) -> Templated:
        if not self._finished:
            self.finish()
        segments = path_segments(path)
        pinned = self.pinned(segments) if self._pins else None
        documented = None
        if pinned is None and self.matcher is not None:
            documented = self.matcher.match_segments(segments)
        if documented is not None:
            masked = self._masked_value(documented, segments)
            if masked is None:
                return Templated(
                    path,
                    documented,
                    "documented",
                    self._documented_decisions(segments, documented) if explain else (),
                )
            inferred = self._infer(path, segments, explain, literal_at=masked[0])
            decisions = inferred.decisions
            if explain:
                index, reason = masked
                decisions = tuple(
                    SegmentDecision(d.value, d.template, d.kind, "masked-route", reason)
                    if i == index
                    else d
                    for i, d in enumerate(decisions)
                )
            return Templated(path, inferred.template, "inferred", decisions, documented)
        if pinned is not None:
            pinned_decisions: tuple[SegmentDecision, ...] = ()
            if explain:
                parts = [s for s in pinned.split("/") if s]
                pinned_decisions = tuple(
                    SegmentDecision(
                        v,
                        p,
                        "parameter" if p.startswith("{") else "literal",
                        "pinned",
                        f"pinned template {pinned} in {self.rules.source}",
                    )
                    for v, p in zip(segments, parts, strict=True)
                )
            return Templated(path, pinned, "pinned", pinned_decisions)
        return self._infer(path, segments, explain)

    def _masked_value(self, template: str, segments: list[str]) -> tuple[int, str] | None:
        checks = self._mask_checks.get(template)
        if checks is None:
            checks = self._mask_checks[template] = self._checks_for(template)
        if not checks or len(segments) != len(self._doc_parts[template]):
            return None
        for i, suspects in checks:
            value = segments[i]
            if value not in suspects:
                continue
            words = self._masked.get((template, i))
            if words is not None and value in words:
                return i, words[value]
            name = self._doc_parts[template][i][1]
            return i, (
                f"{value!r} is a documented literal right beside {{{name}}}, but the rest of "
                "the path fits no route under it: a possibly masked undocumented route"
            )
        return None

    def _checks_for(self, template: str) -> list[tuple[int, frozenset[str]]]:
        """Per parameter of a documented template, the values that would be masked routes
        there (masked words, documented literals beside it); only the non-empty ones."""
        parts = self._doc_parts.get(template)
        if parts is None:
            parts = self._doc_parts[template] = _template_parts(template)
        assert self.matcher is not None
        checks = []
        for i, (_literal, name, _suffix) in enumerate(parts):
            if name is None:
                continue
            suspects = self.matcher.literal_siblings(template, i) | frozenset(
                self._masked.get((template, i), ())
            )
            if suspects:
                checks.append((i, suspects))
        return checks

    def _infer(
        self, path: str, segments: list[str], explain: bool, literal_at: int = -1
    ) -> Templated:
        node: _Tmpl | None = self.tree
        used: dict[str, int] = {}
        parts: list[str] = []
        decisions: list[SegmentDecision] = []
        parent = ""
        for index, value in enumerate(segments):
            rule = reason = ""
            if index == literal_at:  # a possibly masked route's name stays itself
                part, rule, nxt = value, "masked-route", node.literals.get(value) if node else None
            elif node is None:
                kind = segment_kind(value)
                if kind.param is not None and kind.rule != "date":
                    part = "{" + _param_name(kind.param, used) + "}" + kind.suffix
                    rule, reason = kind.rule, kind.reason
                else:
                    part, rule = value, kind.rule
                    reason = f"{kind.reason} (not seen in traffic before)" if explain else ""
                nxt = None
            elif value in node.literals:
                part, nxt = value, node.literals[value]
                if explain:
                    rule, reason = self._literal_reason(node, value, parent)
            elif value in node.joined:
                base = node.names.get("", "param")
                part = "{" + _param_name(base, used) + "}"
                rule, reason = node.joined[value]
                nxt = node.params.get("")
            else:
                kind = segment_kind(value)
                family = None
                if kind.param is None and not node.forbidden:
                    family = node.families.get(shape_family(value))
                    if (
                        family is None
                        and "*" in node.families
                        and not (names_like(value) and not looks_plural(value))
                    ):
                        family = node.families["*"]  # an unseen value of a documented parameter
                if kind.param is not None and not node.forbidden:
                    suffix = "" if node.files else kind.suffix
                    base = node.names.get(suffix, kind.param)
                    part = "{" + _param_name(base, used) + "}" + suffix
                    rule, reason = kind.rule, kind.reason
                    if suffix != kind.suffix:
                        reason = (
                            f"{reason}; the values under {parent or '/'} are file names, "
                            "their suffixes part of the value: one parameter"
                        )
                    nxt = node.params.get(suffix)
                elif family is not None and "" in node.params:
                    part = "{" + _param_name(node.names.get("", "param"), used) + "}"
                    rule, reason = family
                    nxt = node.params[""]
                else:
                    part, rule = value, kind.rule
                    if node.forbidden:
                        rule = "forbidden"
                    reason = f"{kind.reason} (not seen in traffic before)" if explain else ""
                    nxt = None
            if explain and node is not None and node.forbidden:
                rule = "forbidden"
                reason = f"merging forbidden under {parent or '/'} by {self.rules.source}"
            parts.append(part)
            parent += "/" + part
            if explain:
                decisions.append(
                    SegmentDecision(
                        value,
                        part,
                        "parameter" if part.startswith("{") else "literal",
                        rule,
                        reason,
                    )
                )
            node = nxt
        return Templated(path, "/" + "/".join(parts), "inferred", tuple(decisions))

    def _literal_reason(self, node: _Tmpl, value: str, parent: str) -> tuple[str, str]:
        note = node.notes.get(value)
        if note is not None:
            return note
        kind = classify_segment(value)
        where = parent or "/"
        if node.forbidden:
            return "forbidden", f"merging forbidden under {where} by {self.rules.source}"
        if node.protected:
            return kind.rule, f"{kind.reason}; under {where} ({node.protected}) names stay literal"
        if kind.rule == "date":
            return kind.rule, f"{kind.reason}, the only one under {where}: stays literal"
        return kind.rule, (
            f"{kind.reason}; {node.literal_count} literal value(s) under {where} that do not "
            "look like one parameter's values (no shared routes below, names, or too few)"
        )

    def _documented_decisions(
        self, segments: list[str], template: str
    ) -> tuple[SegmentDecision, ...]:
        assert self.matcher is not None
        ops = self.matcher.templates.get(template, [])
        title = ops[0].spec_title if ops else "spec"
        schemas: dict[str, Any] = {}
        for op in ops:
            for param in op.parameters:
                if param.get("in") == "path":
                    schemas.setdefault(param["name"], param.get("schema") or {})
        parts = path_segments(template)
        out = []
        for i, part in enumerate(parts):
            if i >= len(segments):
                break
            # a final parameter spanning slashes takes the rest of the path
            value = "/".join(segments[i:]) if i == len(parts) - 1 else segments[i]
            if "{" in part:
                names = re.findall(r"\{([^{}]+)\}", part)
                described = ", ".join(f"{n}: {describe_schema(schemas.get(n, {}))}" for n in names)
                spans = " (spanning slashes, as a final path parameter may)" if "/" in value else ""
                out.append(
                    SegmentDecision(
                        value,
                        part,
                        "parameter",
                        "documented",
                        f"documented parameter in {title!r} ({described}){spans}",
                    )
                )
            else:
                out.append(
                    SegmentDecision(
                        value, part, "literal", "documented", f"documented literal in {title!r}"
                    )
                )
        return tuple(out)
