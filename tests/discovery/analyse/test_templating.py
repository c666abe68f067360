"""Templating, table-driven: typed segments, words and versions stay literal, cardinality merges."""

from __future__ import annotations

import pytest

from discovery.analyse.templating import HostTemplater, TemplateRules, classify_segment


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("42", "integer"),
        ("me", "word"),
        ("getUserProfile", "word"),
        ("public", "word"),
        ("v2", "version"),
        ("v1beta1", "version"),
        ("INV-2026-000123", "mixed-id"),
        ("ABC-12345", "mixed-id"),
        ("sha256", "word"),
        ("oauth2", "word"),
        ("550e8400-e29b-41d4-a716-446655440000", "uuid"),
        ("2026-01-31", "date"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "hex"),
        ("507f1f77bcf86cd799439011", "objectid"),
        ("a@b.io", "email"),
        ("01ARZ3NDEKTSV4RYFFQ69G5FAV", "ulid"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "jwt"),
    ],
)
def test_classify_segment(value: str, rule: str) -> None:
    assert classify_segment(value).rule == rule


@pytest.mark.parametrize(
    ("learned", "path", "template"),
    [
        (["/users/1", "/users/me"], "/users/me", "/users/me"),  # literal beside a param route
        (["/users/1", "/users/me"], "/users/2", "/users/{id}"),
        (["/v2/public/users/3"], "/v2/public/users/3", "/v2/public/users/{id}"),
        ([f"/u/name{c}x" for c in "abcde"], "/u/nameax", "/u/nameax"),  # below threshold
        ([f"/u/n{c}{d}" for c in "abcde" for d in "xy"], "/u/nax", "/u/{param}"),  # threshold 10
    ],
)
def test_host_templates(learned: list[str], path: str, template: str) -> None:
    t = HostTemplater("h", TemplateRules(threshold=10))
    t.learn(learned)
    assert t.template(path) == template
    assert len(t.explain(path).decisions) == len([s for s in path.split("/") if s])
