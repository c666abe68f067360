"""The hash-chained audit log: every kind of tampering is detected and the first bad entry named."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest

from discovery.case import audit
from discovery.case.store import Store


def fill(store: Store, n: int = 5) -> list[audit.AuditEntry]:
    return [
        audit.append(
            store,
            "tester",
            f"act.{i}",
            f"subject-{i}",
            {"i": i, "note": "naïve ✓", "nested": {"x": [1, 2.5, None]}},
        )
        for i in range(n)
    ]


def test_an_untouched_log_verifies_and_reports_its_head(store: Store) -> None:
    written = fill(store)
    result = audit.verify(store)
    assert result.ok and result.entries == 5 and result.first_bad is None
    assert result.head == written[-1].hash == audit.head(store)
    assert written[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(written))


def test_empty_log_verifies(store: Store) -> None:
    result = audit.verify(store)
    assert result.ok and result.entries == 0 and result.head == audit.GENESIS


def _change_details(store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET details = ? WHERE seq = 3", (json.dumps({"i": 99}),))


def _change_actor(store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")


def _change_time(store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET ts = ts - 3600 WHERE seq = 3")


def _change_and_rehash(store: Store) -> None:
    """A forger who recomputes the changed entry's own hash still breaks the next link."""
    row = store.conn.execute(
        "SELECT seq, ts, actor, action, subject, prev_hash FROM audit_log WHERE seq = 3"
    ).fetchone()
    details = {"i": 99}
    digest = audit.entry_hash(row[0], row[1], row[2], "forged", row[4], details, row[5])
    store.conn.execute(
        "UPDATE audit_log SET action = 'forged', details = ?, hash = ? WHERE seq = 3",
        (audit.canonical(details), digest),
    )


def _delete(store: Store) -> None:
    store.conn.execute("DELETE FROM audit_log WHERE seq = 3")


def _delete_and_renumber(store: Store) -> None:
    store.conn.execute("DELETE FROM audit_log WHERE seq = 3")
    store.conn.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")


def _reorder(store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
    store.conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    store.conn.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")


def _insert(store: Store) -> None:
    store.conn.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
    store.conn.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
    store.conn.execute(
        "INSERT INTO audit_log(seq, ts, actor, action, subject, details, prev_hash, hash) "
        "SELECT 3, ts, actor, 'inserted', subject, details, hash, hash FROM audit_log WHERE seq = 2"
    )


@pytest.mark.parametrize(
    ("tamper", "first_bad", "words"),
    [
        (_change_details, 3, "changed"),
        (_change_actor, 3, "changed"),
        (_change_time, 3, "changed"),
        (_change_and_rehash, 4, "chain"),
        (_delete, 3, "missing"),
        (_delete_and_renumber, 3, "chain"),
        (_reorder, 3, "chain"),
        (_insert, 3, "changed"),
    ],
)
def test_tampering_is_detected_at_the_first_bad_entry(
    store: Store, tamper: Callable[[Store], None], first_bad: int, words: str
) -> None:
    fill(store)
    tamper(store)
    result = audit.verify(store)
    assert not result.ok
    assert result.first_bad == first_bad
    assert result.reason is not None and words in result.reason
    assert str(first_bad) in result.reason


def test_truncating_the_tail_changes_the_head(store: Store) -> None:
    """Cutting the newest entries leaves a valid chain: the recorded head (in reports) shows it."""
    fill(store)
    recorded = audit.head(store)
    store.conn.execute("DELETE FROM audit_log WHERE seq = 5")
    result = audit.verify(store)
    assert result.ok and result.head != recorded


def test_append_chains_across_connections(case_path) -> None:  # type: ignore[no-untyped-def]
    with Store.open(case_path) as first:
        audit.append(first, "a", "one")
    with Store.open(case_path) as second:
        audit.append(second, "b", "two")
        assert audit.verify(second).ok and audit.verify(second).entries == 2


def test_no_entry_when_the_caller_transaction_fails(store: Store) -> None:
    """An audit entry written inside a failed transaction is rolled back with it."""
    fill(store, 1)
    with pytest.raises(RuntimeError), store.transaction():
        audit.append(store, "t", "half", in_transaction=True)
        raise RuntimeError("the action's write failed")
    assert [e.action for e in audit.entries(store)] == ["act.0"]
    assert audit.verify(store).ok
