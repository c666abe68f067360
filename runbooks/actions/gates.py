"""The ``manual`` and ``approval`` step kinds as actions: they only give plan texts.

The engine itself stops at these steps; a responder's confirmation or approval is what passes them.
"""

from __future__ import annotations

from typing import Any

from runbooks.actions.base import Action, ActionContext, Args


class ManualArgs(Args):
    instructions: str


class ApprovalArgs(Args):
    prompt: str


class Manual(Action[ManualArgs]):
    """Instructions a responder carries out and confirms."""

    name = "manual"
    args = ManualArgs

    def plan(self, args: ManualArgs, ctx: ActionContext) -> str:
        return f"manual: the responder confirms: {args.instructions.strip()}"

    def run(self, args: ManualArgs, ctx: ActionContext) -> dict[str, Any]:
        return {"instructions": args.instructions}


class Approval(Action[ApprovalArgs]):
    """A gate: the run goes on only when someone approves."""

    name = "approval"
    args = ApprovalArgs

    def plan(self, args: ApprovalArgs, ctx: ActionContext) -> str:
        return f"approval: {args.prompt.strip()}"

    def run(self, args: ApprovalArgs, ctx: ActionContext) -> dict[str, Any]:
        return {"prompt": args.prompt}


MANUAL = Manual()
APPROVAL = Approval()
