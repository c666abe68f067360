"""``command``: argv only (no shell), allowlisted environment, timeout."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError

pytestmark = pytest.mark.integration  # starts processes or servers


def call(store: Store, timeout: float = 10, **args: Any) -> dict[str, Any]:
    action = get("command")
    ctx = ActionContext(store=store, run_id="r", step_id="s", target={}, actor="t", timeout=timeout)
    return action.run(action.parse(args), ctx)


def test_hostile_value_stays_one_argument(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    hostile = f"x; touch {marker} $(touch {marker}) `touch {marker}`"
    out = call(store, argv=[sys.executable, "-c", "import sys; print(sys.argv[1:])", hostile])
    assert out["stdout"].strip() == repr([hostile])
    assert not marker.exists()


def test_only_allowlisted_environment_passes(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IR_TEST_SECRET", "do-not-leak")
    monkeypatch.setenv("IR_TEST_OK", "shared")
    code = (
        "import os; print(os.environ.get('IR_TEST_SECRET'), os.environ.get('IR_TEST_OK'), "
        "os.environ.get('EXTRA'))"
    )
    out = call(
        store, argv=[sys.executable, "-c", code], pass_env=["IR_TEST_OK"], env={"EXTRA": "given"}
    )
    assert out["stdout"].split() == ["None", "shared", "given"]


def test_non_zero_exit_fails(store: Store) -> None:
    with pytest.raises(ActionError, match="exited 3: boom"):
        call(
            store, argv=[sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]
        )


def test_timeout_kills_the_program(store: Store) -> None:
    with pytest.raises(ActionError, match=r"timed out after 0\.5s"):
        call(store, timeout=0.5, argv=[sys.executable, "-c", "import time; time.sleep(30)"])


def test_missing_program_is_an_action_error(store: Store) -> None:
    with pytest.raises(ActionError, match="no-such-program"):
        call(store, argv=["/nonexistent/no-such-program"])
