"""What a run that reached its end actually did, and the state that says so.

Actions that contain something say so in their output under ``containment``: a kind
(``blocked``, ``revoked``, ``verified``), whether it really took effect (``done``: a block with
no enforcing proxy running did not; a verification that saw no traffic did not) and a sentence.
A manual step that declares ``contains`` achieves its kind when a person confirms it.

A run ends ``succeeded`` only when no step was skipped after failing, every containment reported
took effect and every kind the runbook ``requires`` was achieved; ``unverified`` when the only
thing missing is the verification, which observed no traffic; ``partial`` otherwise. The outcome
names what was done and what was not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbooks.model import Runbook
from runbooks.states import RunState, StepState

CONTAINMENT = "containment"
_MISSING = {
    "blocked": "not blocked anywhere",
    "revoked": "not revoked anywhere: manual step pending (revoke it at its issuer)",
    "verified": "not verified: no verification step ran",
}


def containment(kind: str, done: bool, text: str) -> dict[str, Any]:
    """The ``containment`` entry of an action's output."""
    return {CONTAINMENT: {"kind": kind, "done": done, "text": text}}


@dataclass(frozen=True)
class Conclusion:
    state: RunState
    outcome: str


def conclude(
    runbook: Runbook,
    states: Mapping[str, str],
    outputs: Mapping[str, Mapping[str, Any]],
    skipped_after_failure: Mapping[str, str],
) -> Conclusion:
    """The final state and outcome of a run whose steps all ended (done or skipped).

    ``skipped_after_failure``: step id -> its error; a confirmed manual step's output names
    who confirmed it (``confirmed_by``)."""
    said: list[str] = []
    achieved: set[str] = set()
    short: list[str] = []  # containment reported but not in effect
    for step in runbook.steps:
        if states.get(step.id) != StepState.DONE:
            continue
        if step.contains is not None:
            who = outputs.get(step.id, {}).get("confirmed_by") or "a person"
            said.append(f"{step.title or step.id}: confirmed by {who}")
            achieved.add(step.contains)
            continue
        fact = outputs.get(step.id, {}).get(CONTAINMENT)
        if not isinstance(fact, Mapping):
            continue
        text = str(fact.get("text") or step.id)
        said.append(text)
        if fact.get("done") is True:
            achieved.add(str(fact.get("kind")))
        else:
            short.append(str(fact.get("kind")))
    for step_id, error in skipped_after_failure.items():
        said.append(f"step {step_id!r} skipped after failing ({error})")
    missing = [kind for kind in runbook.requires if kind not in achieved]
    for kind in missing:
        if kind not in short:
            said.append(_MISSING.get(kind, f"not {kind}"))
    unfinished = set(missing) | set(short)
    if skipped_after_failure or unfinished - {"verified"}:
        state = RunState.PARTIAL
    elif unfinished:
        state = RunState.UNVERIFIED
    else:
        state = RunState.SUCCEEDED
    if not said:
        said.append("all steps done")
    return Conclusion(state, f"{state.value}: " + "; ".join(said))
