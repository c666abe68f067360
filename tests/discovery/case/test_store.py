"""The case file: schema, migrations, WAL, key file, fingerprints, input registration."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.case import schema
from discovery.case.store import (
    INSERT_LINK,
    SHARD_LINKS,
    CopiedBlock,
    CredentialWrites,
    Store,
    exchange_fields,
    exchange_insert,
    insert_rows,
    names_json,
)
from discovery.errors import CaseFileError
from discovery.redact.secrets import key_path_for, redact
from tests.conftest import make_exchange, make_sighting

EXPECTED_TABLES = {
    "meta",
    "inputs",
    "exchanges",
    "endpoints",
    "specs",
    "spec_operations",
    "credentials",
    "identities",
    "sightings",
    "findings",
    "blocklist",
    "runbook_runs",
    "runbook_steps",
    "audit_log",
    "exchange_credentials",
}


def created_at(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """Cases created from here on (until ``monkeypatch.undo()``) stop at schema ``version``: an
    older case, for its migration to be tested."""
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", version)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_new_case_has_every_table_and_current_version(store: Store) -> None:
    assert tables(store.conn) >= EXPECTED_TABLES
    assert store.schema_version == schema.SCHEMA_VERSION


def test_wal_mode_is_on(store: Store, case_path: Path) -> None:
    conn = sqlite3.connect(case_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_does_not_migrate_again(case_path: Path) -> None:
    with Store.open(case_path) as first:
        first.add_exchanges([make_exchange()])
    with Store.open(case_path) as second:
        assert second.schema_version == schema.SCHEMA_VERSION
        assert second.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 1


def test_migration_runs_on_an_older_case(case_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    added = []

    def to_next(conn: sqlite3.Connection) -> None:
        added.append(True)
        conn.execute("ALTER TABLE exchanges ADD COLUMN note TEXT")

    with Store.open(case_path):
        pass
    shipped = len(schema.MIGRATIONS)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, to_next])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with Store.open(case_path) as store:
        assert store.schema_version == shipped + 1
        cols = {r[1] for r in store.conn.execute("PRAGMA table_info(exchanges)")}
        assert "note" in cols
    with Store.open(case_path):
        pass
    assert added == [True]  # idempotent: not run a second time


def test_a_version_7_case_gets_the_anomalies_column_and_keeps_its_rows(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, 7)
    with Store.open(case_path) as old:
        old.conn.execute("INSERT INTO exchanges(source, evidence, ts) VALUES ('pcap', 'f', 1.0)")
        old.conn.commit()
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        rows = store.conn.execute("SELECT evidence, anomalies FROM exchanges").fetchall()
        assert [tuple(r) for r in rows] == [("f", "[]")]
        store.add_exchanges([make_exchange()._replace(anomalies=("bare_lf", "obs_fold"))])
        (stored,) = store.conn.execute(
            "SELECT anomalies FROM exchanges WHERE evidence != 'f'"
        ).fetchone()
        assert stored == '["bare_lf", "obs_fold"]'


def test_a_version_8_case_gets_the_operation_columns_and_keeps_its_rows(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, 8)
    with Store.open(case_path) as old:
        old.conn.execute("INSERT INTO exchanges(source, evidence, ts) VALUES ('pcap', 'f', 1.0)")
        old.conn.commit()
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        rows = store.conn.execute("SELECT evidence, protocol, operation FROM exchanges").fetchall()
        assert [tuple(r) for r in rows] == [("f", None, None)]
        store.add_exchanges(
            [make_exchange()._replace(protocol="graphql", operation="query me", outcome="data")]
        )
        (stored,) = store.conn.execute(
            "SELECT operation FROM exchanges INDEXED BY exchanges_operation "
            "WHERE operation IS NOT NULL"
        ).fetchone()
        assert stored == "query me"


def test_a_version_10_case_gets_the_protocol_index(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, 10)
    with Store.open(case_path) as old:  # a row as version 10 wrote it (its columns only)
        old.conn.execute(
            "INSERT INTO exchanges(source, evidence, ts, protocol) "
            "VALUES ('pcap', 'f', 1.0, 'graphql')"
        )
        old.conn.commit()
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        plan = " ".join(
            str(r[3])
            for r in store.conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM exchanges WHERE protocol = 'graphql'"
            )
        )
        assert "exchanges_protocol" in plan
        (count,) = store.conn.execute(
            "SELECT COUNT(*) FROM exchanges WHERE protocol = 'graphql'"
        ).fetchone()
        assert count == 1


def test_a_version_1_case_gets_the_covering_path_index_and_keeps_its_rows(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, 1)
    with Store.open(case_path) as old:  # a row as version 1 wrote it (its columns only)
        old.conn.execute(
            "INSERT INTO exchanges(source, evidence, ts, host, method, path, status) "
            "VALUES ('pcap', 'frame 1', 1.0, 'api.example.com', 'GET', '/v1/users', 200)"
        )
        old.conn.commit()
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        columns = [r[2] for r in store.conn.execute("PRAGMA index_info(exchanges_host)")]
        assert columns[:5] == ["host", "method", "path", "status", "ts"]
        assert store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 1
        plan = " ".join(
            str(r[3])
            for r in store.conn.execute(
                "EXPLAIN QUERY PLAN SELECT host, method, path, status, COUNT(*), MIN(ts) "
                "FROM exchanges WHERE method IS NOT NULL GROUP BY host, method, path, status"
            )
        )
        assert "COVERING INDEX exchanges_host" in plan and "TEMP B-TREE" not in plan


def test_a_version_13_case_sorts_a_hosts_exchanges_by_client_from_the_host_index(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, schema.MIGRATIONS.index(schema._to_v14))
    with Store.open(case_path) as old:  # rows as version 13 wrote them
        for n, client in enumerate(("10.0.0.9", "10.0.0.1", "10.0.0.5")):
            old.conn.execute(
                "INSERT INTO exchanges(source, evidence, ts, host, client_ip) "
                "VALUES ('pcap', 'f', ?, 'api.example.com', ?)",
                (float(n), client),
            )
        old.conn.commit()
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        sort = (
            "SELECT client_ip FROM exchanges WHERE host = ? ORDER BY client_ip DESC, ts, id "
            "LIMIT 100"
        )
        plan = " ".join(
            str(r[3])
            for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sort}", ("api.example.com",))
        )
        # the index alone answers (no lookup of each row in the table for its client)
        assert "COVERING INDEX exchanges_host" in plan
        rows = store.conn.execute(sort, ("api.example.com",)).fetchall()
        assert [r[0] for r in rows] == ["10.0.0.9", "10.0.0.5", "10.0.0.1"]


def test_a_version_13_case_left_by_a_killed_bulk_load_opens_with_the_host_index(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from discovery.case import bulk

    created_at(monkeypatch, schema.MIGRATIONS.index(schema._to_v14))
    old = Store.open(case_path)  # a load that dropped the indexes, then was killed
    with old, old.transaction():
        assert bulk.defer_indexes(old)
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        bulk.restore_indexes(store)
        columns = [r[2] for r in store.conn.execute("PRAGMA index_info(exchanges_host)")]
        assert columns == ["host", "method", "path", "status", "ts", "client_ip"]


def test_exchanges_of_an_earlier_version_get_their_server_address_as_destination(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, schema.MIGRATIONS.index(schema._to_v12))
    rows = [
        ("10.0.0.1", 80, 0),
        ("10.0.0.1", 8080, 0),
        ("10.0.0.2", 443, 1),
        ("2001:db8::1", 8443, 1),
        (None, None, 0),
    ]
    with Store.open(case_path) as old:  # rows as the earlier version wrote them
        for ip, port, tls in rows:
            old.conn.execute(
                "INSERT INTO exchanges(source, evidence, ts, server_ip, server_port, tls) "
                "VALUES ('pcap', 'f', 1.0, ?, ?, ?)",
                (ip, port, tls),
            )
        old.conn.commit()
    monkeypatch.undo()
    with Store.open(case_path) as store:
        found = [r[0] for r in store.conn.execute("SELECT destination FROM exchanges ORDER BY id")]
    # as the converter stores them: no default port, IPv6 in brackets
    assert found == ["10.0.0.1", "10.0.0.1:8080", "10.0.0.2", "[2001:db8::1]:8443", None]


def test_key_file_is_private_and_not_in_database(store: Store, case_path: Path) -> None:
    key_file = key_path_for(case_path)
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_text = key_file.read_text().strip()
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert key_text.encode() not in case_path.read_bytes()
    assert bytes.fromhex(key_text) not in case_path.read_bytes()


def test_fingerprints_stable_within_a_case_and_different_across_cases(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as a:
        first = a.fingerprint("sk_live_abcdef123456")
    with Store.open(tmp_path / "a.db") as a_again:
        assert a_again.fingerprint("sk_live_abcdef123456") == first
    with Store.open(tmp_path / "b.db") as b:
        assert b.fingerprint("sk_live_abcdef123456") != first
    assert "sk_live" not in first


def test_reregistering_the_same_input_is_a_noop(store: Store, tmp_path: Path) -> None:
    capture = tmp_path / "x.pcap"
    capture.write_bytes(b"content")
    first = store.register_input(capture, "pcap")
    assert not first.already_ingested
    store.add_exchanges([make_exchange()], first.id)
    store.finish_input(first.id, {"exchanges": 1})
    copy = tmp_path / "renamed.pcap"
    copy.write_bytes(b"content")
    again = store.register_input(copy, "pcap")
    assert again.already_ingested and again.id == first.id
    assert store.conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0] == 1


def test_half_done_input_is_cleared_when_registered_again(store: Store, tmp_path: Path) -> None:
    capture = tmp_path / "x.pcap"
    capture.write_bytes(b"content")
    reg = store.register_input(capture, "pcap")
    sighting = make_sighting(store, "key-0123456789abcdef")
    store.add_exchanges([make_exchange(credentials=(sighting,))] * 3, reg.id)
    # killed before finish_input: registering again starts over
    again = store.register_input(capture, "pcap")
    assert not again.already_ingested and again.id == reg.id
    assert store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == 0
    assert store.conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0] == 0


def test_credentials_aggregate_across_batches(store: Store) -> None:
    sighting = make_sighting(store, "key-0123456789abcdef")
    store.add_exchanges([make_exchange(ts=100.0, credentials=(sighting,))])
    store.add_exchanges(
        [
            make_exchange(ts=50.0, credentials=(sighting,)),
            make_exchange(ts=300.0, credentials=(sighting,)),
        ]
    )
    row = store.conn.execute("SELECT requests, first_seen, last_seen FROM credentials").fetchone()
    assert row == (3, 50.0, 300.0)


def test_not_a_case_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    with pytest.raises(CaseFileError, match="not an ir-console case"):
        Store.open(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not sqlite at all" * 10)
    with pytest.raises(CaseFileError, match="not an ir-console case"):
        Store.open(text)


def test_newer_schema_is_refused(case_path: Path) -> None:
    with Store.open(case_path):
        pass
    conn = sqlite3.connect(case_path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(CaseFileError, match="newer"):
        Store.open(case_path)


@pytest.mark.parametrize(
    ("secret", "prefix", "expected"),
    [
        ("sk_live_51Habcdefghijkl9fQ2", 8, "sk_live_…9fQ2"),
        ("short", 0, "…"),
        ("0123456789abcdef", 0, "…cdef"),
    ],
)
def test_redaction_keeps_little(secret: str, prefix: int, expected: str) -> None:
    assert redact(secret, keep_prefix=prefix) == expected


def test_an_empty_or_short_key_file_is_refused_not_used(case_path: Path) -> None:
    from discovery.errors import CaseFileError
    from discovery.redact.secrets import key_path_for

    with Store.open(case_path):
        pass
    key = key_path_for(case_path)
    for damaged in (b"", b"00" * 8):
        key.write_bytes(damaged)
        with pytest.raises(CaseFileError, match="damaged"):
            Store.open(case_path).close()


def test_the_key_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    """Created in a temporary file and linked into place: no temporary file stays behind and
    two creators agree on one key."""
    from discovery.redact.secrets import load_or_create_key

    case = tmp_path / "c.db"
    first = load_or_create_key(case, create=True)
    assert load_or_create_key(case, create=True) == first and len(first) == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db.key"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=12), st.sampled_from(["limit", "a b", 'x"y', "\\"])), max_size=6
    )
)
def test_query_names_are_stored_as_json_writes_them(names: list[str]) -> None:
    """The plain-name shortcut gives exactly json.dumps's text, escapes and all."""
    assert names_json(tuple(names)) == json.dumps(names)


