"""The engine against real parts: a loopback HTTP server that counts calls, a real case file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from discovery.case import audit, blocklist
from discovery.case.store import Store
from runbooks.engine import Approvals, Engine
from runbooks.errors import AuditError, RunbookUsageError
from runbooks.events import Event
from tests.runbooks.conftest import runbook
from tests.runbooks.servers import Seen, http_server


def run(
    store: Store,
    text: str,
    target: str,
    params: dict[str, str] | None = None,
    *,
    dry_run: bool = False,
    **engine: Any,
) -> list[dict[str, Any]]:
    events = Engine(store, **engine).start(runbook(text), target, params or {}, dry_run=dry_run)
    return [e.to_json() for e in events]


def names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["event"], e.get("step", "")) for e in events]


def step_row(store: Store, run_id: str, step: str) -> tuple[Any, ...]:
    return tuple(
        store.conn.execute(
            "SELECT state, attempts, error FROM runbook_steps WHERE run_id = ? AND step_id = ?",
            (run_id, step),
        ).fetchone()
    )


def three_calls(url: str) -> str:
    return f"""
id: t
title: t
applies_to: credential
inputs:
  flag: {{type: boolean, default: true}}
steps:
  - id: first
    action: http.request
    with: {{url: "{url}/a", json: {{cred: "{{{{ target.id }}}}"}}}}
  - id: second
    action: http.request
    when: "inputs.flag"
    with: {{url: "{url}/b"}}
  - id: third
    action: http.request
    with: {{url: "{url}/c", json: {{first: "{{{{ steps.first.output.status }}}}"}}}}
"""


def test_steps_run_in_order_with_earlier_outputs(case: Store, credential_id: str) -> None:
    with http_server() as server:
        events = run(case, three_calls(server.url), credential_id)
        assert [r.path for r in server.requests] == ["/a", "/b", "/c"]
        assert server.requests[0].json() == {"cred": credential_id}
        assert server.requests[2].json() == {"first": 200}
    assert names(events) == [
        ("run_started", ""),
        ("step_started", "first"),
        ("step_succeeded", "first"),
        ("step_started", "second"),
        ("step_succeeded", "second"),
        ("step_started", "third"),
        ("step_succeeded", "third"),
        ("run_finished", ""),
    ]
    assert events[-1]["state"] == "succeeded"


def test_when_false_skips_the_step(case: Store, credential_id: str) -> None:
    with http_server() as server:
        events = run(case, three_calls(server.url), credential_id, {"flag": "false"})
        assert [r.path for r in server.requests] == ["/a", "/c"]
    assert ("step_skipped", "second") in names(events)
    assert step_row(case, events[0]["run_id"], "second")[0] == "skipped"


def test_retry_with_backoff_until_success(case: Store, credential_id: str) -> None:
    answers = iter([500, 503, 200])

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return next(answers), {}, b"{}"

    slept: list[float] = []
    text = """
id: t
title: t
applies_to: credential
steps:
  - id: flaky
    action: http.request
    retry: {attempts: 3, backoff: 0.5, factor: 2}
    with: {url: "URL/x"}
"""
    with http_server(answer) as server:
        events = run(case, text.replace("URL", server.url), credential_id, sleep=slept.append)
        assert len(server.requests) == 3
    assert slept == [0.5, 1.0]
    failed = [e for e in events if e["event"] == "step_failed"]
    assert [f["retry_in"] for f in failed] == [0.5, 1.0]
    assert events[-1]["state"] == "succeeded"
    assert step_row(case, events[0]["run_id"], "flaky")[:2] == ("done", 3)


def test_retries_exhausted_fail_the_run(case: Store, credential_id: str) -> None:
    text = """
id: t
title: t
applies_to: credential
steps:
  - id: broken
    action: http.request
    retry: {attempts: 2, backoff: 0}
    with: {url: "URL/x"}
  - id: never
    action: http.request
    with: {url: "URL/never"}
"""
    with http_server(lambda seen: (500, {}, b"nope")) as server:
        events = run(case, text.replace("URL", server.url), credential_id)
        assert [r.path for r in server.requests] == ["/x", "/x"]
    assert events[-1]["state"] == "failed"
    assert "HTTP 500" in events[-1]["outcome"]
    assert step_row(case, events[0]["run_id"], "never")[0] == "pending"


def test_timeout_fails_a_slow_step(case: Store, credential_id: str) -> None:
    release = threading.Event()

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        release.wait(30)  # answers only after the test lets it (or 30 s)
        return 200, {}, b"{}"

    text = """
