"""Evidence actions: verify_no_use_since (also while traffic arrives), summary, bundle."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from discovery.analyse.sightings import rebuild_sightings
from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from tests.conftest import make_exchange, make_sighting
from tests.runbooks.conftest import SECRET


def call(store: Store, action_name: str, timeout: float = 30, **args: Any) -> dict[str, Any]:
    action = get(action_name)
    if action_name == "evidence.verify_no_use_since":
        args.setdefault("wait", 0)  # no watching unless a test asks for it
    ctx = ActionContext(
        store=store,
        run_id="r-1",
        step_id="s",
        target={},
        actor="t",
        timeout=timeout,
        started_at=1_790_000_050.0,
    )
    return action.run(action.parse(args), ctx)


def use(store: Store, ts: float, status: int = 200, blocked: bool = False) -> None:
    sighting = make_sighting(store, SECRET, kind="github_token", name="Authorization")
    store.add_exchanges(
        [
            make_exchange(
                ts=ts,
                status=status,
                blocked=blocked,
                evidence=f"flow at {ts}",
                credentials=(sighting,),
            )
        ]
    )


@pytest.mark.parametrize(
    ("since", "ok"),
    [
        (None, False),  # default: the run's start (…050); a use at …100
        ("2026-09-21T14:15:01Z", True),  # after the last use
        (1_790_000_100.0, False),  # epoch, inclusive
        (1_790_000_100.5, True),
    ],
)
def test_verify_since(case: Store, credential_id: str, since: Any, ok: bool) -> None:
    args: dict[str, Any] = {"credential": credential_id}
    if since is not None:
        args["since"] = since
    if ok:
        assert call(case, "evidence.verify_no_use_since", **args)["successful_uses"] == 0
    else:
        with pytest.raises(ActionError, match=r"used successfully 1 time\(s\).*evidence frames"):
            call(case, "evidence.verify_no_use_since", **args)


def test_refused_uses_do_not_count(case: Store, credential_id: str) -> None:
    use(case, 1_790_000_200.0, status=403, blocked=True)
    use(case, 1_790_000_201.0, status=401)
    out = call(
        case, "evidence.verify_no_use_since", credential=credential_id, since=1_790_000_150.0
    )
    assert out["refused_attempts"] == 2 and out["successful_uses"] == 0


def test_grace_tolerates_the_enforcement_delay(case: Store, credential_id: str) -> None:
    use(case, 1_790_000_201.0)
    with pytest.raises(ActionError):
        call(case, "evidence.verify_no_use_since", credential=credential_id, since=1_790_000_200.0)
    call(
        case,
        "evidence.verify_no_use_since",
        credential=credential_id,
        since=1_790_000_200.0,
        grace=2,
    )


def test_wait_sees_a_use_that_arrives_while_watching(
    case_path: Path, case: Store, credential_id: str
) -> None:
    def writer() -> None:
        time.sleep(0.5)
        with Store.open(case_path) as other:  # a capture writing from another connection
            use(other, time.time())

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(ActionError, match="used successfully"):
            call(
                case,
                "evidence.verify_no_use_since",
                credential=credential_id,
                since=time.time() - 0.1,
                wait=10,
                poll=0.1,
            )
    finally:
        thread.join(10)


def test_no_traffic_since_is_not_verified(case: Store, credential_id: str) -> None:
    """Nothing from the credential's clients or hosts since: nothing proven either way."""
    out = call(
        case, "evidence.verify_no_use_since", credential=credential_id, since=1_790_000_150.0
    )
    assert out["verdict"] == "not verified" and out["traffic_observed"] == 0
    assert out["containment"]["done"] is False
    assert out["containment"]["text"].startswith("not verified: no traffic observed")


def test_refused_attempts_verify(case: Store, credential_id: str) -> None:
    use(case, 1_790_000_200.0, status=403, blocked=True)
    out = call(
        case, "evidence.verify_no_use_since", credential=credential_id, since=1_790_000_150.0
    )
    assert out["verdict"] == "verified" and out["containment"]["done"] is True
    assert out["containment"]["text"].startswith("verified: no use since")


def test_traffic_from_the_same_client_without_the_credential_verifies(
    case: Store, credential_id: str
) -> None:
    """The client that used the credential is still active (now without it): evidence that it
    would have been seen."""
    case.add_exchanges([make_exchange(ts=1_790_000_300.0, client_ip="10.0.0.5", host="other.test")])
    out = call(
        case, "evidence.verify_no_use_since", credential=credential_id, since=1_790_000_150.0
    )
    assert out["verdict"] == "verified" and out["traffic_observed"] == 1


def test_verify_waits_for_evidence_and_stops_when_it_arrives(
    case_path: Path, case: Store, credential_id: str
) -> None:
    def writer() -> None:
        time.sleep(0.5)
        with Store.open(case_path) as other:  # a proxy recording a refused attempt
            use(other, time.time(), status=403, blocked=True)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        out = call(
            case,
            "evidence.verify_no_use_since",
            credential=credential_id,
            since=time.time() - 0.1,
            wait=30,
            poll=0.1,
        )
    finally:
        thread.join(10)
    assert out["verdict"] == "verified" and out["refused_attempts"] == 1
    assert out["watched_seconds"] < 30  # it stopped once the evidence came


