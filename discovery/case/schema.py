"""The case file's schema: the DDL of each version and the migrations between them.

The version lives in ``PRAGMA user_version``; ``MIGRATIONS[n]`` takes a case from version ``n`` to
``n + 1``. Add a migration at the end, never edit one that shipped. Times are REAL epoch seconds
(UTC) in the database and ISO 8601 strings at the edges.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

APPLICATION_ID = 0x49524331  # "IRC1": marks a SQLite file as an ir-console case

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE inputs (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'ingesting',      -- ingesting | complete
    started_at REAL NOT NULL,
    finished_at REAL,
    stats TEXT NOT NULL DEFAULT '{}'              -- JSON: packets, flows, exchanges, skipped{}
);

CREATE TABLE exchanges (
    id INTEGER PRIMARY KEY,
    input_id INTEGER REFERENCES inputs(id),       -- NULL for live capture / proxy
    source TEXT NOT NULL,
    evidence TEXT NOT NULL,
    ts REAL NOT NULL,
    client_ip TEXT,
    client_port INTEGER,
    server_ip TEXT,
    server_port INTEGER,
    tls INTEGER NOT NULL DEFAULT 0,
    sni TEXT,
    alpn TEXT,
    ja4 TEXT,
    http_version TEXT,
    method TEXT,
    path TEXT,
    raw_path TEXT,
    query_names TEXT NOT NULL DEFAULT '[]',
    host TEXT,
    status INTEGER,
    request_bytes INTEGER NOT NULL DEFAULT 0,
    response_bytes INTEGER NOT NULL DEFAULT 0,
    request_content_type TEXT,
    response_content_type TEXT,
    user_agent TEXT,
    partial INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    websocket INTEGER NOT NULL DEFAULT 0,
    sensitive TEXT NOT NULL DEFAULT '{}',         -- JSON {kind: count}
    endpoint_id INTEGER                            -- set by classification
);
CREATE INDEX exchanges_host ON exchanges(host, method, path);
CREATE INDEX exchanges_ts ON exchanges(ts);
CREATE INDEX exchanges_input ON exchanges(input_id);
CREATE INDEX exchanges_endpoint ON exchanges(endpoint_id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,                          -- short public id derived from the fingerprint
    fingerprint TEXT NOT NULL UNIQUE,             -- HMAC-SHA256 hex under the case key
    kind TEXT NOT NULL,
    redacted TEXT NOT NULL,
    public_id TEXT,
    identity_id TEXT REFERENCES identities(id),
    claims TEXT NOT NULL DEFAULT '{}',
    issued_at REAL,
    expires_at REAL,
    first_seen REAL,
    last_seen REAL,
    requests INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX credentials_identity ON credentials(identity_id);

CREATE TABLE exchange_credentials (
    exchange_id INTEGER NOT NULL REFERENCES exchanges(id),
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    location TEXT NOT NULL,                       -- header | query | cookie
    name TEXT NOT NULL,
    PRIMARY KEY (exchange_id, credential_id, location, name)
) WITHOUT ROWID;
CREATE INDEX exchange_credentials_cred ON exchange_credentials(credential_id);

CREATE TABLE identities (
    id TEXT PRIMARY KEY,                          -- e.g. "jwt:iss|sub", "aws:AKIA…", "basic:u@host"
    name TEXT NOT NULL,                           -- display name
    kind TEXT,                                    -- service-account | partner | bot | human | NULL
    owner TEXT,
    source TEXT NOT NULL,                         -- jwt | aws | basic | credential | register
    registered INTEGER NOT NULL DEFAULT 0,
    matchers TEXT NOT NULL DEFAULT '[]',
    allowed_scopes TEXT,
    max_token_lifetime REAL,
    rotation_period REAL,
    first_seen REAL,
    last_seen REAL
);

CREATE TABLE specs (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    version TEXT,
    openapi_version TEXT,
    path TEXT NOT NULL,
    hosts TEXT NOT NULL DEFAULT '[]',             -- JSON list of {host, base_path}
    security_schemes TEXT NOT NULL DEFAULT '{}',  -- JSON {name: {type, scheme, in, name}}
    imported_at REAL NOT NULL
);

CREATE TABLE spec_operations (
    id INTEGER PRIMARY KEY,
    spec_id INTEGER NOT NULL REFERENCES specs(id),
    host TEXT NOT NULL,
    method TEXT NOT NULL,
    template TEXT NOT NULL,                       -- full path including the server prefix
    operation_id TEXT,
    deprecated INTEGER NOT NULL DEFAULT 0,
    security TEXT,                                -- JSON; NULL = inherit none, [] = public
    scopes TEXT NOT NULL DEFAULT '[]',
    parameters TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX spec_operations_host ON spec_operations(host, method);

CREATE TABLE endpoints (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    method TEXT NOT NULL,
    template TEXT NOT NULL,
    status TEXT NOT NULL,                         -- documented | shadow | zombie | orphan
    spec_operation_id INTEGER REFERENCES spec_operations(id),
    requests INTEGER NOT NULL DEFAULT 0,
    first_seen REAL,
    last_seen REAL,
    statuses TEXT NOT NULL DEFAULT '{}',          -- JSON {"200": n}
    explanation TEXT NOT NULL DEFAULT '[]',       -- JSON, per segment: why literal / parameter
    sensitive TEXT NOT NULL DEFAULT '{}',
    UNIQUE (host, method, template)
);

CREATE TABLE sightings (
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),
    client_ip TEXT NOT NULL,
    requests INTEGER NOT NULL,
    successes INTEGER NOT NULL DEFAULT 0,
    first_seen REAL,
    last_seen REAL,
    PRIMARY KEY (credential_id, endpoint_id, client_ip)
) WITHOUT ROWID;
CREATE INDEX sightings_endpoint ON sightings(endpoint_id);  -- exposure, per-endpoint counts
CREATE INDEX sightings_client ON sightings(client_ip);      -- credentials seen from a client

CREATE TABLE findings (
    id TEXT PRIMARY KEY,                          -- stable: rule + subject hash
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,                       -- critical | high | medium | low | info
    title TEXT NOT NULL,
    subject_type TEXT NOT NULL,                   -- credential | identity | endpoint | host | client
    subject_id TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '{}',
    first_seen REAL,
    last_seen REAL,
    created_at REAL NOT NULL
);
CREATE INDEX findings_rule ON findings(rule);

CREATE TABLE blocklist (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                           -- credential | endpoint
    value TEXT NOT NULL,                          -- credential fingerprint | "HOST METHOD TEMPLATE"
    subject TEXT NOT NULL,                        -- credential id | "HOST METHOD TEMPLATE"
    reason TEXT,
    created_at REAL NOT NULL,
    created_by TEXT,
    UNIQUE (kind, value)
);

CREATE TABLE runbook_runs (
    id TEXT PRIMARY KEY,
    runbook_id TEXT NOT NULL,
    runbook_sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    dry_run INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,                          -- running | waiting | succeeded | failed | planned
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT,
    runbook_source TEXT,                          -- the runbook's YAML as run (resume uses it)
    actor TEXT,
    driver TEXT                                   -- "HOST PID" of the process driving it now
);

CREATE TABLE runbook_steps (
    run_id TEXT NOT NULL REFERENCES runbook_runs(id),
    idx INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    state TEXT NOT NULL,                          -- pending | running | done | skipped | failed | ...
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    output TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statement by statement inside the caller's transaction (executescript commits)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement[:60]!r}")


def _to_v1(conn: sqlite3.Connection) -> None:
    run_script(conn, _V1)


_V2 = """
DROP INDEX exchanges_host;
CREATE INDEX exchanges_host ON exchanges(host, method, path, status, ts);
"""


def _to_v2(conn: sqlite3.Connection) -> None:
    """The (host, method, path) index also covers status and time: the inventory's per-path
    aggregates read the index alone, in its order (no table lookups, no sort)."""
    run_script(conn, _V2)


_V3 = """
CREATE TABLE credential_aliases (
    fingerprint TEXT NOT NULL,                    -- keyed fingerprint of a secret part
    credential_id TEXT NOT NULL REFERENCES credentials(id),
    PRIMARY KEY (fingerprint, credential_id)
) WITHOUT ROWID;
"""


def _to_v3(conn: sqlite3.Connection) -> None:
    """Aliases: a credential is also found by the fingerprints of the secret parts it is made
    of (the password of a Basic pair, the token of ``id:token``), for ``credentials find``."""
    run_script(conn, _V3)


_V4 = """
ALTER TABLE inputs ADD COLUMN owner TEXT;             -- "HOST PID START" of the process reading it
ALTER TABLE inputs ADD COLUMN heartbeat REAL;         -- the owner's last batch (claims from another host)
ALTER TABLE inputs ADD COLUMN start_offset INTEGER NOT NULL DEFAULT 0;  -- where this read began
ALTER TABLE inputs ADD COLUMN continues INTEGER REFERENCES inputs(id);  -- the read it continues
ALTER TABLE inputs ADD COLUMN consumed INTEGER;       -- end of the last whole record read (bytes)
ALTER TABLE inputs ADD COLUMN prefix_sha256 TEXT;     -- SHA-256 of the file's first `consumed` bytes
UPDATE inputs SET consumed = size, prefix_sha256 = sha256
    WHERE state = 'complete' AND format IN ('pcap', 'pcapng', 'zeek', 'mitm');
