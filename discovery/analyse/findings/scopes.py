"""Findings that compare a token's scopes with what the specs require (docs/findings.md):
``scope_violation`` (a call succeeded although its credential does not satisfy the operation's
security requirement) and ``excess_privilege`` (scopes granted that the traffic never needs).

An operation's ``security`` is a list of alternatives; an alternative holds schemes that must
all be satisfied. A credential satisfies a scheme when it travels where the scheme says (an
``apiKey`` header, query parameter or cookie of that name; HTTP Basic, Bearer or Digest; an OAuth
or OpenID Connect bearer token) and, for OAuth and OpenID Connect, when it carries every scope
listed. A credential whose scopes cannot be read (an opaque token) is never judged on scopes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from discovery.analyse.findings import Finding, rule, shared
from discovery.analyse.findings.endpoints import exchange_samples
from discovery.analyse.matching import requires_credential
from discovery.case.store import Store
from discovery.timeutil import iso

SCOPED_SCHEMES = ("oauth2", "openIdConnect")
POWERFUL = ("write", "delete", "admin", "manage", "*", "all", "full")


@dataclass(frozen=True, slots=True)
class Presented:
    """One credential as an exchange carried it."""

    credential_id: str
    kind: str
    location: str  # header | query | cookie
    name: str  # lower case
    scopes: frozenset[str] | None  # None: cannot be read from the credential


def token_scopes(claims: dict[str, Any]) -> frozenset[str] | None:
    """The scopes a credential's claims grant (``scope`` string or ``scp`` list), or None."""
    found: list[str] = []
    known = False
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.extend(value.split())
            known = True
        elif isinstance(value, list):
            found.extend(str(v) for v in value)
            known = True
    return frozenset(found) if known else None


def fits_scheme(cred: Presented, scheme: dict[str, Any] | None) -> bool:
    """Whether a credential travels the way a security scheme says (unknown schemes: yes)."""
    if not scheme:
        return True
    kind = scheme.get("type")
    if kind == "apiKey":
        where = {"header": "header", "query": "query", "cookie": "cookie"}.get(
            str(scheme.get("in")), ""
        )
        return cred.location == where and cred.name == str(scheme.get("name", "")).lower()
    authorization = cred.location == "header" and cred.name in (
        "authorization",
        "proxy-authorization",
    )
    if kind == "http":
        wanted = str(scheme.get("scheme", "")).lower()
        if wanted == "basic":
            return cred.kind == "basic"
        if wanted == "digest":
            return cred.kind == "digest"
        if wanted == "bearer":
            return authorization and cred.kind not in ("basic", "digest")
        return authorization
    if kind in SCOPED_SCHEMES:
        return cred.kind not in ("basic", "digest") and (authorization or cred.kind == "jwt")
    return True  # mutualTLS and whatever comes next: not observable here


def satisfied(
    requirement: dict[str, list[str]],
    schemes: dict[str, dict[str, Any]],
    presented: Iterable[Presented],
) -> tuple[bool, set[str], list[str]]:
    """(satisfied, scopes it needs, what is missing) for one alternative of a requirement."""
    needed: set[str] = set()
    missing: list[str] = []
    creds = list(presented)
    for name, scopes in requirement.items():
        scheme = schemes.get(name)
        scoped = scheme is not None and scheme.get("type") in SCOPED_SCHEMES
        fitting = [c for c in creds if fits_scheme(c, scheme)]
        if not fitting:
            wanted = f"{name} ({scheme.get('type') if scheme else 'unknown scheme'}"
            missing.append(wanted + (": " + " ".join(scopes) if scopes else "") + ")")
            continue
        if not scoped or not scopes:
            continue
        readable = [c for c in fitting if c.scopes is not None]
        if len(readable) < len(fitting):
            needed.update(scopes)  # an opaque token may hold them: never judged
            continue
        if any(set(scopes) <= (c.scopes or set()) for c in readable):
            needed.update(scopes)
            continue
        have = set().union(*(c.scopes or set() for c in readable))
        missing.append(f"{name} scope " + " ".join(s for s in scopes if s not in have))
    return not missing, needed, missing


@dataclass(slots=True)
class _Use:
    """What one credential's successful calls to documented operations needed."""

    needed: set[str] = field(default_factory=set)
    operations: set[str] = field(default_factory=set)
    undocumented_calls: int = 0


def _schemes_by_spec(store: Store) -> dict[int, dict[str, dict[str, Any]]]:
    return {
        sid: json.loads(raw or "{}")
        for sid, raw in store.conn.execute("SELECT id, security_schemes FROM specs")
    }


