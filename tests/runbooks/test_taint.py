"""Secret inputs taint what is derived from them: any filter, slice or concatenation of a secret
in a runbook is redacted wherever the run stores or prints it (the audit log, step rows, events,
the JSON and Markdown reports), even when a server echoes it back in an error."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from discovery.case.store import Store
from runbooks import report
from runbooks.engine import Engine
from runbooks.templating import MIN_DERIVED, render_tainted
from tests.runbooks.conftest import runbook
from tests.runbooks.servers import Seen, http_server

SECRET = "s3cr3t/Value+Do=Not&Store-9f8e7d6c5b4a"
CONTEXT = {"inputs": {"token": SECRET, "region": "eu-west-1"}, "target": {"id": "c-1"}}
DERIVED = {
    "{{ inputs.token | upper }}": SECRET.upper(),
    "{{ inputs.token | lower }}": SECRET.lower(),
    "{{ inputs.token | reverse }}": SECRET[::-1],
    "{{ inputs.token[:12] }}": SECRET[:12],
    "{{ inputs.token[-10:] }}": SECRET[-10:],
    "{{ inputs.token[3:20:2] }}": SECRET[3:20:2],
    "{{ inputs.token | urlencode }}": quote(SECRET, safe="/"),
    "{{ inputs.token | replace('/', '_') }}": SECRET.replace("/", "_"),
    "{{ inputs.token | capitalize }}": SECRET.capitalize(),
    "{{ inputs.token | list | join('.') }}": ".".join(SECRET),
    "{{ '%s:%s' | format(target.id, inputs.token) }}": f"c-1:{SECRET}",
}


@pytest.mark.parametrize(("template", "rendered"), sorted(DERIVED.items()))
def test_every_transformation_of_a_secret_is_found(template: str, rendered: str) -> None:
    value, derived = render_tainted(template, CONTEXT, {"token": SECRET})
    assert value == rendered
    assert any(rendered.endswith(d) or d in rendered for d in derived)
    assert max(map(len, derived)) >= min(len(rendered), len(SECRET) // 3)


def test_concatenation_marks_the_derived_part_only() -> None:
    value, derived = render_tainted(
        "Bearer {{ inputs.token | upper }} for {{ target.id }}", CONTEXT, {"token": SECRET}
    )
    assert value == f"Bearer {SECRET.upper()} for c-1"
    assert derived == {SECRET.upper()}


def test_values_not_derived_from_a_secret_are_not_tainted() -> None:
    for template in ("{{ inputs.region | upper }}", "{{ inputs.token | length }}", "plain"):
        assert render_tainted(template, CONTEXT, {"token": SECRET})[1] == set()


def test_fragments_shorter_than_the_minimum_are_left() -> None:
    assert render_tainted("{{ inputs.token[:2] }}", CONTEXT, {"token": SECRET})[1] == set()
    assert MIN_DERIVED == 4


TRANSFORMED = """
id: t
title: t
applies_to: credential
inputs:
  token: {secret: true}
steps:
  - id: plan-only
    approval: "About to send {{ inputs.token | reverse }} to the partner"
  - id: call
    action: http.request
    with:
      url: "URL/revoke/{{ inputs.token[:16] | urlencode }}"
      headers: {X-Key: "{{ inputs.token | upper }}", X-Tail: "{{ inputs.token[-12:] }}"}
      json_body: {k: "{{ inputs.token | lower }}", both: "{{ 'id-' ~ inputs.token ~ '-end' }}"}
"""


@pytest.mark.integration  # a loopback server
def test_derived_values_never_reach_the_case_events_or_reports(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    def echo(seen: Seen) -> tuple[int, dict[str, str], bytes]:  # a server that echoes it all
        body = f"{seen.path} {seen.headers['x-key']} {seen.headers['x-tail']} ".encode()
        return 500, {}, body + seen.body

    with http_server(echo) as server:
        engine = Engine(case, secrets={"token": SECRET}, approvals=_yes())
        text = TRANSFORMED.replace("URL", server.url)
        planned = [e.to_json() for e in engine.start(runbook(text), credential_id, dry_run=True)]
        events = [e.to_json() for e in engine.start(runbook(text), credential_id)]
        sent = server.requests[0]
        assert sent.headers["x-key"] == SECRET.upper()  # the action got the real values
    assert events[-1]["state"] == "failed"
    forms = [
        SECRET,
        SECRET.upper(),
        SECRET.lower(),
        SECRET[::-1],
        SECRET[-12:],
        quote(SECRET[:16], safe="/"),
        f"id-{SECRET}-end",
    ]
    stored = "\n".join(case.conn.iterdump())
    built = report.build(case)
    shown = [
        json.dumps(planned),
        json.dumps(events),
        stored,
        json.dumps(built),
        report.markdown(built),
    ]
    for where in shown:
        for form in forms:
            assert form not in where
    assert "[secret]" in stored


def _yes() -> object:
    from runbooks.engine import Approvals

    return Approvals(yes=True)
