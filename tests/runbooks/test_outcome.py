"""A run's end says what was done: succeeded only when every containment the runbook requires
took effect; partial or unverified otherwise, with the reason in the outcome."""

from __future__ import annotations

from typing import Any

import pytest

from runbooks.model import Runbook
from runbooks.outcome import conclude, containment
from runbooks.states import RunState

RUNBOOK = Runbook.model_validate(
    {
        "id": "t",
        "title": "t",
        "applies_to": "credential",
        "requires": ["blocked", "revoked", "verified"],
        "steps": [
            {"id": "block", "action": "proxy.block_credential", "with": {"credential": "c"}},
            {"id": "revoke", "action": "command", "with": {"argv": ["true"]}},
            {"id": "by-hand", "manual": "revoke it", "contains": "revoked"},
            {"id": "verify", "action": "command", "with": {"argv": ["true"]}},
        ],
    }
)
BLOCKED = containment("blocked", True, "blocked at a running enforcing proxy")
UNENFORCED = containment("blocked", False, "on the blocklist, NOT ENFORCED")
REVOKED = containment("revoked", True, "revoked at GitHub")
VERIFIED = containment("verified", True, "verified: no use since")
UNSEEN = containment("verified", False, "not verified: no traffic observed")


def end(
    outputs: dict[str, dict[str, Any]],
    skipped: dict[str, str] | None = None,
    by_hand: bool = False,
) -> tuple[RunState, str]:
    states = {s: "done" if s in outputs else "skipped" for s in ("block", "revoke", "verify")}
    states["by-hand"] = "done" if by_hand else "skipped"
    if by_hand:
        outputs = {**outputs, "by-hand": {"confirmed_by": "alice"}}
    result = conclude(RUNBOOK, states, outputs, skipped or {})
    return result.state, result.outcome


def test_everything_applied_succeeds() -> None:
    state, outcome = end({"block": BLOCKED, "revoke": REVOKED, "verify": VERIFIED})
    assert state == RunState.SUCCEEDED
    assert outcome == (
        "succeeded: blocked at a running enforcing proxy; revoked at GitHub; verified: no use since"
    )


def test_a_person_confirming_the_manual_revocation_counts_by_name() -> None:
    state, outcome = end({"block": BLOCKED, "verify": VERIFIED}, by_hand=True)
    assert state == RunState.SUCCEEDED and "confirmed by alice" in outcome


@pytest.mark.parametrize(
    ("outputs", "skipped", "state", "said"),
    [
        # revoked nowhere: no provider step applied and nobody confirmed it by hand
        (
            {"block": BLOCKED, "verify": VERIFIED},
            {},
            RunState.PARTIAL,
            "not revoked anywhere: manual step pending",
        ),
        # the block is on the list, but no enforcing proxy applied it
        (
            {"block": UNENFORCED, "revoke": REVOKED, "verify": VERIFIED},
            {},
            RunState.PARTIAL,
            "NOT ENFORCED",
        ),
        # the provider step failed and the operator skipped it
        (
            {"block": BLOCKED, "verify": VERIFIED},
            {"revoke": "github: 500"},
            RunState.PARTIAL,
            "step 'revoke' skipped after failing (github: 500)",
        ),
        # everything applied, but nothing was seen to prove it
        (
            {"block": BLOCKED, "revoke": REVOKED, "verify": UNSEEN},
            {},
            RunState.UNVERIFIED,
            "not verified: no traffic observed",
        ),
        # no verification ran at all
        (
            {"block": BLOCKED, "revoke": REVOKED},
            {},
            RunState.UNVERIFIED,
            "not verified: no verification step ran",
        ),
    ],
)
def test_never_succeeded_when_containment_is_partial(
    outputs: dict[str, dict[str, Any]],
    skipped: dict[str, str],
    state: RunState,
    said: str,
) -> None:
    got, outcome = end(outputs, skipped)
    assert got == state and said in outcome
    assert outcome.startswith(f"{state.value}: ")


def test_a_runbook_without_requirements_still_reports_an_unenforced_block() -> None:
    loose = RUNBOOK.model_copy(update={"requires": []})
    result = conclude(loose, {"block": "done"}, {"block": UNENFORCED}, {})
    assert result.state == RunState.PARTIAL


def test_contains_is_for_manual_steps_only() -> None:
    with pytest.raises(ValueError, match="'contains' applies only to manual steps"):
        Runbook.model_validate(
            {
                "id": "t",
                "title": "t",
                "applies_to": "credential",
                "steps": [
                    {
                        "id": "a",
                        "action": "command",
                        "with": {"argv": ["true"]},
                        "contains": "revoked",
                    }
                ],
            }
        )