CREATE INDEX inputs_state ON inputs(state, format);
"""


def _to_v4(conn: sqlite3.Connection) -> None:
    """Input ownership and growing inputs: an input being read is claimed by a live process
    (``owner``, ``heartbeat``); a read ends at its last whole record (``consumed``, with the hash
    of the bytes before it), so a file that grew since is read on from there (``start_offset``,
    ``continues``). Appendable inputs read before this version were consumed whole."""
    run_script(conn, _V4)


_V5 = """
ALTER TABLE inputs ADD COLUMN dropped INTEGER;   -- packets the capture lost; NULL: not said
"""


def _to_v5(conn: sqlite3.Connection) -> None:
    """Each input's packet loss: a live capture's drops (the kernel's and our queues'), a
    capture file's when it records them (pcapng interface statistics); NULL when unknown."""
    run_script(conn, _V5)


_V6 = """
CREATE TABLE issued_tokens (
    exchange_id INTEGER NOT NULL REFERENCES exchanges(id),  -- the token response
    credential_id TEXT NOT NULL,                  -- the id the token has when it is presented
    fingerprint TEXT NOT NULL,                    -- HMAC-SHA256 hex under the case key
    kind TEXT NOT NULL,                           -- bearer | refresh_token | id_token | jwt | ...
    name TEXT NOT NULL,                           -- access_token | refresh_token | id_token | ...
    redacted TEXT NOT NULL,
    claims TEXT NOT NULL DEFAULT '{}',            -- grant_type, client_id, issued_by, scope, ...
    PRIMARY KEY (exchange_id, credential_id)
) WITHOUT ROWID;
CREATE INDEX issued_tokens_credential ON issued_tokens(credential_id);
ALTER TABLE credentials ADD COLUMN issued_by TEXT;  -- the client identity that obtained it
"""


