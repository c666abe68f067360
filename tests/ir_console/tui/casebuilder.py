"""Deterministic cases for the console tests: real case files, filled through the store's API
and SQL inserts into the documented tables (what the analysis stages would write)."""

from __future__ import annotations

import json
from pathlib import Path

from discovery.analyse.sightings import rebuild_sightings
from discovery.case import anchor, audit
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchanges
from discovery.redact.secrets import key_path_for
from tests.conftest import make_exchange, make_sighting

T0 = 1_790_000_000.0  # fixed times: snapshots stay stable

# Raw secrets used to build the case: they must never appear on screen or in snapshots.
RAW_SECRETS = {
    "payments": "sk_live_51Hq2x9PaymentsKeyAAAA9fQ2",
    "partner": "pk_partner_7777777777777777ZZZZ",
    "ci": "ghp_ciTokenAbcdefghijklmnopqrstuvwx1234",
}

# Hostile strings: markup, actions, terminal escapes, bidi, NUL, invalid UTF-8, very long.
HOSTILE = [
    "[@click=app.quit]click me[/]",
    "[bold red]not bold[/bold red]",
    "[link=https://evil.example]x[/link]",
    "\x1b[31mred\x1b[0m\x1b[2J",
    "\x1b]0;pwned-title\x07\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x9b31m c1-csi \x9d osc",
    "evil\u202egnp.exe\u2066iso\u2069",
    "nul\x00byte\x07bell\x08back",
    "L" * 5000,
]
# Invalid UTF-8 cannot travel in a str to SQLite; it is written as bytes cast to TEXT, the way a
# foreign writer could leave it in a case file.
INVALID_UTF8 = b"bad-\xff\xfe-utf8\x1b[31m"
HOSTILE_MARKERS = ("click me", "not bold", "pwned-title", "c1-csi", "gnp.exe", "byte")