@dataclass(frozen=True, slots=True)
class _Credential:
    kind: str
    scopes: frozenset[str] | None
    identity: str | None
    redacted: str
    allowed: list[str] | None  # the register's allowed scopes, when it says
    first_seen: float | None
    last_seen: float | None


def _credentials(store: Store) -> dict[str, _Credential]:
    return {
        cid: _Credential(
            kind,
            token_scopes(json.loads(claims or "{}")),
            ident,
            redacted,
            json.loads(allowed) if allowed else None,
            first,
            last,
        )
        for cid, kind, claims, ident, redacted, allowed, first, last in store.conn.execute(
            "SELECT c.id, c.kind, c.claims, c.identity_id, c.redacted, i.allowed_scopes, "
            "c.first_seen, c.last_seen FROM credentials c "
            "LEFT JOIN identities i ON i.id = c.identity_id"
        )
    }


@dataclass(frozen=True, slots=True)
class _Calls:
    """Successful calls to one endpoint with one set of credentials presented."""

    endpoint_id: int
    host: str
    method: str
    template: str
    status: str
    spec_id: int | None
    security: list[dict[str, list[str]]] | None
    presented: tuple[tuple[str, str, str], ...]  # (credential id, location, lower-case name)
    count: int
    first: float
    last: float


def _calls(store: Store) -> Iterator[_Calls]:
    """Successful calls grouped by (endpoint, credentials presented)."""
    groups: dict[tuple[int, tuple[tuple[str, ...], ...]], list[float]] = {}
    for endpoint_id, presented, ts in store.conn.execute(
        "SELECT e.endpoint_id, GROUP_CONCAT(ec.credential_id || char(31) || ec.location || "
        "char(31) || lower(ec.name), char(30)), e.ts FROM exchanges e "
        "JOIN exchange_credentials ec ON ec.exchange_id = e.id "
        "WHERE e.endpoint_id IS NOT NULL AND e.status BETWEEN 200 AND 399 AND e.blocked = 0 "
        "GROUP BY e.id"
    ):
        creds = tuple(sorted({tuple(p.split("\x1f")) for p in presented.split("\x1e")}))
        span = groups.setdefault((endpoint_id, creds), [0, ts, ts])
        span[0] += 1
        span[1], span[2] = min(span[1], ts), max(span[2], ts)
    endpoints = {
        row[0]: row[1:]
        for row in store.conn.execute(
            "SELECT ep.id, ep.host, ep.method, ep.template, ep.status, so.spec_id, so.security "
            "FROM endpoints ep LEFT JOIN spec_operations so ON so.id = ep.spec_operation_id"
        )
    }
    for (endpoint_id, creds), (count, first, last) in groups.items():
        host, method, template, status, spec_id, security = endpoints[endpoint_id]
        yield _Calls(
            endpoint_id,
            host,
            method,
            template,
            status,
            spec_id,
            None if security is None else json.loads(security),
            tuple((c[0], c[1], c[2]) for c in creds),
            int(count),
            first,
            last,
        )


_Analysis = tuple[dict[str, _Credential], dict[str, _Use], dict[int, dict[str, Any]]]


def _analyse(store: Store) -> _Analysis:
    """The credentials; per credential, what its traffic needed; per endpoint, the calls that
    violated its security (computed once for both rules of a findings run)."""
    result: _Analysis = shared("scopes", store, _analyse_calls)
    return result


def _any_documented(store: Store) -> bool:
    """Whether some endpoint is linked to a spec operation: without one, every call counts as
    undocumented, so no violation and no documented use (both rules have nothing to say)."""
    return (
        store.conn.execute(
            "SELECT 1 FROM endpoints ep JOIN spec_operations so ON so.id = ep.spec_operation_id "
            "LIMIT 1"
        ).fetchone()
        is not None
    )


