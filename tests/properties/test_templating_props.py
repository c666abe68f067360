"""Templating properties: total on any text, idempotent (a template's concrete example templates
back to it), independent of the order paths are learned in, and never merged across hosts."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.analyse.recompute import recompute
from discovery.analyse.templating import HostTemplater, SegmentKind, TemplateRules, classify_segment
from discovery.case.store import Store
from tests.conftest import make_exchange

WORDS = [
    "users",
    "orders",
    "me",
    "export",
    "items",
    "v1",
    "v2",
    "admin",
    "reports",
    "files",
    "public",
    "getProfile",
    "oauth2",
    "latest",
    "search",
]
TENANTS = [f"{a}{b}" for a in ("acme", "globex", "initech", "umbrella") for b in ("x", "yy", "zed")]


def _typed(n: int) -> list[str]:
    return [
        str(n),
        str(uuid.UUID(int=n * 7919 + 1)),
        hashlib.sha1(b"%d" % n).hexdigest(),
        f"2026-0{n % 9 + 1}-1{n % 9}",
        f"user{n}@corp.io",
        f"INV-2026-{n:06d}",
        hashlib.md5(b"%d" % n).hexdigest()[:24],
    ]


segment = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(TENANTS),
    st.integers(0, 10**6).flatmap(lambda n: st.sampled_from(_typed(n))),
    st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=12),
)
paths = st.lists(segment, min_size=1, max_size=5).map(lambda s: "/" + "/".join(s))
learned = st.lists(paths, min_size=1, max_size=40)
thresholds = st.integers(2, 6)


def templater(host: str, items: list[str], threshold: int) -> HostTemplater:
    t = HostTemplater(host, TemplateRules(threshold=threshold))
    t.learn(items)
    t.finish()
    return t


# ------------------------------------------------------------------------- classify_segment


@settings(max_examples=300)
@given(st.text())
def test_classify_segment_is_total(value: str) -> None:
    kind = classify_segment(value)
    assert isinstance(kind, SegmentKind) and kind.rule and kind.reason


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_fuzz_classify_segment_is_total(value: str) -> None:
    kind = classify_segment(value)
    assert isinstance(kind, SegmentKind) and kind.rule and kind.reason


# ------------------------------------------------------------------------- idempotence


def _fresh(rule: str, seed: int, taken: set[str]) -> str | None:
    """Another value classified like ``rule`` (a parameter's concrete example)."""
    if rule == "cardinality":
        word = "q" + "".join(chr(97 + int(d)) for d in str(seed))
        return word if word not in taken else None
    for value in _typed(seed + 12345):
        if classify_segment(value).rule == rule:
            return value
    return None


def check_idempotent(items: list[str], threshold: int, seed: int) -> None:
    t = templater("h", items, threshold)
    taken = {s for p in items for s in p.split("/")}
    for path in items:
        explained = t.explain(path)
        example = []
        for decision in explained.decisions:
            value = decision.value
            if decision.kind == "parameter":
                value = _fresh(decision.rule, seed, taken) or value
            example.append(value)
        concrete = "/" + "/".join(example)
        assert t.template(concrete) == explained.template, (path, concrete)


@settings(max_examples=100)
@given(learned, thresholds, st.integers(0, 10**6))
def test_a_templates_concrete_example_templates_back_to_it(
    items: list[str], threshold: int, seed: int
) -> None:
    check_idempotent(items, threshold, seed)


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@given(learned, thresholds, st.integers(0, 10**6))
def test_fuzz_a_templates_concrete_example_templates_back_to_it(
    items: list[str], threshold: int, seed: int
) -> None:
    check_idempotent(items, threshold, seed)


# ------------------------------------------------------------------------- order


def check_order(items: list[str], shuffled: list[str], threshold: int, cut: int) -> None:
    reference = templater("h", items, threshold)
    again = templater("h", shuffled, threshold)
    for path in items:
        assert again.template(path) == reference.template(path), path
    # learned in two batches, templating in between (each batch finishes the trie)
    batched = HostTemplater("h", TemplateRules(threshold=threshold))
    batched.learn(shuffled[:cut])
    batched.template("/")
    batched.learn(shuffled[cut:])
    for path in items:
        assert batched.template(path) == reference.template(path), path


@st.composite
def orders(draw: st.DrawFn) -> tuple[list[str], list[str], int, int]:
    items = draw(learned)
    return items, draw(st.permutations(items)), draw(thresholds), draw(st.integers(0, len(items)))


@settings(max_examples=100)
@given(orders())
def test_templates_do_not_depend_on_the_order_paths_are_learned(
    case: tuple[list[str], list[str], int, int],
) -> None:
    check_order(*case)


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@given(orders())
def test_fuzz_templates_do_not_depend_on_the_order_paths_are_learned(
    case: tuple[list[str], list[str], int, int],
) -> None:
    check_order(*case)


# ------------------------------------------------------------------------- hosts


def _endpoints(store: Store, host: str) -> set[tuple[str, str]]:
    return set(
        store.conn.execute(
            "SELECT method, template FROM endpoints WHERE host = ? AND status != 'orphan'", (host,)
        )
    )


def check_hosts(a_paths: list[str], b_paths: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with Store.open(Path(tmp) / "alone.db") as alone:
            alone.add_exchanges([make_exchange(host="a.example", path=p) for p in a_paths])
            recompute(alone)
            expected = _endpoints(alone, "a.example")
        with Store.open(Path(tmp) / "mixed.db") as mixed:
            mixed.add_exchanges(
                [make_exchange(host="a.example", path=p) for p in a_paths]
                + [make_exchange(host="b.example", path=p) for p in b_paths]
            )
            recompute(mixed)
            assert _endpoints(mixed, "a.example") == expected
            b_templates = {t for _m, t in _endpoints(mixed, "b.example")}
            rows = mixed.conn.execute(
                "SELECT e.host, x.host FROM exchanges x JOIN endpoints e ON e.id = x.endpoint_id"
            ).fetchall()
            assert all(h1 == h2 for h1, h2 in rows)
            assert b_templates or not b_paths


simple_paths = st.lists(
    st.sampled_from(WORDS + TENANTS) | st.integers(0, 99).map(str), min_size=1, max_size=3
).map(lambda s: "/" + "/".join(s))
# b.example has many siblings under the same parents as a.example: they must not merge a's
host_cases = st.tuples(
    st.lists(simple_paths, min_size=1, max_size=15),
    st.lists(simple_paths, min_size=0, max_size=40).map(
        lambda ps: ps + [f"/users/{t}" for t in TENANTS * 2]
    ),
)


@settings(max_examples=15)
@given(host_cases)
def test_paths_never_merge_across_hosts(case: tuple[list[str], list[str]]) -> None:
    check_hosts(*case)


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
@settings(max_examples=500)
@given(host_cases)
def test_fuzz_paths_never_merge_across_hosts(case: tuple[list[str], list[str]]) -> None:
    check_hosts(*case)
