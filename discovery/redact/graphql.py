"""A GraphQL request's calls at the secret boundary: one stored exchange per operation, the
values it carried (variables, string arguments) read by the credential detectors and the
sensitive-data scan, and only non-secret facts kept (names, counts, kinds).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from discovery.models import CredentialSighting, Exchange
from discovery.redact.credentials.bodies import detect_fields
from discovery.redact.credentials.config import site_config
from discovery.redact.sensitive import scan_bodies
from discovery.wire.graphql import GraphQLCall, response_outcomes

PROTOCOL = "graphql"


def _facts(call: GraphQLCall, index: int, count: int, sensitive: dict[str, int]) -> str:
    """The call's non-secret facts as stored (``exchanges.facts``)."""
    facts: dict[str, Any] = {}
    op = call.operation
    if op is not None:
        facts["kind"] = op.kind
        if op.name:
            facts["name"] = op.name
        facts["root"] = list(op.root_fields)
        facts["fields"] = list(op.fields)
        facts["depth"] = op.depth
        facts["aliases"] = op.aliases
        if op.persisted_hash:
            facts["persisted"] = op.persisted_hash
        if op.introspection:
            facts["introspection"] = True
    if call.rejected:
        facts["rejected"] = call.rejected
    if call.variable_names:
        facts["variables"] = list(call.variable_names)
    if sensitive:
        facts["variables_sensitive"] = sensitive
    if count > 1:
        facts["batch"] = [index + 1, count]
    return json.dumps(facts, separators=(",", ":"), sort_keys=True)


def _merge(
    first: tuple[CredentialSighting, ...], more: list[CredentialSighting]
) -> tuple[CredentialSighting, ...]:
    """The request's sightings and a call's own, once per (fingerprint, location, name)."""
    if not more:
        return first
    seen = {(s.fingerprint, s.location, s.name.lower()) for s in first}
    out = list(first)
    for s in more:
        key = (s.fingerprint, s.location, s.name.lower())
        if key not in seen:
            seen.add(key)
            out.append(s)
    return tuple(out)


def per_operation(
    base: Exchange,
    calls: tuple[GraphQLCall, ...],
    response_body: bytes,
    location: str,
    fingerprint: Callable[[str], str],
) -> tuple[Exchange, ...]:
    """The stored exchanges of a GraphQL request: ``base`` (the request as any HTTP request)
    once per call, each with its operation, outcome, facts and the credentials its values
    carried (``location``: where they travelled, ``body`` or ``query``). A batch's bytes are
    counted on its first call."""
    outcomes = response_outcomes(response_body, len(calls))
    config = site_config()
    out: list[Exchange] = []
    count = len(calls)
    for index, call in enumerate(calls):
        sensitive: dict[str, int] = {}
        sightings: list[CredentialSighting] = []
        if call.values:
            sightings = detect_fields(call.values, location, fingerprint, config)
            text = "\n".join(value for _, value in call.values).encode("utf-8", "replace")
            sensitive = dict(scan_bodies(text))
        op = call.operation
        changes: dict[str, Any] = {
            "protocol": PROTOCOL,
            "operation": op.label if op is not None else None,
            "outcome": outcomes[index],
            "facts": _facts(call, index, count, sensitive),
            "credentials": _merge(base.credentials, sightings),
        }
        if count > 1:
            changes["evidence"] = f"{base.evidence}; operation {index + 1} of {count}"
            if index:
                changes["request_bytes"] = changes["response_bytes"] = 0
        out.append(base._replace(**changes))
    return tuple(out)
