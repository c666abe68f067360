"""Sandboxed templating: values are data, the sandbox refuses unsafe access, types are kept."""

from __future__ import annotations

from typing import Any

import pytest

from runbooks.templating import TemplateFailure, evaluate, provider_for, render

CTX: dict[str, Any] = {
    "target": {
        "id": "c-1",
        "sources": ["10.0.0.5", "10.0.0.6"],
        "kind": "github_token",
        "path": "{{ 7 * 7 }}",
        "agent": "$(rm -rf /); `id`",
    },
    "inputs": {"n": 3, "flag": False, "name": None},
    "steps": {"a": {"output": {"status": 200}}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain", "plain"),
        ("{{ target.id }}", "c-1"),
        ("{{ target.sources }}", ["10.0.0.5", "10.0.0.6"]),  # a single expression keeps its type
        ("{{ inputs.n }}", 3),
        ("{{ inputs.name }}", None),
        ("id={{ target.id }}/{{ inputs.n }}", "id=c-1/3"),
        ("{{ target.path }}", "{{ 7 * 7 }}"),  # a captured value is never rendered again
        ("x {{ target.path }}", "x {{ 7 * 7 }}"),
        ("{{ target.agent }}", "$(rm -rf /); `id`"),
        ("{{ steps.a.output.status }}", 200),
        ("{{ target.sources | join(',') }}", "10.0.0.5,10.0.0.6"),
        ({"k": ["{{ inputs.n }}", "lit"]}, {"k": [3, "lit"]}),
    ],
)
def test_render(template: Any, expected: Any) -> None:
    assert render(template, CTX) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ target.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ inputs.n.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_sandbox_refuses_unsafe_access(template: str) -> None:
    with pytest.raises(TemplateFailure):
        render(template, CTX)


def test_unknown_names_fail_in_a_live_run_and_show_in_a_plan() -> None:
    with pytest.raises(TemplateFailure, match="template"):
        render("{{ steps.b.output.id }}", CTX)
    assert render("id={{ steps.b.output.id }}", CTX, plan=True).startswith("id=<unknown: ")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("inputs.n > 2", True),
        ("inputs.flag", False),
        ("{{ target.kind == 'github_token' }}", True),
        ("provider_for(target.kind) == 'github'", True),
    ],
)
def test_evaluate(expression: str, expected: Any) -> None:
    assert evaluate(expression, CTX) == expected


@pytest.mark.parametrize(
    ("kind", "provider"),
    [
        ("aws_sigv4", "aws"),
        ("github_token", "github"),
        ("slack_token", "slack"),
        ("vault_token", "vault"),
        ("jwt", "oauth"),
        ("bearer", "oauth"),
        ("basic", ""),
        (None, ""),
    ],
)
def test_provider_for(kind: Any, provider: str) -> None:
    assert provider_for(kind) == provider
