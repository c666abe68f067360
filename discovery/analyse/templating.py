"""Path templating: observed paths -> templates, explainably and correctably.

A segment becomes a parameter when its value is typed (integer, UUID, hex digest, date, email,
ULID/ObjectId, long mixed id such as ``INV-2026-000123``, JWT/base64-like token), or when many
distinct values appear under the same parent (cardinality, with a threshold). Words stay literal
(``me``, ``export``, camelCase words), and so do versions (``v2``, ``1.0``). Documented templates
win (the caller matches the spec first); a templater is per host, so nothing merges across hosts.
Users pin templates or forbid merges in a small YAML file beside the case
(``CASE.templates.yaml``)::

    threshold: 20                 # distinct values under one parent before they merge
    pins:
      - {host: api.example.com, template: /v1/orgs/{org}/reports/{name}}
    forbid_merge:
      - {host: "*", parent: /v1/regions}   # children of this parent stay literal
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from discovery import boundedyaml
from discovery.analyse.matching import HostMatcher, describe_schema
from discovery.errors import InputError

DEFAULT_THRESHOLD = 20

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX = re.compile(r"[0-9a-fA-F]+\Z")
_DATE = re.compile(
    r"\d{4}-[01]\d-[0-3]\d([T ][0-2]\d:[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?\Z"
)
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}\Z")
_ULID = re.compile(r"[0-9][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}\Z")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
_TOKEN = re.compile(r"[A-Za-z0-9+_-]{20,}={0,2}\Z")
_MIXED = re.compile(r"[A-Za-z0-9]+(?:[-_.:][A-Za-z0-9]+)*\Z")
_VERSION = re.compile(
    r"(?:[vV]\d+(?:\.\d+)*(?:(?:alpha|beta|rc|preview|p)\d*)?|\d+\.\d+(?:\.\d+)?)\Z"
)
_DIGIT_RUN = re.compile(r"\d+")
_CAMEL = re.compile(r"[a-z]+(?:[A-Z][a-z]+)+\Z|[A-Z][a-z]+(?:[A-Z][a-z]+)+\Z")


@dataclass(frozen=True, slots=True)
class SegmentKind:
    """What a single segment value is, on its own: a typed parameter or a literal, and why."""

    param: str | None  # parameter name for typed values ("id", "uuid", …); None = literal
    rule: str  # machine-readable: integer, uuid, hex, date, email, ulid, objectid, mixed-id, …
    reason: str  # one human sentence


INTEGER = SegmentKind("id", "integer", "an integer: object ids are parameters")


def segment_kind(value: str) -> SegmentKind:
    """``classify_segment``, with integers (the commonest ids) answered without the memo: every
    new id would be a memo miss, and there are as many as objects."""
    return INTEGER if value.isdigit() else classify_segment(value)


@lru_cache(maxsize=1 << 16)
def classify_segment(value: str) -> SegmentKind:
    """Classify one path segment by its value alone (no context)."""
    if value.isdigit():
        return INTEGER
    if value.isalpha():
        if _CAMEL.match(value):
            return SegmentKind(None, "word", "a camelCase word: stays literal")
        return SegmentKind(None, "word", "a word: stays literal")
    if _VERSION.match(value):
        return SegmentKind(None, "version", "a version segment: stays literal")
    n = len(value)
    if n == 36 and _UUID.match(value):
        return SegmentKind("uuid", "uuid", "a UUID")
    if _DATE.match(value):
        return SegmentKind("date", "date", "a date")
    if "@" in value and _EMAIL.match(value):
        return SegmentKind("email", "email", "an email address")
    if _JWT.match(value):
        return SegmentKind("token", "jwt", "a JWT-like token")
    digits = sum(c.isdigit() for c in value)
    if n == 24 and _HEX.match(value) and digits:
        return SegmentKind("objectId", "objectid", "a 24-hex-digit ObjectId")
    if n >= 16 and _HEX.match(value) and digits and digits < n:
        return SegmentKind("hash", "hex", f"a hex digest ({n} hex digits)")
    if n == 26 and _ULID.match(value) and digits >= 4:
        return SegmentKind("ulid", "ulid", "a ULID")
    letters = sum(c.isalpha() for c in value)
    if (
        n >= 20
        and _TOKEN.match(value)
        and digits >= 2
        and letters >= 2
        and ((any(c.isupper() for c in value) and any(c.islower() for c in value)) or "=" in value)
    ):
        return SegmentKind("token", "token", "a base64-like token")
    run = max((len(r) for r in _DIGIT_RUN.findall(value)), default=0)
    if (
        _MIXED.match(value)
        and digits
        and letters
        and (run >= 5 or (run >= 4 and n >= 8) or (digits >= 4 and n >= 10))
    ):
        return SegmentKind(
            "ref", "mixed-id", f"a long mixed id ({letters} letters, {digits} digits)"
        )
    if digits and letters:
        return SegmentKind(
            None, "word", "letters with a few digits (like oauth2, sha256): stays literal"
        )
    return SegmentKind(None, "word", "not an id pattern: stays literal")


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
    where = str(path)
    try:
        data = boundedyaml.load(path.read_text(encoding="utf-8"))  # aliases, nesting bounded
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
    rule: str  # integer, uuid, …, word, version, cardinality, documented, pinned, forbidden
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
    """A path's template, where it came from (documented / pinned / inferred) and the decisions."""

    path: str
    template: str
    source: str  # "documented" | "pinned" | "inferred"
    decisions: tuple[SegmentDecision, ...] = ()


