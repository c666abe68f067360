"""``report.write``: write the incident report (Markdown and JSON) into a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from runbooks import report
from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError


def _both() -> list[Literal["md", "json"]]:
    return ["md", "json"]


class ReportArgs(Args):
    directory: str
    name: str | None = None
    formats: list[Literal["md", "json"]] = Field(default_factory=_both)


class ReportWrite(Action[ReportArgs]):
    """Build the report from the case and write one file per format."""

    name = "report.write"
    args = ReportArgs

    def plan(self, args: ReportArgs, ctx: ActionContext) -> str:
        return f"write the incident report ({', '.join(args.formats)}) into {args.directory}"

    def run(self, args: ReportArgs, ctx: ActionContext) -> dict[str, Any]:
        base = args.name or f"report-{ctx.run_id}"
        if "/" in base or base.startswith("."):
            raise ActionError(f"report name {base!r} must be a plain file name")
        data = report.build(ctx.store)
        folder = Path(args.directory)
        written = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for fmt in args.formats:
                path = folder / f"{base}.{fmt}"
                body = report.markdown(data) if fmt == "md" else json.dumps(data, indent=2) + "\n"
                path.write_text(body, encoding="utf-8")
                written.append(str(path))
        except OSError as exc:
            raise ActionError(f"{folder}: cannot write the report: {exc.strerror or exc}") from None
        return {
            "files": written,
            "audit_head": data["audit"]["head"],
            "findings": len(data["findings"]),
        }


ACTION = ReportWrite()
