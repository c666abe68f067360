"""The proxy actions: their blocklist effects, and a built-in runbook against a running mitmdump
with our addon enforcing (the blocked credential is answered 403 and never reaches upstream)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from discovery.case import audit, blocklist
from discovery.case.store import Store
from discovery.errors import SubjectNotFound
from discovery.redact.secrets import credential_id
from runbooks import loader
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.engine import Engine
from runbooks.gates import Approvals
from tests.discovery.proxyfixtures import mitmdump, upstream

TOKEN = "tok-runbook-proxy-aaaaaaaaaaaa1234"


def call(store: Store, name: str, **args: Any) -> dict[str, Any]:
    action = get(name)
    ctx = ActionContext(store=store, run_id="r-1", step_id="s", target={}, actor="runbook:r-1")
    return action.run(action.parse(args), ctx)


def test_block_and_unblock_effects(case: Store, credential_id: str) -> None:
    endpoint = "API.example.com get /v1/users/{id}"
    out = call(case, "proxy.block_credential", credential=credential_id, reason="leak")
    assert out["subject"] == credential_id and out["at_ts"] > 0
    call(case, "proxy.block_endpoint", endpoint=endpoint)
    assert {(b.kind, b.subject) for b in blocklist.blocks(case)} == {
        ("credential", credential_id),
        ("endpoint", "api.example.com GET /v1/users/{id}"),
    }
    fingerprint = case.conn.execute("SELECT fingerprint FROM credentials").fetchone()[0]
    assert blocklist.blocks(case)[0].value == fingerprint  # the proxy matches fingerprints
    assert call(case, "proxy.unblock_credential", credential=credential_id)["was_blocked"]
    assert not call(case, "proxy.unblock_credential", credential=credential_id)["was_blocked"]
    call(case, "proxy.unblock_endpoint", endpoint=endpoint)
    assert blocklist.blocks(case) == []
    entries = audit.entries(case)
    assert [e.action for e in entries] == [
        "block.credential",
        "block.endpoint",
        "unblock.credential",
        "unblock.endpoint",
    ]
    assert {e.actor for e in entries} == {"runbook:r-1"}


def test_unknown_credential_is_refused(case: Store) -> None:
    with pytest.raises(SubjectNotFound):
        call(case, "proxy.block_credential", credential="c-000000000000")


def until(predicate: Any, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.mark.integration
def test_revoke_runbook_blocks_on_a_running_proxy(tmp_path: Path) -> None:
    case_path = tmp_path / "case.db"
    Store.open(case_path).close()
    with (
        upstream() as server,
        mitmdump(
            tmp_path / "conf", "--set", f"irc_db={case_path}", "--set", "irc_enforce=true"
        ) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
        Store.open(case_path) as store,
    ):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get(server.url("/v1/data"), headers=headers).status_code == 200
        cid = credential_id(store.fingerprint(TOKEN))
        until(
            lambda: (
                store.conn.execute("SELECT 1 FROM credentials WHERE id = ?", (cid,)).fetchone()
                is not None
            )
        )

        # the attacker keeps calling while the runbook runs
        stop = threading.Event()
        statuses: list[int] = []

        def keep_calling() -> None:
            while not stop.is_set():
                statuses.append(client.get(server.url("/v1/data"), headers=headers).status_code)
                time.sleep(0.1)

        caller = threading.Thread(target=keep_calling, daemon=True)
        caller.start()
        params = {
            "provider": "none",
            "verify_wait": "20",
            "enforce_grace": "1.5",
            "report_dir": str(tmp_path / "rep"),
        }
        try:
            # a generic key: no provider step applies, so a person must revoke it at its issuer;
            # the run stops there (--yes does not confirm it), never "succeeded"
            events = [
                e.to_json()
                for e in Engine(store, approvals=Approvals(yes=True)).start(
                    loader.find("revoke-leaked-credential"), cid, params
                )
            ]
            assert events[-1]["state"] == "waiting", events[-1]
            assert "revoke-by-hand" in events[-1]["outcome"]
            assert "--approve revoke-by-hand" in events[-1]["outcome"]
            block = next(
                e for e in events if e["event"] == "step_succeeded" and e["step"] == "block"
            )
            assert block["output"]["containment"]["done"] is True
            assert "blocked at a running enforcing proxy" in block["output"]["containment"]["text"]
            run_id = events[0]["run_id"]
            still = [
                e.to_json() for e in Engine(store, approvals=Approvals(yes=True)).resume(run_id)
            ]
            assert still[-1]["state"] == "waiting"
            # the responder revoked it by hand and confirms by name
            events = [
                e.to_json()
                for e in Engine(
                    store,
                    approvals=Approvals(steps=frozenset({"revoke-by-hand"})),
                    operator="alice",
                ).resume(run_id)
            ]
        finally:
            stop.set()
            caller.join(10)
        assert events[-1]["state"] == "succeeded", events[-1]
        outcome = events[-1]["outcome"]
        assert "blocked at a running enforcing proxy" in outcome
        assert "confirmed by alice" in outcome and "verified: no use since" in outcome
        verify = next(e for e in events if e["event"] == "step_succeeded" and e["step"] == "verify")
        assert verify["output"]["successful_uses"] == 0
        assert verify["output"]["verdict"] == "verified"
        assert verify["output"]["refused_attempts"] > 0
        assert 403 in statuses
        # after the grace period every call is refused by the proxy and never reaches upstream
        answer = client.get(server.url("/v1/data"), headers={**headers, "X-Req-Id": "after"})
        assert answer.status_code == 403
        assert not server.seen_with("X-Req-Id", "after")
        # the refused calls are recorded in the case as blocked exchanges of that credential
        until(
            lambda: (
                store.conn.execute(
                    "SELECT COUNT(*) FROM exchanges e JOIN exchange_credentials ec "
                    "ON ec.exchange_id = e.id WHERE e.blocked = 1 AND ec.credential_id = ?",
                    (cid,),
                ).fetchone()[0]
                > 0
            )
        )


@pytest.mark.integration
def test_endpoint_and_unblock_actions_on_a_running_proxy(tmp_path: Path) -> None:
    """proxy.block_endpoint, proxy.unblock_endpoint and proxy.unblock_credential, called as a
    runbook step would, change what a running enforcing mitmdump lets through within seconds."""
    case_path = tmp_path / "case.db"
    Store.open(case_path).close()
    with (
        upstream() as server,
        mitmdump(
            tmp_path / "conf", "--set", f"irc_db={case_path}", "--set", "irc_enforce=true"
        ) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
        Store.open(case_path) as store,
    ):
        host = f"127.0.0.1:{server.port}"
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def status(path: str, **extra: str) -> int:
            return client.get(server.url(path), headers={**headers, **extra}).status_code

        assert status("/v1/orders/7") == 200
        cid = credential_id(store.fingerprint(TOKEN))
        until(
            lambda: (
                store.conn.execute("SELECT 1 FROM credentials WHERE id = ?", (cid,)).fetchone()
                is not None
            )
        )
        call(
            store,
            "proxy.block_endpoint",
            endpoint=f"{host} GET /v1/orders/{{id}}",
            reason="contain",
        )
        until(lambda: status("/v1/orders/8") == 403, 10)
        assert status("/v1/orders/9", **{"X-Req-Id": "blocked"}) == 403
        assert not server.seen_with("X-Req-Id", "blocked")  # never reached upstream
        assert status("/v1/customers/1") == 200  # other endpoints still pass
        call(store, "proxy.unblock_endpoint", endpoint=f"{host} GET /v1/orders/{{id}}")
        until(lambda: status("/v1/orders/10") == 200, 10)
        call(store, "proxy.block_credential", credential=cid, reason="leak")
        until(lambda: status("/v1/customers/2") == 403, 10)
        call(store, "proxy.unblock_credential", credential=cid)
        until(lambda: status("/v1/customers/3") == 200, 10)
        actions = [e.action for e in audit.entries(store)]
        assert actions == [
            "block.endpoint",
            "unblock.endpoint",
            "block.credential",
            "unblock.credential",
        ]