id: t
title: t
applies_to: credential
steps:
  - id: slow
    action: http.request
    timeout: 0.3
    with: {url: "URL/slow"}
"""
    with http_server(answer) as server:
        try:
            events = run(case, text.replace("URL", server.url), credential_id)
        finally:
            release.set()
    # had the engine waited for the answer, the step would have succeeded with a 200
    failure = next(e for e in events if e["event"] == "step_failed")
    assert "timed out" in failure["error"].lower() or "timeout" in failure["error"].lower()
    assert events[-1]["state"] == "failed"


def test_rollback_of_completed_steps_when_a_later_step_fails(
    case: Store, credential_id: str
) -> None:
    text = """
id: t
title: t
applies_to: credential
steps:
  - id: block
    action: proxy.block_credential
    with: {credential: "{{ target.id }}"}
    rollback:
      action: proxy.unblock_credential
      with: {credential: "{{ target.id }}"}
  - id: no-rollback
    action: evidence.summary
    with: {subject: "{{ target.id }}"}
  - id: notify
    action: http.request
    with: {url: "URL/hook"}
"""
    with http_server(lambda seen: (500, {}, b"down")) as server:
        before = blocklist.blocks(case)
        events = run(case, text.replace("URL", server.url), credential_id)
    assert before == []
    assert blocklist.blocks(case) == []  # the block was undone
    rollbacks = [e for e in events if e["event"] == "rollback_step"]
    assert [(r["step"], r["action"], r["ok"]) for r in rollbacks] == [
        ("block", "proxy.unblock_credential", True)
    ]
    run_id = events[0]["run_id"]
    assert step_row(case, run_id, "block")[0] == "rolled_back"
    assert step_row(case, run_id, "no-rollback")[0] == "done"
    actions = [e.action for e in audit.entries(case)]
    assert actions.index("block.credential") < actions.index("unblock.credential")
    assert "rollback.succeeded" in actions
    assert audit.verify(case).ok


GATED = """
id: t
title: t
applies_to: credential
steps:
  - id: ask
    approval: "Go on for {{ target.id }}?"
  - id: revoke
    action: http.request
    irreversible: true
    with: {url: "URL/revoke"}
  - id: after
    action: http.request
    with: {url: "URL/after"}
"""


def test_approval_gate_stops_without_yes(case: Store, credential_id: str) -> None:
    with http_server() as server:
        events = run(case, GATED.replace("URL", server.url), credential_id)
        assert server.requests == []
    gate = next(e for e in events if e["event"] == "gate_reached")
    assert gate["step"] == "ask" and gate["gate"] == "approval"
    assert credential_id in gate["prompt"]
    assert events[-1]["state"] == "waiting"
    row = case.conn.execute("SELECT state FROM runbook_runs").fetchone()
    assert row[0] == "waiting"


def test_yes_does_not_grant_an_irreversible_step(case: Store, credential_id: str) -> None:
    with http_server() as server:
        events = run(
            case, GATED.replace("URL", server.url), credential_id, approvals=Approvals(yes=True)
        )
        assert server.requests == []
        gate = next(e for e in events if e["event"] == "gate_reached")
        assert (gate["step"], gate["gate"]) == ("revoke", "irreversible")
        assert "--approve revoke" in gate["how"]
        # resume with the step's own approval: it runs, the ordinary gate is not asked again
        resumed = [
            e.to_json()
            for e in Engine(case, approvals=Approvals(steps=frozenset({"revoke"}))).resume(
                events[0]["run_id"]
            )
        ]
        assert [r.path for r in server.requests] == ["/revoke", "/after"]
    assert resumed[-1]["state"] == "succeeded"
    granted = [e for e in audit.entries(case) if e.action == "approval.granted"]
    assert [e.details["step"] for e in granted] == ["ask", "revoke"]
    assert granted[1].actor.startswith("operator:")


def test_dry_run_plans_every_step_and_calls_nothing(case: Store, credential_id: str) -> None:
    text = (
        GATED
        + """
  - id: block
    action: proxy.block_credential
    with: {credential: "{{ target.id }}"}
  - id: maybe
    action: http.request
    when: "steps.after.output.status == 200"
    with: {url: "URL/maybe?x={{ steps.after.output.body }}"}