def _analyse_calls(store: Store) -> _Analysis:
    creds = _credentials(store)
    schemes = _schemes_by_spec(store)
    uses: dict[str, _Use] = defaultdict(_Use)
    violations: dict[int, dict[str, Any]] = {}
    for calls in _calls(store):
        carried = [
            Presented(cid, creds[cid].kind, loc, name, creds[cid].scopes)
            for cid, loc, name in calls.presented
            if cid in creds
        ]
        security, count = calls.security, calls.count
        if calls.spec_id is None or calls.status not in ("documented", "zombie"):
            for c in carried:
                uses[c.credential_id].undocumented_calls += count
            continue
        if not requires_credential(security):  # public or optional: nothing to violate
            continue
        spec_schemes = schemes.get(calls.spec_id, {})
        results = [satisfied(req, spec_schemes, carried) for req in security]
        ok = [r for r in results if r[0]]
        if ok:
            needed = min((r[1] for r in ok), key=len)
            for c in carried:
                use = uses[c.credential_id]
                use.needed |= needed
                use.operations.add(f"{calls.method} {calls.host}{calls.template}")
            continue
        first, last = calls.first, calls.last
        hit = violations.setdefault(
            calls.endpoint_id,
            {
                "host": calls.host,
                "method": calls.method,
                "template": calls.template,
                "status": calls.status,
                "required": [
                    " + ".join(f"{k}: {' '.join(v)}" if v else k for k, v in req.items())
                    for req in security
                ],
                "credentials": {},
                "requests": 0,
                "first": first,
                "last": last,
            },
        )
        hit["requests"] += count
        hit["first"], hit["last"] = min(hit["first"], first), max(hit["last"], last)
        for c in carried:
            entry = hit["credentials"].setdefault(
                c.credential_id,
                {
                    "credential": c.credential_id,
                    "kind": c.kind,
                    "identity": creds[c.credential_id].identity,
                    "presented_as": f"{c.location} {c.name}",
                    "missing": sorted({m for r in results for m in r[2]}),
                    "requests": 0,
                },
            )
            entry["requests"] += count
    return creds, uses, violations


@rule("scope_violation")
def scope_violation(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A documented operation answered with success a credential that does not satisfy its
    security requirement (a scope the token lacks, or the wrong kind of credential):
    authorization is not enforced at the endpoint."""
    if not _any_documented(store):
        return
    _, _, violations = _analyse(store)
    for endpoint_id, hit in sorted(violations.items()):
        subject = f"{hit['host']} {hit['method']} {hit['template']}"
        callers = sorted(hit["credentials"].values(), key=lambda e: -e["requests"])
        yield Finding(
            rule="scope_violation",
            severity="high",
            title=f"{hit['method']} {hit['host']}{hit['template']} succeeded {hit['requests']} "
            "times for credentials that lack what its spec requires",
            subject_type="endpoint",
            subject_id=subject,
            evidence={
                "host": hit["host"],
                "method": hit["method"],
                "template": hit["template"],
                "endpoint_status": hit["status"],
                "required": hit["required"],
                "requests": hit["requests"],
                "credentials": callers[:50],
                "credential_count": len(callers),
                "samples": exchange_samples(
                    store,
                    "e.endpoint_id = ? AND e.status BETWEEN 200 AND 399 AND e.blocked = 0 AND "
                    "e.id IN (SELECT exchange_id FROM exchange_credentials WHERE credential_id = ?)",
                    (endpoint_id, callers[0]["credential"]),
                )
                if callers
                else [],
            },
            first_seen=hit["first"],
            last_seen=hit["last"],
        )


@rule("excess_privilege")
def excess_privilege(store: Store, limits: dict[str, float]) -> Iterator[Finding]:
    """A token granted scopes that none of its successful calls to documented operations
    needed (only scopes some spec in the case names are judged), or scopes beyond what the
    identity register allows it."""
    known: set[str] = set()
    for (raw,) in store.conn.execute("SELECT scopes FROM spec_operations"):
        known.update(json.loads(raw or "[]"))
    if not known or not _any_documented(store):
        return
    creds, uses, _ = _analyse(store)
    for cid, use in sorted(uses.items()):
        cred = creds[cid]
        scopes, allowed = cred.scopes, cred.allowed
        if not scopes or not use.operations:
            continue  # scopes unreadable, or no documented call to compare with
        unused = sorted((scopes & known) - use.needed)
        beyond = sorted(scopes - set(allowed)) if allowed is not None else []
        if not unused and not beyond:
            continue
        powerful = [s for s in unused + beyond if any(p in s.lower() for p in POWERFUL)]
        parts = []
        if unused:
            parts.append(f"{len(unused)} scopes its traffic never needs ({' '.join(unused)})")
        if beyond:
            parts.append(f"{len(beyond)} beyond what the register allows ({' '.join(beyond)})")
        yield Finding(
            rule="excess_privilege",
            severity="medium" if powerful else "low",
            title=f"{cred.kind} {cred.redacted} holds " + "; ".join(parts),
            subject_type="credential",
            subject_id=cid,
            evidence={
                "identity": cred.identity,
                "granted": sorted(scopes),
                "needed": sorted(use.needed),
                "unused": unused,
                "not_in_any_spec": sorted(scopes - known),
                "beyond_register": beyond,
                "register_allows": allowed,
                "operations_called": sorted(use.operations)[:50],
                "undocumented_calls": use.undocumented_calls,
                "first_seen": iso(cred.first_seen),
            },
            first_seen=cred.first_seen,
            last_seen=cred.last_seen,
        )