def build_case(path: Path, *, hostile: bool = False, extra_exchanges: int = 0) -> Path:
    """A small case: 3 hosts, endpoints of every status, 3 credentials, findings, audit."""
    # a fixed case key: credential ids (derived from keyed fingerprints) stay the same per run
    key_path_for(path).write_text("00" * 32)
    key_path_for(path).chmod(0o600)
    with Store.open(path) as store:
        creds = {
            "payments": make_sighting(
                store,
                RAW_SECRETS["payments"],
                kind="stripe_key",
                redacted="sk_live_…9fQ2",
                name="Authorization",
                identity="key:payments-svc",
                identity_kind="credential",
            ),
            "partner": make_sighting(
                store,
                RAW_SECRETS["partner"],
                kind="api_key",
                redacted="pk_par…ZZZZ",
                name="X-API-Key",
            ),
            "ci": make_sighting(
                store,
                RAW_SECRETS["ci"],
                kind="github_token",
                redacted="ghp_…1234",
                name="Authorization",
                identity="github:ci-bot",
                identity_kind="github",
                claims=(("scope", "repo"), ("login", "ci-bot")),
                issued_at=T0 - 86400 * 400,
                expires_at=T0 + 86400 * 30,
            ),
        }
        specs = [
            # (host, method, path, template, status, cred, client)
            (
                "api.example.com",
                "GET",
                "/v1/users/42",
                "/v1/users/{id}",
                "documented",
                "payments",
                "10.0.0.5",
            ),
            (
                "api.example.com",
                "POST",
                "/v1/charges",
                "/v1/charges",
                "documented",
                "payments",
                "10.0.0.5",
            ),
            (
                "api.example.com",
                "GET",
                "/internal/debug/vars",
                "/internal/debug/vars",
                "shadow",
                "partner",
                "10.0.0.9",
            ),
            ("api.example.com", "GET", "/v0/export", "/v0/export", "zombie", "partner", "10.0.0.9"),
            (
                "git.example.com",
                "GET",
                "/repos/acme/app",
                "/repos/{owner}/{repo}",
                "shadow",
                "ci",
                "10.0.0.7",
            ),
            (
                "billing.example.com",
                "GET",
                "/invoices/INV-2026-000123",
                "/invoices/{invoice}",
                "shadow",
                "payments",
                "10.0.0.5",
            ),
        ]
        if hostile:
            for i, bad in enumerate(HOSTILE):
                specs.append(
                    (
                        f"h{i}.example.com",
                        "GET",
                        f"/p/{bad}",
                        f"/p/{bad}",
                        "shadow",
                        "partner",
                        "10.0.0.66",
                    )
                )
        exchanges = []
        for n, (host, method, raw, _tpl, _st, cred, client) in enumerate(specs):
            for k in range(3 + n % 3):
                ua = HOSTILE[(n + k) % len(HOSTILE)] if hostile else "python-httpx/0.27"
                exchanges.append(
                    make_exchange(
                        ts=T0 + n * 60 + k,
                        host=host,
                        method=method,
                        path=raw,
                        raw_path=raw,
                        client_ip=client,
                        status=200 if k else 403,
                        user_agent=ua,
                        evidence=f"frames {n * 10 + k}-{n * 10 + k + 1}",
                        credentials=(creds[cred],),
                    )
                )
        for k in range(extra_exchanges):
            exchanges.append(
                make_exchange(ts=T0 + 10_000 + k, path=f"/v1/users/{k}", raw_path=f"/v1/users/{k}")
            )
        store.add_exchanges(exchanges)
        with store.transaction() as conn:
            for host, method, raw, tpl, status, _cred, _client in specs:
                explanation = [
                    {
                        "segment": seg,
                        "kind": "parameter" if seg.startswith("{") else "literal",
                        "reason": "integer id" if seg == "{id}" else "a real word",
                    }
                    for seg in tpl.strip("/").split("/")
                ]
                cur = conn.execute(
                    "INSERT INTO endpoints(host, method, template, status, requests, first_seen, "
                    "last_seen, statuses, explanation, sensitive) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(host, method, template) DO NOTHING",
                    (
                        host,
                        method,
                        tpl,
                        status,
                        0,
                        None,
                        None,
                        "{}",
                        json.dumps(explanation),
                        json.dumps({"email": 2}) if status == "shadow" else "{}",
                    ),
                )
                ep_id = cur.lastrowid
                conn.execute(
                    "UPDATE exchanges SET endpoint_id = ? WHERE host = ? AND method = ? "
                    "AND path = ?",
                    (ep_id, host, method, raw),
                )
            conn.execute(
                "UPDATE endpoints SET requests = (SELECT COUNT(*) FROM exchanges e WHERE "
                "e.endpoint_id = endpoints.id), first_seen = (SELECT MIN(ts) FROM exchanges e "
                "WHERE e.endpoint_id = endpoints.id), last_seen = (SELECT MAX(ts) FROM exchanges"
                ' e WHERE e.endpoint_id = endpoints.id), statuses = \'{"200": 2, "403": 1}\''
            )
            conn.execute(
                "UPDATE identities SET registered = 1, owner = 'payments-team', "
                "kind = 'service-account' WHERE id = 'key:payments-svc'"
            )
            cred_ids = dict(conn.execute("SELECT redacted, id FROM credentials").fetchall())
            findings = [
                (
                    "credential_in_query",
                    "high",
                    "API key sent in the query string",
                    "credential",
                    cred_ids["pk_par…ZZZZ"],
                ),
                (
                    "long_lived_token",
                    "medium",
                    "Token lives 430 days",
                    "credential",
                    cred_ids["ghp_…1234"],
                ),
                (
                    "shadow_endpoint_access",
                    "critical",
                    "Undocumented debug endpoint called",
                    "endpoint",
                    "api.example.com GET /internal/debug/vars",
                ),
                (
                    "unregistered_identity",
                    "low",
                    "github:ci-bot is not in the register",
                    "identity",
                    "github:ci-bot",
                ),
            ]
            if hostile:
                findings += [("route_probing", "info", bad, "host", bad) for bad in HOSTILE]
            for n, (rule, sev, title, stype, sid) in enumerate(findings):
                conn.execute(
                    "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, "
                    "evidence, first_seen, last_seen, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        f"{rule}:{n:010d}",
                        rule,
                        sev,
                        title,
                        stype,
                        sid,
                        json.dumps(
                            {
                                "requests": 3,
                                "sample": HOSTILE[n % len(HOSTILE)]
                                if hostile
                                else "GET /v1/users/42",
                            }
                        ),
                        T0,
                        T0 + 60,
                        T0,
                    ),
                )
            conn.execute(
                "INSERT INTO runbook_runs(id, runbook_id, runbook_sha256, target, dry_run, state, "
                "started_at, finished_at, outcome) VALUES ('run-0001', 'revoke-leaked-credential',"
                " 'x', ?, 1, 'planned', ?, ?, 'planned 3 steps')",
                (cred_ids["sk_live_…9fQ2"], T0 + 100, T0 + 101),
            )
            for idx, step in enumerate(("summary", "block", "revoke")):
                conn.execute(
                    "INSERT INTO runbook_steps(run_id, idx, step_id, state) VALUES "
                    "('run-0001', ?, ?, 'planned')",
                    (idx, step),
                )
        rebuild_sightings(store)
        audit.append(
            store,
            "cli",
            "block.credential",
            cred_ids["pk_par…ZZZZ"],
            {"reason": HOSTILE[0] if hostile else "leaked on a paste site"},
        )
        audit.append(store, "cli", "unblock.credential", cred_ids["pk_par…ZZZZ"], {})
        if hostile:
            for bad in HOSTILE:
                audit.append(store, bad, bad, bad, {bad: bad})
        with store.transaction() as conn:  # fixed audit times for stable snapshots, re-chained
            prev = audit.GENESIS
            for e in audit.entries(store):
                ts = T0 + 200 + e.seq
                digest = audit.entry_mac(
                    store.audit_key, e.seq, ts, e.actor, e.action, e.subject, e.details, prev
                )
                conn.execute(
                    "UPDATE audit_log SET ts = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    (ts, prev, digest, e.seq),
                )
                prev = digest
            if hostile:
                _invalid_utf8(conn)
        anchor.remove(path)  # the re-chained head is anchored anew
        audit.update_anchor(store)
    return path


