"""Copy what one case observed into another (``case merge``): inputs, exchanges with their
credential links, credentials, identities, aliases, issued tokens and imported specs.

What is the same is added once:

- an **input** is known by its content hash (``inputs.sha256``; a live capture's is random, so
  it is its own): an input the target already holds is skipped with its exchanges;
- an **exchange** with no input (an enforcing proxy's, written as flows arrive) is known by what
  it is (``exchange_identity``: source, evidence, time, addresses, request line, status, sizes);
- a **credential** is known by its keyed fingerprint, so a credential two cases saw is one
  credential when both cases have the same case key. A source with another key keeps its own
  fingerprints: its credentials cannot be matched with the target's (the caller re-keys inputs
  whose files it can read again, ``discovery.ingest.merge``, and says which it could not);
- a **spec** by its content hash, an **identity** by its id (its first and last sightings are
  widened).

Derived tables (endpoints, sightings, findings) are not copied: the caller recomputes the
analysis once over the merged case. Counts follow the rows actually added.
Columns are copied by name, those both cases have, so a source at this schema version with
fewer optional columns still merges.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from discovery.case.store import Store

BATCH = 5000
# exchanges' columns that say what an exchange is (the rest is derived from them)
_IDENTITY = (
    "source",
    "evidence",
    "ts",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "method",
    "host",
    "raw_path",
    "status",
    "request_bytes",
    "response_bytes",
)


@dataclass
class MergeCounts:
    """What one source added to the target."""

    inputs_added: int = 0
    inputs_present: int = 0  # the same input (content hash) was already in the target
    inputs_left_out: list[str] = field(default_factory=list)  # still being written, or re-keyed
    exchanges_added: int = 0
    exchanges_present: int = 0  # input-less exchanges the target already held
    credentials: int = 0  # distinct credentials the added exchanges carry
    specs_added: int = 0


def same_key(a: Store, b: Store) -> bool:
    """Whether two cases fingerprint under one key (their credentials can be matched)."""
    probe = "ir-console case merge: same key?"
    return hmac.compare_digest(a.fingerprint(probe), b.fingerprint(probe))


def exchange_identity(row: dict[str, Any]) -> str:
    return hashlib.sha256(repr(tuple(row.get(c) for c in _IDENTITY)).encode()).hexdigest()


def _columns(store: Store, table: str) -> list[str]:
    return [str(r[1]) for r in store.conn.execute(f"PRAGMA table_info({table})")]


def _shared(target: Store, source: Store, table: str) -> list[str]:
    theirs = set(_columns(source, table))
    return [c for c in _columns(target, table) if c in theirs]


def _rows(store: Store, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
    cur = store.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


def copy_case(
    target: Store, source: Store, skip_inputs: frozenset[str] = frozenset()
) -> MergeCounts:
    """Add the source's observations to the target, inside the caller's transaction on the
    target (the caller holds a read transaction on the source for one consistent view).
    ``skip_inputs``: content hashes of inputs the caller reads again from their files."""
    counts = MergeCounts()
    input_map = _copy_inputs(target, source, skip_inputs, counts)
    credentials = _copy_exchanges(target, source, input_map, counts)
    counts.credentials = len(credentials)
    _copy_credentials(target, source, credentials)
    counts.specs_added = _copy_specs(target, source)
    return counts


def _copy_inputs(
    target: Store, source: Store, skip: frozenset[str], counts: MergeCounts
) -> dict[int, int]:
    """Source input id -> target input id, for the inputs whose exchanges are to be copied."""
    conn = target.conn
    cols = [c for c in _shared(target, source, "inputs") if c not in ("id", "owner", "heartbeat")]
    present = {str(r[0]) for r in conn.execute("SELECT sha256 FROM inputs")}
    mapping: dict[int, int] = {}
    for row in _rows(source, "SELECT * FROM inputs ORDER BY id"):
        if row["sha256"] in skip:
            counts.inputs_left_out.append(f"{row['path']}: read again from its file (re-keyed)")
            continue
        if row["state"] != "complete" and row["format"] != "live":
            counts.inputs_left_out.append(f"{row['path']}: still being read in its case")
            continue
        if row["sha256"] in present:
            counts.inputs_present += 1
            continue
        if row.get("continues") is not None:
            row["continues"] = mapping.get(int(row["continues"]))
        cur = conn.execute(
            f"INSERT INTO inputs({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )
        mapping[int(row["id"])] = int(cur.lastrowid or 0)
        present.add(row["sha256"])
        counts.inputs_added += 1
    return mapping


def _copy_exchanges(
    target: Store, source: Store, input_map: dict[int, int], counts: MergeCounts
) -> set[str]:
    """Copy the exchanges of the mapped inputs and the input-less ones the target lacks, with
    their credential links and issued tokens; the credential ids they carry."""
    conn = target.conn
    cols = [c for c in _shared(target, source, "exchanges") if c not in ("id", "endpoint_id")]
    known = {
        exchange_identity(r)
        for r in _rows(target, "SELECT * FROM exchanges WHERE input_id IS NULL")
    }
    link_cols = _shared(target, source, "exchange_credentials")
    issued_cols = _shared(target, source, "issued_tokens")
    credentials: set[str] = set()
    last = 0
    while True:
        batch = list(
            _rows(
                source,
                "SELECT * FROM exchanges WHERE id > ? ORDER BY id LIMIT ?",
                (last, BATCH),
            )
        )
        if not batch:
            return credentials
        last = int(batch[-1]["id"])
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM exchanges").fetchone()[0])
        new_ids: dict[int, int] = {}
        rows = []
        for row in batch:
            if row["input_id"] is None:
                identity = exchange_identity(row)
                if identity in known:
                    counts.exchanges_present += 1
                    continue
                known.add(identity)
            elif int(row["input_id"]) in input_map:
                row["input_id"] = input_map[int(row["input_id"])]
            else:
                continue  # its input was already there, or is read again
            next_id += 1
            new_ids[int(row["id"])] = next_id
            rows.append([next_id, *(row[c] for c in cols)])
        conn.executemany(
            f"INSERT INTO exchanges(id, {', '.join(cols)}) "
            f"VALUES (?, {', '.join('?' for _ in cols)})",
            rows,
        )
        counts.exchanges_added += len(rows)
        first = int(batch[0]["id"])
        for table, tcols in (("exchange_credentials", link_cols), ("issued_tokens", issued_cols)):
            copied = []
            for link in _rows(
                source,
                f"SELECT * FROM {table} WHERE exchange_id BETWEEN ? AND ?",
                (first, last),
            ):
                new = new_ids.get(int(link["exchange_id"]))
                if new is None:
                    continue
                link["exchange_id"] = new
                if table == "exchange_credentials":
                    credentials.add(str(link["credential_id"]))
                copied.append([link[c] for c in tcols])
            conn.executemany(
                f"INSERT OR IGNORE INTO {table}({', '.join(tcols)}) "
                f"VALUES ({', '.join('?' for _ in tcols)})",
                copied,
            )


def _copy_credentials(target: Store, source: Store, credentials: set[str]) -> None:
    """The credentials and identities the copied exchanges carry (and the aliases that find
    them); requests and first/last seen are recounted from the links afterwards."""
    conn = target.conn
    cols = _shared(target, source, "credentials")
    ident_cols = _shared(target, source, "identities")
    identities: set[str] = set()
    for row in _rows(source, "SELECT * FROM credentials"):
        if row["id"] not in credentials:
            continue
        if row.get("identity_id"):
            identities.add(str(row["identity_id"]))
        conn.execute(
            f"INSERT OR IGNORE INTO credentials({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )
    for row in _rows(source, "SELECT * FROM identities"):
        if row["id"] not in identities and not row.get("registered"):
            continue
        conn.execute(
            f"INSERT INTO identities({', '.join(ident_cols)}) "
            f"VALUES ({', '.join('?' for _ in ident_cols)}) ON CONFLICT(id) DO UPDATE SET "
            "first_seen = MIN(COALESCE(first_seen, excluded.first_seen), excluded.first_seen), "
            "last_seen = MAX(COALESCE(last_seen, excluded.last_seen), excluded.last_seen)",
            [row[c] for c in ident_cols],
        )
    aliases = [
        (str(r[0]), str(r[1]))
        for r in source.conn.execute("SELECT fingerprint, credential_id FROM credential_aliases")
        if r[1] in credentials
    ]
    conn.executemany(
        "INSERT OR IGNORE INTO credential_aliases(fingerprint, credential_id) VALUES (?, ?)",
        aliases,
    )
    target.recount_credentials()


def _copy_specs(target: Store, source: Store) -> int:
    """Specs the target lacks (by content), with their operations."""
    conn = target.conn
    cols = [c for c in _shared(target, source, "specs") if c != "id"]
    op_cols = [c for c in _shared(target, source, "spec_operations") if c not in ("id",)]
    present = {str(r[0]) for r in conn.execute("SELECT sha256 FROM specs")}
    added = 0
    for row in list(_rows(source, "SELECT * FROM specs ORDER BY id")):
        if row["sha256"] in present:
            continue
        cur = conn.execute(
            f"INSERT INTO specs({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )
        spec_id = int(cur.lastrowid or 0)
        ops = []
        for op in _rows(source, "SELECT * FROM spec_operations WHERE spec_id = ?", (row["id"],)):
            op["spec_id"] = spec_id
            ops.append([op[c] for c in op_cols])
        conn.executemany(
            f"INSERT INTO spec_operations({', '.join(op_cols)}) "
            f"VALUES ({', '.join('?' for _ in op_cols)})",
            ops,
        )
        added += 1
    return added
