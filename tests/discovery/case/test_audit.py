"""The keyed audit log: every kind of tampering with the case file is detected and the first bad
entry named (changed, inserted, reordered, deleted entries; the tail cut; the whole chain
rewritten with the public hash function), and so is tampering with the anchor beside the key."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from discovery.case import anchor, audit
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
    """A forger who recomputes the changed entry's hash with the public function: the entry no
    longer verifies under the key."""
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
        (_change_and_rehash, 3, "changed"),
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


def _rewrite_everything_with_the_public_hash(store: Store) -> None:
    """Someone holding the case file (not the key) rewrites one entry and re-chains the whole log
    with the hash function anyone can compute."""
    prev = audit.GENESIS
    for e in audit.entries(store):
        action = "forged" if e.seq == 3 else e.action
        digest = audit.entry_hash(e.seq, e.ts, e.actor, action, e.subject, e.details, prev)
        store.conn.execute(
            "UPDATE audit_log SET action = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (action, prev, digest, e.seq),
        )
        prev = digest


def test_a_chain_rewritten_with_the_public_hash_is_detected(store: Store) -> None:
    fill(store)
    _rewrite_everything_with_the_public_hash(store)
    store.conn.execute("DELETE FROM meta WHERE key = 'audit_chain'")  # and pose as an old log
    result = audit.verify(store)
    assert not result.ok and result.first_bad == 1 and "changed" in (result.reason or "")


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_deleting_entries_at_the_tail_is_detected(store: Store, cut: int) -> None:
    fill(store)
    store.conn.execute("DELETE FROM audit_log WHERE seq > ?", (5 - cut,))
    result = audit.verify(store)
    assert not result.ok
    assert result.first_bad == 6 - cut and result.anchored == 5
    assert f"entries {6 - cut} to 5 are missing" in (result.reason or "")


def test_a_log_cut_and_written_again_is_detected(store: Store) -> None:
    """The tail cut, then as many new (validly keyed) entries appended by a later, honest
    writer: the entry where the anchor ends is not the one it recorded."""
    fill(store)
    store.conn.execute("DELETE FROM audit_log WHERE seq > 3")
    anchor.anchor_path(store.path).unlink()  # and the anchor, so the new appends write one
    fill(store, 2)
    assert audit.verify(store).ok  # without the original anchor, nothing shows it...
    # ...which is why the anchor must not be deletable by whoever can edit the case:
    fill(store)
    recorded = anchor.read(store.path, store.audit_key)
    assert recorded is not None and recorded.entries == 10
    store.conn.execute("DELETE FROM audit_log WHERE seq > 8")
    fill(store, 2)
    result = audit.verify(store)
    assert not result.ok and result.first_bad == 10
    assert "not the one the anchor recorded" in (result.reason or "")


def test_a_missing_anchor_is_reported(store: Store) -> None:
    fill(store)
    anchor.anchor_path(store.path).unlink()
    result = audit.verify(store)
    assert (
        not result.ok and "anchor" in (result.reason or "") and "missing" in (result.reason or "")
    )


def test_an_edited_anchor_is_reported(store: Store) -> None:
    fill(store)
    path = anchor.anchor_path(store.path)
    data = json.loads(path.read_text())
    data["entries"] = 3  # to hide a later cut at entry 4
    path.write_text(json.dumps(data))
    store.conn.execute("DELETE FROM audit_log WHERE seq > 3")
    result = audit.verify(store)
    assert not result.ok and "does not verify" in (result.reason or "")


def test_the_anchor_is_private_and_written_on_every_append(store: Store) -> None:
    for n in range(1, 4):
        fill(store, 1)
        recorded = anchor.read(store.path, store.audit_key)
        assert recorded is not None and recorded.entries == n
        assert recorded.head == audit.head(store)
    assert anchor.anchor_path(store.path).stat().st_mode & 0o777 == 0o600


def test_a_rolled_back_anchor_is_caught_by_the_mirror(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old copy of the anchor put back after a cut verifies (it was genuine once); the
    responder's mirror, appended to on every write, still remembers the longer log."""
    monkeypatch.setenv(anchor.MIRROR_ENV, str(tmp_path / "elsewhere" / "anchors.jsonl"))
    (tmp_path / "elsewhere").mkdir()
    fill(store, 3)
    old_copy = anchor.anchor_path(store.path).read_bytes()
    fill(store, 2)
    store.conn.execute("DELETE FROM audit_log WHERE seq > 3")
    anchor.anchor_path(store.path).write_bytes(old_copy)
    result = audit.verify(store)
    assert not result.ok and result.first_bad == 4 and result.anchored == 5
    monkeypatch.delenv(anchor.MIRROR_ENV)
    assert audit.verify(store).ok  # without a mirror: the documented limit


def test_an_older_public_hash_log_is_re_keyed_at_the_first_append(store: Store) -> None:
    fill(store, 3)
    prev = audit.GENESIS  # as an older ir-console wrote it: plain SHA-256, no anchor
    for e in audit.entries(store):
        digest = audit.entry_hash(e.seq, e.ts, e.actor, e.action, e.subject, e.details, prev)
        store.conn.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, e.seq)
        )
        prev = digest
    store.conn.execute("DELETE FROM meta WHERE key = 'audit_chain'")
    anchor.anchor_path(store.path).unlink()
    before = audit.verify(store)
    assert before.ok and before.note is not None and "not tamper-evident" in before.note
    fill(store, 1)
    after = audit.verify(store)
    assert after.ok and after.entries == 5 and after.note is None
    keyed = [e for e in audit.entries(store) if e.action == "audit.keyed"]
    assert keyed[0].details["legacy_entries"] == 3 and keyed[0].details["legacy_chain_ok"]


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
    recorded = anchor.read(store.path, store.audit_key)
    assert recorded is not None and recorded.entries == 1  # the rolled-back entry never anchored


def test_a_new_case_does_not_inherit_the_anchor_of_a_deleted_one(case_path: Path) -> None:
    with Store.open(case_path) as store:
        fill(store)
    case_path.unlink()
    with Store.open(case_path) as store:  # created anew, beside the old key and anchor
        assert audit.verify(store).ok
        fill(store, 2)
        assert audit.verify(store).ok and audit.verify(store).anchored == 2