def _to_v6(conn: sqlite3.Connection) -> None:
    """OAuth token lineage: the tokens token responses issued (fingerprints, never values) and,
    on each credential, the client identity that obtained it."""
    run_script(conn, _V6)


_V7 = """
CREATE TABLE proxy_heartbeats (
    id TEXT PRIMARY KEY,                          -- random, one per enforcing proxy process
    pid INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    started_at REAL NOT NULL,
    seen_at REAL NOT NULL,                        -- its last heartbeat
    applied_marker TEXT,                          -- the blocklist change it last applied
    applied_at REAL,                              -- when it applied it
    blocks INTEGER NOT NULL DEFAULT 0             -- entries in the blocklist it enforces
);
"""


def _to_v7(conn: sqlite3.Connection) -> None:
    """Enforcing proxies write a heartbeat to the case: ``block``, the console and runbooks
    say whether one is running and when it last applied the blocklist."""
    run_script(conn, _V7)


_V8 = """
ALTER TABLE exchanges ADD COLUMN anomalies TEXT NOT NULL DEFAULT '[]';
"""


def _to_v8(conn: sqlite3.Connection) -> None:
    """Each exchange's HTTP anomalies (JSON list of codes: what a lenient parser accepted)."""
    run_script(conn, _V8)


_V9 = """
ALTER TABLE exchanges ADD COLUMN protocol TEXT;   -- graphql | grpc | NULL (plain HTTP)
ALTER TABLE exchanges ADD COLUMN operation TEXT;  -- "mutation createUser"; NULL when none
ALTER TABLE exchanges ADD COLUMN outcome TEXT;    -- the protocol's answer: data | errors | ...
ALTER TABLE exchanges ADD COLUMN facts TEXT;      -- JSON: root fields, depth, aliases, ...
ALTER TABLE endpoints ADD COLUMN protocol TEXT;   -- as its exchanges'
ALTER TABLE endpoints ADD COLUMN operation TEXT;  -- the operation the template ends with
ALTER TABLE endpoints ADD COLUMN outcomes TEXT NOT NULL DEFAULT '{}';  -- JSON {"errors": n}
ALTER TABLE spec_operations ADD COLUMN protocol TEXT;   -- graphql | grpc | NULL (OpenAPI)
ALTER TABLE specs ADD COLUMN schema TEXT;  -- JSON: a GraphQL schema's types (protocol, roots, ...)
CREATE INDEX exchanges_operation ON exchanges(host, method, path, operation, status, ts)
    WHERE operation IS NOT NULL;                 -- partial: costs plain HTTP rows nothing
"""


def _to_v9(conn: sqlite3.Connection) -> None:
    """API operations carried over HTTP (GraphQL operations; gRPC methods): each exchange's
    protocol, operation, outcome and non-secret facts; endpoints and spec operations say
    which protocol they belong to. An operation endpoint's template is the carrier's template
    followed by the operation (``/graphql mutation createUser``), so every subject name
    (``HOST METHOD TEMPLATE``) stays unique and readable."""
    run_script(conn, _V9)


