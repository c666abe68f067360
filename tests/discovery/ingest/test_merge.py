"""``case merge`` in process: cases of one incident (a Zeek sensor's, a HAR's, a capture's)
merged equal one case that ingested every input; merging again adds nothing; the audit chains
of the merged cases stay verifiable; a case under another key is re-keyed from its files."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from discovery.case import audit
from discovery.case.audit_origins import verify_origins
from discovery.case.store import Store
from discovery.ingest.files import ingest_files
from discovery.ingest.merge import merge_cases
from discovery.redact.secrets import key_path_for
from tests.paths import FIXTURES

INPUTS = {
    "sensor": FIXTURES / "zeek" / "http.log",
    "browser": FIXTURES / "har" / "firefox.har",
    "capture": FIXTURES / "pcap" / "http_api.pcap",
}


def make_case(path: Path, files: list[Path], key_from: Path | None = None) -> Path:
    """A case that ingested ``files`` (with the key of ``key_from`` when given)."""
    if key_from is not None:
        shutil.copyfile(key_path_for(key_from), key_path_for(path))
    with Store.open(path) as store:
        ingest_files(store, files)
    return path


def counts(path: Path) -> dict[str, object]:
    """What a responder reads off a case: rows per table, the credentials by fingerprint and
    their request counts, the endpoints, and the findings per rule."""
    with Store.open(path, create=False) as store:
        one = store.conn.execute

        def rows(table: str) -> int:
            return int(one(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

        return {
            "tables": {
                t: rows(t)
                for t in (
                    "exchanges",
                    "exchange_credentials",
                    "credentials",
                    "identities",
                    "endpoints",
                    "sightings",
                    "credential_aliases",
                )
            },
            "credentials": sorted(one("SELECT fingerprint, requests FROM credentials").fetchall()),
            "endpoints": sorted(one("SELECT host, method, template FROM endpoints").fetchall()),
            "findings": Counter(r[0] for r in one("SELECT rule FROM findings")),
        }


@pytest.fixture
def cases(tmp_path: Path) -> dict[str, Path]:
    """One case per sensor, all under one key (the sensors were given the incident's key)."""
    first = make_case(tmp_path / "sensor.db", [INPUTS["sensor"]])
    out = {"sensor": first}
    for name in ("browser", "capture"):
        out[name] = make_case(tmp_path / f"{name}.db", [INPUTS[name]], key_from=first)
    for name, path in out.items():  # each case has its own audit history
        with Store.open(path, create=False) as store:
            audit.append(store, "responder", "note", name, {"said": f"triage of {name}"})
            audit.append(store, "responder", "block.credential", "c-123", {"reason": "leak"})
    return out


def test_merged_cases_equal_one_case_of_every_input(tmp_path: Path, cases: dict[str, Path]) -> None:
    whole = make_case(tmp_path / "whole.db", list(INPUTS.values()), key_from=cases["sensor"])
    merged = tmp_path / "incident.db"
    summaries = merge_cases(merged, list(cases.values()))
    assert all(s.same_key for s in summaries)
    assert counts(merged) == counts(whole)
    assert counts(merged)["tables"]["exchanges"] > 0  # type: ignore[index]
    # the audit chains: the merged case's own (one pin per source) and each source's, verified
    with Store.open(merged, create=False) as store:
        assert audit.verify(store).ok
        checks = verify_origins(store)
    assert [(Path(c.case_path).name, c.entries, c.ok, c.macs_checked) for c in checks] == [
        ("sensor.db", 2, True, True),
        ("browser.db", 2, True, True),
        ("capture.db", 2, True, True),
    ]


def test_merging_a_case_again_or_with_itself_adds_nothing(
    tmp_path: Path, cases: dict[str, Path]
) -> None:
    merged = tmp_path / "incident.db"
    merge_cases(merged, [cases["sensor"], cases["capture"]])
    before = counts(merged)
    with Store.open(merged, create=False) as store:
        entries = len(audit.entries(store))
    again = merge_cases(merged, [cases["sensor"], cases["sensor"], cases["capture"]])
    assert counts(merged) == before
    assert [(s.counts.exchanges_added, s.counts.inputs_added, s.audit_added) for s in again] == [
        (0, 0, False),
        (0, 0, False),
    ]
    assert all(s.counts.inputs_present == 1 for s in again)
    with Store.open(merged, create=False) as store:
        assert len(audit.entries(store)) == entries  # no new pin: nothing was added
    alone = tmp_path / "alone.db"
    merge_cases(alone, [cases["sensor"], cases["sensor"]])
    single = tmp_path / "single.db"
    merge_cases(single, [cases["sensor"]])
    assert counts(alone) == counts(single)


def test_a_changed_entry_of_a_merged_chain_is_detected(
    tmp_path: Path, cases: dict[str, Path]
) -> None:
    merged = tmp_path / "incident.db"
    merge_cases(merged, [cases["sensor"], cases["browser"]])
    with Store.open(merged, create=False) as store:
        store.conn.execute(
            'UPDATE audit_origin_entries SET details = \'{"reason":"routine"}\' '
            "WHERE action = 'block.credential' AND origin_id = 2"
        )
        checks = verify_origins(store)
        assert audit.verify(store).ok  # the merged case's own chain is intact
    assert [c.ok for c in checks] == [True, False]
    assert (
        checks[1].reason
        == "an entry was changed after the merge (its content differs from the pin)"
    )


def test_a_source_whose_audit_log_does_not_verify_is_refused(
    tmp_path: Path, cases: dict[str, Path]
) -> None:
    with Store.open(cases["browser"], create=False) as store:
        store.conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")
    with pytest.raises(Exception, match=r"browser\.db: its audit log does not verify"):
        merge_cases(tmp_path / "incident.db", [cases["sensor"], cases["browser"]])


def test_a_case_under_another_key_is_rekeyed_from_its_files(
    tmp_path: Path, cases: dict[str, Path]
) -> None:
    other = make_case(tmp_path / "elsewhere.db", [INPUTS["capture"]])  # its own, new key
    whole = make_case(
        tmp_path / "whole.db", [INPUTS["sensor"], INPUTS["capture"]], key_from=cases["sensor"]
    )
    merged = tmp_path / "incident.db"
    summaries = merge_cases(merged, [cases["sensor"], other])
    assert [s.same_key for s in summaries] == [True, False]
    assert summaries[1].rekeyed and summaries[1].counts.exchanges_added == 0
    assert summaries[1].as_dict()["credentials_matched"] == "re-keyed from the input files"
    assert counts(merged) == counts(whole)  # the capture's credentials matched by fingerprint


def test_without_its_files_a_case_under_another_key_keeps_its_own_fingerprints(
    tmp_path: Path, cases: dict[str, Path]
) -> None:
    moved = tmp_path / "gone.pcap"
    shutil.copyfile(INPUTS["capture"], moved)
    other = make_case(tmp_path / "elsewhere.db", [moved])
    moved.unlink()  # the capture is not where it was read from any more
    merged = tmp_path / "incident.db"
    summaries = merge_cases(merged, [cases["sensor"], other])
    assert not summaries[1].rekeyed and summaries[1].counts.exchanges_added > 0
    assert summaries[1].as_dict()["credentials_matched"] == (
        "not matched: another case key (kept with their own fingerprints)"
    )
    with Store.open(other, create=False) as store:
        theirs = {r[0] for r in store.conn.execute("SELECT fingerprint FROM credentials")}
    with Store.open(merged, create=False) as store:
        ours = {r[0] for r in store.conn.execute("SELECT fingerprint FROM credentials")}
    assert theirs and theirs <= ours