def _param_name(base: str, used: dict[str, int]) -> str:
    count = used.get(base, 0) + 1
    used[base] = count
    return base if count == 1 else f"{base}{count}"


# ---------------------------------------------------------------------------- the trie


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    typed: dict[str, _Node] = field(default_factory=dict)  # param name -> node
    merged: _Node | None = None  # cardinality parameter, when literals merged
    merged_count: int = 0
    literal_count: int = 0  # distinct literal values seen here before merging
    forbidden: bool = False


def _union(into: _Node, other: _Node) -> None:
    for key, child in other.literals.items():
        existing = into.literals.get(key)
        if existing is None:
            into.literals[key] = child
        else:
            _union(existing, child)
    for key, child in other.typed.items():
        existing = into.typed.get(key)
        if existing is None:
            into.typed[key] = child
        else:
            _union(existing, child)
    if other.merged is not None:  # a subtree merged by an earlier finish() keeps its parameter
        if into.merged is None:
            into.merged = other.merged
        else:
            _union(into.merged, other.merged)
        into.merged_count += other.merged_count


class HostTemplater:
    """Learns one host's paths, merges by cardinality, then templates and explains any path."""

    def __init__(
        self, host: str, rules: TemplateRules | None = None, matcher: HostMatcher | None = None
    ) -> None:
        self.host = host
        self.rules = rules or TemplateRules()
        self.matcher = matcher
        self.root = _Node()
        self._pins = [(p, [s for s in p.split("/") if s]) for p in self.rules.pins_for(host)]
        self._forbidden = self.rules.forbidden_for(host)
        self._finished = False

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
        """Add observed paths (documented and pinned paths are not learned: they are decided)."""
        for path in paths:
            segments = [s for s in path.split("/") if s]
            if self.pinned(segments) is not None or self.documented(path) is not None:
                continue
            node = self.root
            prefix = ""
            for value in segments:
                forbidden = (
                    node.forbidden
                    or prefix in self._forbidden
                    or (prefix == "" and "/" in self._forbidden)
                )
                node.forbidden = forbidden
                kind = segment_kind(value)
                if kind.param is not None and not forbidden:
                    child = node.typed.get(kind.param)
                    if child is None:
                        child = node.typed[kind.param] = _Node()
                    prefix += "/{" + kind.param + "}"
                else:
                    child = node.literals.get(value)
                    if child is None:
                        child = node.literals[value] = _Node()
                    prefix += "/" + value
                node = child
        self._finished = False

    def finish(self) -> None:
        """Merge literal siblings whose number reaches the threshold (top-down)."""
        self._merge(self.root, "")
        self._finished = True

    def _merge(self, node: _Node, prefix: str) -> None:
        node.forbidden = node.forbidden or (prefix or "/") in self._forbidden
        node.literal_count = len(node.literals) + node.merged_count
        # once merged, values learned later join the parameter too (learning in batches gives
        # the templates of learning everything at once)
        if (
            not node.forbidden
            and node.literals
            and (len(node.literals) >= self.rules.threshold or node.merged is not None)
        ):
            merged = node.merged or _Node()
            for child in node.literals.values():
                _union(merged, child)
            node.merged_count += len(node.literals)
            node.literal_count = node.merged_count
            node.literals = {}
            node.merged = merged
        for value, child in node.literals.items():
            self._merge(child, f"{prefix}/{value}")
        for name, child in node.typed.items():
            self._merge(child, f"{prefix}/{{{name}}}")
        if node.merged is not None:
            self._merge(node.merged, f"{prefix}/{{param}}")

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
        segments = [s for s in path.split("/") if s]
        documented = self.documented(path)
        if documented is not None:
            return Templated(
                path,
                documented,
                "documented",
                self._documented_decisions(segments, documented) if explain else (),
            )
        pinned = self.pinned(segments)
        if pinned is not None:
            decisions: tuple[SegmentDecision, ...] = ()
            if explain:
                parts = [s for s in pinned.split("/") if s]
                decisions = tuple(
                    SegmentDecision(
                        v,
                        p,
                        "parameter" if p.startswith("{") else "literal",
                        "pinned",
                        f"pinned template {pinned} in {self.rules.source}",
                    )
                    for v, p in zip(segments, parts, strict=True)
                )
            return Templated(path, pinned, "pinned", decisions)
        return self._infer(path, segments, explain)

    def _infer(self, path: str, segments: list[str], explain: bool) -> Templated:
        node: _Node | None = self.root
        used: dict[str, int] = {}
        parts: list[str] = []
        decisions: list[SegmentDecision] = []
        parent = ""
        forbidden_under = self._forbidden
        for value in segments:
            kind = segment_kind(value)
            forbidden = (node.forbidden if node is not None else False) or (
                parent or "/"
            ) in forbidden_under
            if forbidden:
                part, rule = value, "forbidden"
                reason = (
                    f"merging forbidden under {parent or '/'} by {self.rules.source}"
                    if explain
                    else ""
                )
                node = node.literals.get(value) if node is not None else None
            elif kind.param is not None:
                part, rule, reason = (
                    "{" + _param_name(kind.param, used) + "}",
                    kind.rule,
                    kind.reason,
                )
                node = node.typed.get(kind.param) if node is not None else None
            elif node is not None and value in node.literals:
                part, rule = value, kind.rule
                reason = (
                    f"{kind.reason}; {node.literal_count} distinct value(s) under "
                    f"{parent or '/'}, below the merge threshold {self.rules.threshold}"
                    if explain
                    else ""
                )
                node = node.literals[value]
            elif node is not None and node.merged is not None:
                part, rule = "{" + _param_name("param", used) + "}", "cardinality"
                reason = (
                    f"{node.merged_count} distinct values under {parent or '/'} reach "
                    f"the merge threshold {self.rules.threshold}: a parameter"
                    if explain
                    else ""
                )
                node = node.merged
            else:
                part, rule = value, kind.rule
                reason = f"{kind.reason} (not seen in traffic before)" if explain else ""
                node = None
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
        return Templated(path, "/" + "/".join(parts), "inferred", tuple(decisions))

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
        out = []
        for value, part in zip(segments, [s for s in template.split("/") if s], strict=True):
            if "{" in part:
                names = re.findall(r"\{([^{}]+)\}", part)
                described = ", ".join(f"{n}: {describe_schema(schemas.get(n, {}))}" for n in names)
                out.append(
                    SegmentDecision(
                        value,
                        part,
                        "parameter",
                        "documented",
                        f"documented parameter in {title!r} ({described})",
                    )
                )
            else:
                out.append(
                    SegmentDecision(
                        value, part, "literal", "documented", f"documented literal in {title!r}"
                    )
                )
        return tuple(out)