_V10 = """
CREATE TABLE audit_origins (
    id INTEGER PRIMARY KEY,
    first_hash TEXT NOT NULL UNIQUE,              -- the origin chain's first entry: its identity
    case_path TEXT NOT NULL,                      -- where the merged case was
    entries INTEGER NOT NULL,
    head TEXT NOT NULL,                           -- the hash of its newest entry
    content_sha256 TEXT NOT NULL,                 -- of its canonical entries, pinned in our chain
    same_key INTEGER NOT NULL,                    -- 1: its MACs are under this case's audit key
    merged_at REAL NOT NULL
);
CREATE TABLE audit_origin_entries (
    origin_id INTEGER NOT NULL REFERENCES audit_origins(id),
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (origin_id, seq)
) WITHOUT ROWID;
"""


def _to_v10(conn: sqlite3.Connection) -> None:
    """``case merge``: the audit chains of merged cases, kept whole beside this case's own chain
    (``discovery/case/audit_origins.py``)."""
    run_script(conn, _V10)


_V11 = """
CREATE INDEX exchanges_protocol ON exchanges(protocol, ts) WHERE protocol IS NOT NULL;
"""


def _to_v11(conn: sqlite3.Connection) -> None:
    """The exchanges of API protocols (GraphQL, gRPC) found without reading the others: a
    partial index, empty in a case with none (the GraphQL findings read through it, rejected
    documents included, which the operation index leaves out)."""
    run_script(conn, _V11)


_V12 = """
ALTER TABLE exchanges ADD COLUMN destination TEXT;    -- where it really went: host:port
ALTER TABLE exchanges ADD COLUMN host_mismatch TEXT;  -- how Host/SNI contradicts it, or NULL
CREATE INDEX exchanges_host_mismatch ON exchanges(client_ip) WHERE host_mismatch IS NOT NULL;
"""


def _to_v12(conn: sqlite3.Connection) -> None:
    """The real destination beside the claimed host: where each request really went (the
    target a client named through a proxy, else the server address) and, when its Host header
    or SNI contradicts that, how (``host_mismatch`` finding; endpoint verification counts a
    request by where it went, not only by the Host it claimed). Earlier exchanges get their
    server address as destination."""
    run_script(conn, _V12)
    conn.execute(
        "UPDATE exchanges SET destination = "
        "CASE WHEN instr(server_ip, ':') > 0 THEN '[' || server_ip || ']' ELSE server_ip END || "
        "CASE WHEN (tls = 0 AND server_port = 80) OR (tls = 1 AND server_port = 443) THEN '' "
        "ELSE ':' || server_port END "
        "WHERE server_ip IS NOT NULL AND server_port IS NOT NULL"
    )


_V13 = """
ALTER TABLE exchanges ADD COLUMN ja4s TEXT;
ALTER TABLE exchanges ADD COLUMN ja4h TEXT;
"""


def _to_v13(conn: sqlite3.Connection) -> None:
    """JA4S (the server's TLS answer) and JA4H (the request's shape) per exchange: a credential
    used from a new client shows in them (``credential_client_change``)."""
    run_script(conn, _V13)


_V14 = """
DROP INDEX IF EXISTS exchanges_host;
CREATE INDEX exchanges_host ON exchanges(host, method, path, status, ts, client_ip);
"""


def _to_v14(conn: sqlite3.Connection) -> None:
    """The host index also holds the client address: a host's exchanges sorted by client (a
    page of 100,000 of them in the console) are read from the index alone, as they already
    were for status, method, path and time, with no lookup of each row in the table. Wider
    entries in the same index, not one more index for every insert to update. (A bulk load
    killed midway left the index dropped, its old SQL in meta: it is built here, and the old
    SQL, created only if missing, then leaves it as it is.)"""
    run_script(conn, _V14)


_V15 = """
CREATE INDEX IF NOT EXISTS exchanges_client ON exchanges(client_ip, ts);
"""


def _to_v15(conn: sqlite3.Connection) -> None:
    """A client address's exchanges found through an index, in time order: its page (the
    console's, ``story``) read every exchange of the case for them (a client with 1,912 of a
    million exchanges: 116 ms of CPU for its page, 81 ms for each page of its exchanges; now
    26 and 1 ms). The host index cannot serve it (the client is its last column)."""
    run_script(conn, _V15)


# MIGRATIONS[n] upgrades a case at version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _to_v1,
    _to_v2,
    _to_v3,
    _to_v4,
    _to_v5,
    _to_v6,
    _to_v7,
    _to_v8,
    _to_v9,
    _to_v10,
    _to_v11,
    _to_v12,
    _to_v13,
    _to_v14,
    _to_v15,
]

SCHEMA_VERSION = len(MIGRATIONS)