def test_fields_without_a_value_are_stored_as_null(store: Store) -> None:
    """None binds as SQL NULL (through the adapter registered for it), never as text."""
    store.add_exchanges([make_exchange(sni=None, error=None, status=None)])
    row = store.conn.execute(
        "SELECT typeof(sni), typeof(error), typeof(status), typeof(host) FROM exchanges"
    ).fetchone()
    assert row == ("null", "null", "null", "text")
    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters  # bound without a search
    assert sqlite3.connect(":memory:").execute("SELECT ? IS NULL", (None,)).fetchone() == (1,)


def test_a_version_14_case_gets_the_client_index_and_keeps_its_rows(
    case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_at(monkeypatch, schema.MIGRATIONS.index(schema._to_v15))
    with Store.open(case_path) as old:  # rows as version 14 wrote them
        for n, client in enumerate(("10.0.0.9", "10.0.0.1", "10.0.0.9")):
            old.conn.execute(
                "INSERT INTO exchanges(source, evidence, ts, host, client_ip) "
                "VALUES ('pcap', 'f', ?, 'api.example.com', ?)",
                (float(3 - n), client),
            )
        old.conn.commit()
        assert "exchanges_client" not in {
            r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
    monkeypatch.undo()
    with Store.open(case_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        columns = [r[2] for r in store.conn.execute("PRAGMA index_info(exchanges_client)")]
        assert columns == ["client_ip", "ts"]
        query = "SELECT ts FROM exchanges WHERE client_ip = ? ORDER BY ts, id"
        plan = " ".join(
            str(r[3]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {query}", ("x",))
        )
        assert "INDEX exchanges_client (client_ip=?)" in plan and "TEMP B-TREE" not in plan
        assert [r[0] for r in store.conn.execute(query, ("10.0.0.9",))] == [1.0, 3.0]


def test_rows_holding_the_usual_values_are_stored_as_every_row_is(tmp_path: Path) -> None:
    """``insert_rows`` binds only the fields of rows that hold the usual values (no TLS, no
    anomaly, ...) and writes those values in its statement: each row, in any mix of rows with
    and without them, is stored with the values and SQL types a plain insert of all its fields
    stores, in order."""
    usual = exchange_fields(make_exchange(path="/plain"))
    rows = [
        usual,
        exchange_fields(make_exchange(path="/tls", tls=True, sni="api.example", ja4="t13d")),
        usual,
        usual,
        exchange_fields(make_exchange(path="/odd", anomalies=("obs_fold",))),
        tuple(1.0 if n == 23 else v for n, v in enumerate(usual)),  # partial as a float
        tuple("" if n == 8 else v for n, v in enumerate(usual)),  # an empty SNI, not NULL
        exchange_fields(make_exchange(path="/last", protocol="grpc")),
    ]
    stored = {}
    for way in ("usual", "plain"):
        with Store.open(tmp_path / f"{way}.db") as store, store.transaction() as conn:
            if way == "usual":
                insert_rows(conn, rows, 7)
            else:
                conn.executemany(exchange_insert(7), rows)
            columns = [row[1] for row in conn.execute("PRAGMA table_info(exchanges)")]
            typed = ", ".join(f"{c}, typeof({c})" for c in columns)
            stored[way] = conn.execute(f"SELECT {typed} FROM exchanges ORDER BY id").fetchall()
    assert stored["usual"] == stored["plain"]
    assert len(stored["usual"]) == len(rows)


def test_copied_blocks_write_what_inserted_rows_write(tmp_path: Path) -> None:
    """Blocks of rows a child wrote into its own database with their credential links
    (``Store.insert_blocks``: rows and links copied by SQLite, each block's credentials summed)
    leave the case as ``insert_prepared`` of the same rows in one batch leaves it: ids moved
    after the rows already there, links once per row, credential and identity counts and
    times, issued tokens and aliases."""
    one = tmp_path / "one.db"
    with Store.open(one) as store:
        key = make_sighting(store, "key-0123456789abcdef")
        other = make_sighting(store, "key-fedcba9876543210", aliases=("alias-fp",))
        issued = make_sighting(store, "tok-0123456789abcdef", kind="bearer", location="response")
    (tmp_path / "copied.db.key").write_bytes(key_path_for(one).read_bytes())

    def row(ts: float, *sightings: object) -> tuple[object, ...]:
        return (exchange_fields(make_exchange(ts=ts, path=f"/r/{ts:g}")), ts, sightings)

    before = [row(1.0), row(2.0, key)]
    blocks = [
        [row(10.0, key), row(5.0, key, key), row(11.0), row(12.0, other, issued)],
        [row(20.0, other), row(3.0, key), row(30.0)],
    ]
    tables = (
        "exchanges",
        "exchange_credentials",
        "credentials",
        "identities",
        "issued_tokens",
        "credential_aliases",
    )
    contents = {}
    for way in ("one", "copied"):
        with Store.open(tmp_path / f"{way}.db") as store:
            with store.transaction():
                store.insert_prepared(before, 4)  # type: ignore[arg-type]
            if way == "one":
                with store.transaction():
                    store.insert_prepared([r for b in blocks for r in b], 4)  # type: ignore[misc]
            else:
                copied = _child_database(store, tmp_path / "child.db", blocks)
                store.conn.execute(
                    "ATTACH DATABASE ? AS shard", ((tmp_path / "child.db").as_uri() + "?mode=ro",)
                )
                with store.transaction():
                    assert store.insert_blocks(copied, ["shard"], 4) == 7
                store.conn.execute("DETACH DATABASE shard")
            contents[way] = {  # in the table's own order (its rowid or its key)
                t: store.conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables
            }
    assert contents["copied"] == contents["one"]
    got = contents["copied"]
    assert len(got["exchanges"]) == 9 and len(got["issued_tokens"]) == 1
    assert len(got["exchange_credentials"]) == 6  # the row naming one key twice links it once
    assert (
        got["credential_aliases"]
        and sorted(r[3] for r in got["exchange_credentials"]) == ["X-API-Key"] * 6
    )


def _child_database(store: Store, path: Path, blocks: list[list[Any]]) -> list[CopiedBlock]:
    """What a Zeek child writes (``zeek_parallel._child``): each block's rows and links into a
    database of its own, and the blocks as the writing process receives them."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(
        store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'exchanges'").fetchone()[0]
    )
    db.execute(SHARD_LINKS)
    copied, written, linked = [], 0, 0
    for block in blocks:
        found = CredentialWrites(block, written)
        insert_rows(db, [r[0] for r in block], None)
        db.executemany(INSERT_LINK, found.links)
        copied.append(
            CopiedBlock(
                0,
                written + 1,
                len(block),
                linked + 1,
                len(found.links),
                found.credentials(),
                sorted(found.aliases),
                found.issued,
            )
        )
        written += len(block)
        linked += len(found.links)
    db.close()
    return copied