"""
    )
    with http_server() as server:
        events = run(case, text.replace("URL", server.url), credential_id, dry_run=True)
        assert server.requests == []  # the server counted no call at all
    planned = [e for e in events if e["event"] == "step_planned"]
    assert [p["step"] for p in planned] == ["ask", "revoke", "after", "block", "maybe"]
    assert f"POST {server.url}/revoke" in planned[1]["plan"]
    assert "--approve revoke" in planned[1]["plan"]
    assert planned[4]["plan"].startswith("if ")
    assert blocklist.blocks(case) == []
    assert events[-1]["state"] == "planned"
    assert [e.action for e in audit.entries(case)] == ["run.planned", "run.planned"]


def test_secret_inputs_never_reach_the_case_or_events(case: Store, credential_id: str) -> None:
    secret = "s3cr3t-value-do-not-store"
    text = """
id: t
title: t
applies_to: credential
inputs:
  token: {secret: true}
steps:
  - id: call
    action: http.request
    with: {url: "URL/x", headers: {Authorization: "Bearer {{ inputs.token }}"}}
"""
    with http_server(lambda seen: (500, {}, seen.headers["authorization"].encode())) as server:
        events = run(
            case, text.replace("URL", server.url), credential_id, secrets={"token": secret}
        )
        assert server.requests[0].headers["authorization"] == f"Bearer {secret}"
    assert secret not in json.dumps(events)
    dump = "\n".join(case.conn.iterdump())
    assert secret not in dump
    assert "[secret]" in dump


def test_secret_on_the_command_line_is_refused(case: Store, credential_id: str) -> None:
    text = """
id: t
title: t
applies_to: credential
inputs:
  token: {secret: true}
steps:
  - id: m
    manual: hi
"""
    with pytest.raises(RunbookUsageError, match="secret"):
        run(case, text, credential_id, {"token": "x"})


def test_target_of_the_wrong_type_is_refused(case: Store) -> None:
    text = "id: t\ntitle: t\napplies_to: endpoint\nsteps:\n  - id: m\n    manual: hi\n"
    ident = case.conn.execute("SELECT identity_id FROM credentials").fetchone()[0]
    with pytest.raises(RunbookUsageError, match="applies to endpoint"):
        run(case, text, f"identity:{ident}")


KILLED = """
id: killed
title: killed
applies_to: credential
steps:
  - id: revoke
    action: http.request
    irreversible: true
    with: {url: "URL/revoke"}
  - id: slow
    action: http.request
    timeout: 60
    with: {url: "URL/slow"}
  - id: last
    action: http.request
    with: {url: "URL/last"}
