"""Enforcement on a running proxy: a credential blocked with `ir-console block` is answered 403
and never reaches the upstream; other credentials pass; an endpoint block; unblocking restores."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from discovery.case.store import Store
from discovery.redact.secrets import credential_id
from tests.discovery.proxyfixtures import Upstream, mitmdump, upstream

pytestmark = pytest.mark.integration  # starts processes or servers

TOKEN_A = "tok-enforce-aaaaaaaaaaaaaaaa1111"
TOKEN_B = "tok-enforce-bbbbbbbbbbbbbbbb2222"
WAIT = 30.0  # generous upper bound for a poll loop, never a performance assertion
_ids = itertools.count(1)


def ir_console(case: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


class Caller:
    """Sends requests through the proxy, each tagged with a unique X-Req-Id."""

    def __init__(self, client: httpx.Client, server: Upstream) -> None:
        self.client, self.server = client, server

    def get(self, path: str, token: str) -> tuple[httpx.Response, str]:
        req_id = f"r-{next(_ids)}"
        resp = self.client.get(
            self.server.url(path), headers={"Authorization": f"Bearer {token}", "X-Req-Id": req_id}
        )
        return resp, req_id

    def reached_upstream(self, req_id: str) -> bool:
        return bool(self.server.seen_with("X-Req-Id", req_id))


def test_block_takes_effect_on_a_running_proxy(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    Store.open(case).close()
    with (
        upstream() as server,
        mitmdump(
            tmp_path / "conf",
            "--set",
            f"irc_db={case}",
            "--set",
            "irc_enforce=true",
            "--set",
            "irc_poll_ms=200",
        ) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):
        call = Caller(client, server)
        assert call.get("/v1/users/1", TOKEN_A)[0].status_code == 200
        assert call.get("/v1/users/1", TOKEN_B)[0].status_code == 200
        with Store.open(case) as store:
            cid_a = credential_id(store.fingerprint(TOKEN_A))
            until(
                lambda: (
                    store.conn.execute(
                        "SELECT 1 FROM credentials WHERE id = ?", (cid_a,)
                    ).fetchone()
                    is not None
                )
            )

        ir_console(case, "block", "credential", cid_a, "--reason", "leaked")
        answers: list[tuple[httpx.Response, str]] = []

        def blocked_now() -> bool:
            answers.append(call.get("/v1/users/1", TOKEN_A))
            return answers[-1][0].status_code == 403

        until(blocked_now)
        resp, req_id = answers[-1]
        body = resp.json()
        assert body["error"] == "blocked" and body["reference"].startswith("irc-")
        assert TOKEN_A not in resp.text and cid_a not in resp.text
        assert not call.reached_upstream(req_id)
        again, again_id = call.get("/v1/users/2", TOKEN_A)
        assert again.status_code == 403 and not call.reached_upstream(again_id)
        other, other_id = call.get("/v1/users/2", TOKEN_B)
        assert other.status_code == 200 and call.reached_upstream(other_id)

        ir_console(case, "block", "endpoint", f"127.0.0.1:{server.port} GET /v1/admin/{{id}}")
        until(lambda: call.get("/v1/admin/7", TOKEN_B)[0].status_code == 403)
        deeper, deeper_id = call.get("/v1/admin/7/audit", TOKEN_B)
        assert deeper.status_code == 200 and call.reached_upstream(deeper_id)

        ir_console(case, "unblock", "credential", cid_a)
        until(lambda: call.get("/v1/users/3", TOKEN_A)[0].status_code == 200)
        restored, restored_id = call.get("/v1/users/4", TOKEN_A)
        assert restored.status_code == 200 and call.reached_upstream(restored_id)

    with Store.open(case) as store:
        rows = store.conn.execute(
            "SELECT e.path, e.status, e.evidence, ec.credential_id FROM exchanges e "
            "LEFT JOIN exchange_credentials ec ON ec.exchange_id = e.id WHERE e.blocked = 1"
        ).fetchall()
        actions = [r[0] for r in store.conn.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert rows, "blocked requests must be recorded"
    assert all(status == 403 and " ref irc-" in evidence for _, status, evidence, _ in rows)
    assert {cred for path, _, _, cred in rows if path == "/v1/users/1"} == {cid_a}
    assert body["reference"] in {evidence.split(" ref ")[1] for _, _, evidence, _ in rows}
    assert any(path == "/v1/admin/7" for path, *_ in rows)
    assert actions == ["block.credential", "block.endpoint", "unblock.credential"]