def _invalid_utf8(conn: object) -> None:
    """Invalid UTF-8 in the text columns every screen shows."""
    bad = INVALID_UTF8
    run = conn.execute  # type: ignore[attr-defined]
    run(
        "UPDATE exchanges SET user_agent = CAST(? AS TEXT), raw_path = CAST(? AS TEXT) "
        "WHERE id IN (SELECT MAX(id) FROM exchanges)",
        (bad, bad),
    )
    run(
        "INSERT INTO endpoints(host, method, template, status, requests, first_seen, last_seen) "
        "VALUES ('bad.example.com', 'GET', CAST(? AS TEXT), 'shadow', 99, ?, ?)",
        (b"/" + bad, T0, T0),
    )
    run(
        "INSERT INTO identities(id, name, source, first_seen, last_seen) VALUES "
        "(CAST(? AS TEXT), CAST(? AS TEXT), 'credential', ?, ?)",
        (b"bad:" + bad, bad, T0, T0 + 1),
    )
    run(
        "INSERT INTO findings(id, rule, severity, title, subject_type, subject_id, evidence, "
        "created_at) VALUES ('bad:1', 'route_probing', 'critical', CAST(? AS TEXT), 'host', "
        "CAST(? AS TEXT), '{}', ?)",
        (bad, bad, T0),
    )
    run(
        "INSERT INTO audit_log(seq, ts, actor, action, subject, details, prev_hash, hash) "
        "SELECT MAX(seq) + 1, ?, CAST(? AS TEXT), 'bad', CAST(? AS TEXT), '{}', '', '' "
        "FROM audit_log",
        (T0 + 999, bad, bad),
    )


def add_proxied_exchange(path: Path) -> int:
    """A request a client sent through a proxy to one address while its Host named another,
    converted by the pipeline's own redaction (the destination and contradiction are its);
    the new exchange's id."""
    seen = ObservedExchange(
        ts=1_790_000_400.0,
        source="mitm",
        evidence="flow 7c1e",
        client_ip="10.0.0.5",
        client_port=50400,
        server_ip="10.0.0.1",
        server_port=8080,
        http_version="1.1",
        method="GET",
        target="/admin/users",
        host="10.0.0.1:8080",
        status=200,
        request_headers=(("Host", "10.0.0.1:8080"),),
        destination="10.9.9.9:8080",
    )
    return _add_observed(path, seen)


def _grpc_messages(*texts: str) -> bytes:
    """Length-prefixed gRPC messages, each a protobuf holding one text in field 1."""
    out = b""
    for text in texts:
        message = b"\x0a" + bytes([len(text)]) + text.encode()
        out += b"\x00" + len(message).to_bytes(4, "big") + message
    return out


def add_grpc_call(path: Path) -> int:
    """A gRPC call whose request message holds an email and whose answer holds two, converted
    by the pipeline's own redaction (the request's kinds are kept in its facts); its id."""
    grpc = (("content-type", "application/grpc"),)
    seen = ObservedExchange(
        ts=1_790_000_500.0,
        source="mitm",
        evidence="flow 9a2f",
        client_ip="10.0.0.5",
        client_port=50500,
        server_ip="10.0.0.1",
        server_port=443,
        http_version="2",
        method="POST",
        target="/lab.v1.Accounts/GetAccount",
        host="accounts.example.com",
        status=200,
        request_headers=grpc,
        response_headers=(*grpc, ("grpc-status", "0")),
        request_body=_grpc_messages("alice@example.com"),
        response_body=_grpc_messages("bob@example.org", "carol@example.org"),
    )
    return _add_observed(path, seen)


def add_graphql_call(path: Path) -> int:
    """A GraphQL mutation whose variables hold an email and whose answer holds none, converted
    by the pipeline's own redaction (the variables' kinds are kept in its facts); its id."""
    json_type = (("content-type", "application/json"),)
    request = {
        "query": "mutation Invite($email: String!) { invite(email: $email) { id } }",
        "variables": {"email": "dave@example.com"},
    }
    seen = ObservedExchange(
        ts=1_790_000_600.0,
        source="mitm",
        evidence="flow 3b7d",
        client_ip="10.0.0.5",
        client_port=50600,
        server_ip="10.0.0.1",
        server_port=443,
        http_version="1.1",
        method="POST",
        target="/graphql",
        host="api.example.com",
        status=200,
        request_headers=json_type,
        response_headers=json_type,
        request_body=json.dumps(request).encode(),
        response_body=b'{"data": {"invite": {"id": "7"}}}',
    )
    return _add_observed(path, seen)


def _add_observed(path: Path, seen: ObservedExchange) -> int:
    """``seen`` stored as the pipeline stores it (credentials fingerprinted by a stand-in; a
    GraphQL request as one exchange per operation)."""
    with Store.open(path) as store:
        store.add_exchanges(list(to_exchanges(seen, lambda raw: "f" * 64)))
        (exchange_id,) = store.conn.execute("SELECT MAX(id) FROM exchanges").fetchone()
    return int(exchange_id)
