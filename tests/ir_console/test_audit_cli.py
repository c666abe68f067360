"""``ir-console audit verify`` against each attack on the log, through the real command in a
real process: the log cut at its tail, rewritten with the public hash, reordered, an entry
inserted, one field edited; each exits 1 naming the first bad entry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from discovery.case import audit, blocklist
from discovery.case.store import Store

pytestmark = pytest.mark.integration  # starts processes or servers


def verify(db: Path) -> tuple[int, dict[str, object], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(db), "audit", "verify", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    human = subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(db), "audit", "verify"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert human.returncode == proc.returncode
    return proc.returncode, json.loads(proc.stdout), human.stderr


def truncate(conn: object, store: Store) -> None:
    store.conn.execute("DELETE FROM audit_log WHERE seq > 4")


def rewrite_with_public_hash(conn: object, store: Store) -> None:
    prev = audit.GENESIS
    for e in audit.entries(store):
        details = {**e.details, "reason": "nothing happened"} if e.seq == 2 else e.details
        digest = audit.entry_hash(e.seq, e.ts, e.actor, e.action, e.subject, details, prev)
        store.conn.execute(
            "UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (audit.canonical(details), prev, digest, e.seq),
        )
        prev = digest


def reorder(conn: object, store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 2")
    store.conn.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    store.conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = -1")


def insert(conn: object, store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
    store.conn.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
    store.conn.execute(
        "INSERT INTO audit_log(seq, ts, actor, action, subject, details, prev_hash, hash) "
        "SELECT 3, ts, 'mallory', 'unblock.credential', subject, details, hash, hash "
        "FROM audit_log WHERE seq = 2"
    )


def edit_one_field(conn: object, store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5")


@pytest.mark.parametrize(
    ("attack", "first_bad", "words"),
    [
        (truncate, 5, "missing"),
        (rewrite_with_public_hash, 1, "changed"),
        (reorder, 2, "chain"),
        (insert, 3, "changed"),
        (edit_one_field, 5, "changed"),
    ],
)
def test_each_attack_on_the_audit_log_is_detected(
    case_path: Path, attack: Callable[[object, Store], None], first_bad: int, words: str
) -> None:
    with Store.open(case_path) as store:
        for n in range(3):
            blocklist.block_endpoint(store, f"api.example.com GET /v1/thing{n}", "leak")
        blocklist.unblock_endpoint(store, "api.example.com GET /v1/thing0")
        blocklist.unblock_endpoint(store, "api.example.com GET /v1/thing1")
        blocklist.block_endpoint(store, "api.example.com GET /v1/thing3", "leak")
        assert len(audit.entries(store)) == 6
    code, before, text = verify(case_path)
    assert code == 0 and before["ok"] and "audit log ok: 6 entries" in text
    assert before["anchor"] == {"path": f"{case_path}.audit-anchor", "entries": 6}
    with Store.open(case_path) as store:
        attack(None, store)
    code, after, text = verify(case_path)
    assert code == 1 and not after["ok"]
    assert after["first_bad"] == first_bad, after
    assert words in str(after["reason"])
    assert f"audit log BROKEN at entry {first_bad}" in text