"""


@pytest.mark.integration
def test_resume_after_sigkill_does_not_repeat_a_completed_irreversible_step(
    case: Store, credential_id: str, tmp_path: Path
) -> None:
    release = threading.Event()
    slow_calls: list[int] = []

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path == "/slow":
            slow_calls.append(1)
            if len(slow_calls) == 1:
                release.wait(30)  # the first call hangs until the process is killed
        return 200, {}, b"{}"

    folder = tmp_path / "rb"
    folder.mkdir()
    with http_server(answer) as server:
        (folder / "killed.yaml").write_text(KILLED.replace("URL", server.url))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ir_console",
                "--db",
                str(case.path),
                "runbook",
                "--runbooks",
                str(folder),
                "run",
                "killed",
                "--target",
                credential_id,
                "--approve",
                "revoke",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            run_id = json.loads(proc.stdout.readline())["run_id"]
            deadline = time.monotonic() + 30
            while step_row(case, run_id, "slow")[0] != "running":
                assert time.monotonic() < deadline, "the run never reached the slow step"
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            release.set()
        assert proc.returncode == -signal.SIGKILL
        assert step_row(case, run_id, "revoke")[0] == "done"
        # resume without any approval: the completed irreversible step is not asked nor repeated
        events = [e.to_json() for e in Engine(case).resume(run_id)]
        assert [r.path for r in server.requests].count("/revoke") == 1
        assert [r.path for r in server.requests][-2:] == ["/slow", "/last"]
    assert events[-1]["state"] == "succeeded"
    assert ("step_started", "revoke") not in names(events)
    assert step_row(case, run_id, "slow")[:2] == ("done", 2)
    assert audit.verify(case).ok


def test_an_irreversible_step_killed_mid_call_needs_a_fresh_approval(
    case: Store, credential_id: str
) -> None:
    with http_server() as server:
        engine = Engine(case, approvals=Approvals(steps=frozenset({"revoke"})))
        events = engine.start(runbook(KILLED.replace("URL", server.url)), credential_id)
        seen: list[Event] = []
        for event in events:  # stop consuming once the irreversible step is running (a "kill")
            seen.append(event)
            if event.to_json()["event"] == "step_started":
                break
        events.close()  # type: ignore[attr-defined]  # the driver ends: it never goes on
        run_id = seen[0].run_id
        assert step_row(case, run_id, "revoke")[0] == "running"
        resumed = [e.to_json() for e in Engine(case).resume(run_id)]
        gate = next(e for e in resumed if e["event"] == "gate_reached")
        assert gate["step"] == "revoke" and "INTERRUPTED" in gate["prompt"]
        assert resumed[-1]["state"] == "waiting"
        assert server.requests == []


def test_approval_of_an_unknown_step_is_refused(case: Store, credential_id: str) -> None:
    with pytest.raises(RunbookUsageError, match="--approve revok: runbook t has no such step"):
        run(
            case,
            GATED.replace("URL", "http://127.0.0.1:9"),
            credential_id,
            approvals=Approvals(steps=frozenset({"revok"})),
        )
    assert case.conn.execute("SELECT COUNT(*) FROM runbook_runs").fetchone()[0] == 0


def test_a_missing_secret_is_named_in_the_plan_and_fails_the_step(
    case: Store, credential_id: str
) -> None:
    text = """
id: t
title: t
applies_to: credential
inputs:
  token: {secret: true, env: MY_TOKEN}
steps:
  - id: call
    action: http.request
    with: {url: "http://127.0.0.1:9/x", headers: {Authorization: "Bearer {{ inputs.token }}"}}
"""
    planned = run(case, text, credential_id, dry_run=True)
    assert "needs the secret input token (--secret-stdin token or $MY_TOKEN)" in planned[1]["plan"]
    live = run(case, text, credential_id)
    assert live[-1]["state"] == "failed"
    assert "needs the secret input token" in live[-1]["outcome"]


@pytest.mark.integration
def test_a_run_driven_by_a_live_process_is_not_resumed_twice(
    case: Store, credential_id: str
) -> None:
    import socket

    with http_server() as server:
        events = Engine(case).start(runbook(three_calls(server.url)), credential_id)
        run_id = next(events).run_id  # started, then abandoned while "running"
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            case.conn.execute(
                "UPDATE runbook_runs SET driver = ? WHERE id = ?",
                (f"{socket.gethostname()} {sleeper.pid}", run_id),
            )
            with pytest.raises(RunbookUsageError, match="being driven right now"):
                list(Engine(case).resume(run_id))
        finally:
            sleeper.kill()
            sleeper.wait(10)
        resumed = [e.to_json() for e in Engine(case).resume(run_id)]
        assert resumed[-1]["state"] == "succeeded"
        assert [r.path for r in server.requests] == ["/a", "/b", "/c"]


def test_an_interactive_confirmation_passes_gates(case: Store, credential_id: str) -> None:
    asked: list[tuple[str, str]] = []

    def confirm(step: Any, gate: str, prompt: str) -> bool:
        asked.append((step.id, gate))
        return step.id != "revoke"  # the responder declines the irreversible step

    with http_server() as server:
        events = run(
            case,
            GATED.replace("URL", server.url),
            credential_id,
            approvals=Approvals(confirm=confirm),
        )
        assert server.requests == []
    assert asked == [("ask", "approval"), ("revoke", "irreversible")]
    assert events[-1]["state"] == "waiting"


def test_no_audit_write_no_action(case: Store, credential_id: str) -> None:
    case.conn.execute(
        "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log WHEN NEW.action = 'action.started' "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with http_server() as server:
        with pytest.raises(AuditError, match=r"could not be written.*disk full.*nothing was done"):
            run(case, three_calls(server.url), credential_id)
        assert server.requests == []  # the action never ran
    state = case.conn.execute("SELECT state, attempts FROM runbook_steps WHERE step_id = 'first'")
    assert state.fetchone() == ("pending", 0)
    assert audit.verify(case).ok