def test_verify_an_endpoint(case: Store) -> None:
    endpoint = "api.example.com GET /v1/users/{id}"
    with pytest.raises(ActionError, match=r"endpoint 'api\.example\.com GET"):
        call(case, "evidence.verify_no_use_since", endpoint=endpoint, since=1_790_000_000.0)
    assert (
        call(case, "evidence.verify_no_use_since", endpoint=endpoint, since=1_790_000_101.0)[
            "successful_uses"
        ]
        == 0
    )
    with pytest.raises(ActionError, match="exactly one of"):
        call(case, "evidence.verify_no_use_since", since=1.0)


@pytest.mark.parametrize("kind", ["credential", "identity", "endpoint", "host", "client"])
def test_summary_of_every_subject_type(case: Store, credential_id: str, kind: str) -> None:
    ident = case.conn.execute("SELECT identity_id FROM credentials").fetchone()[0]
    subject = {
        "credential": credential_id,
        "identity": f"identity:{ident}",
        "endpoint": "api.example.com GET /v1/users/{id}",
        "host": "host:api.example.com",
        "client": "10.0.0.5",
    }[kind]
    out = call(case, "evidence.summary", subject=subject)
    assert out["subject"]["type"] == kind
    assert out["credentials"] == [credential_id]
    assert out["requests"] == 2 and out["successes"] == 2 and out["clients"] == ["10.0.0.5"]
    radius = out["blast_radius"]
    if kind in ("endpoint", "host"):  # who reaches it (the graph's exposure)
        assert out["blast_radius_from"] == "graph.exposure"
        assert [c["id"] for c in radius["credentials"]] == [credential_id]
        assert radius["clients"] == ["10.0.0.5"]
    else:  # what it reaches (the graph's blast radius)
        assert out["blast_radius_from"] == "graph.blast_radius"
        assert radius["services"] == [{"host": "api.example.com", "endpoints": 1}]
        assert radius["shadow"] == ["api.example.com GET /v1/users/{id}"]


def test_bundle_never_overwrites(case: Store, tmp_path: Path) -> None:
    first = call(case, "evidence.bundle", directory=str(tmp_path), name="b")
    assert Path(first["copy"]).exists()
    with pytest.raises(ActionError, match="already exists"):
        call(case, "evidence.bundle", directory=str(tmp_path), name="b")
    with pytest.raises(ActionError, match="plain file name"):
        call(case, "evidence.bundle", directory=str(tmp_path), name="../escape")


def test_new_sightings_are_reflected(case: Store, credential_id: str) -> None:
    use(case, 1_790_000_300.0)
    case.conn.execute("UPDATE exchanges SET endpoint_id = 1")
    rebuild_sightings(case)
    assert call(case, "evidence.summary", subject=credential_id)["requests"] == 3


def _statements_of_one_poll(case: Store, credential_id: str) -> int:
    """How many SQL statements one poll of verify_no_use_since runs (wait=0: exactly one)."""
    seen: list[str] = []
    case.conn.set_trace_callback(seen.append)
    try:
        call(case, "evidence.verify_no_use_since", credential=credential_id, since=1_790_000_150.0)
    finally:
        case.conn.set_trace_callback(None)
    return len(seen)


def test_a_use_committed_while_a_poll_reads_is_never_taken_for_mere_traffic(
    case_path: Path, case: Store, credential_id: str
) -> None:
    """The race behind a flaky run: a capture commits a successful use between the poll's
    reads. Read in two snapshots, the use was missed by the count of uses and then seen by the
    count of traffic, so the verdict said 'verified' about a credential just used. Whichever
    statement the commit lands before, the poll now fails (or sees nothing of it)."""
    statements = _statements_of_one_poll(case, credential_id)
    assert statements >= 1
    for index in range(statements):
        with Store.open(case_path) as other:
            other.conn.execute("DELETE FROM exchange_credentials WHERE exchange_id > 3")
            other.conn.execute("DELETE FROM exchanges WHERE id > 3")
        seen: list[str] = []

        def commit_a_use(statement: str, index: int = index, seen: list[str] = seen) -> None:
            seen.append(statement)
            if len(seen) == index + 1:
                with Store.open(case_path) as other:  # another connection, as a capture
                    use(other, 1_790_000_200.0)

        case.conn.set_trace_callback(commit_a_use)
        try:
            out: dict[str, Any] | None = None
            try:
                out = call(
                    case,
                    "evidence.verify_no_use_since",
                    credential=credential_id,
                    since=1_790_000_150.0,
                )
            except ActionError as exc:
                assert "used successfully" in str(exc)
        finally:
            case.conn.set_trace_callback(None)
        assert out is None, f"a use committed at statement {index} was taken for traffic: {out}"
