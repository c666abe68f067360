"""``report.write``: write the incident report (Markdown and JSON) into a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from discovery.case.files import private_folder, write_private
from discovery.errors import OutputError
from runbooks import report
from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError


def _both() -> list[Literal["md", "json"]]:
    return ["md", "json"]


class ReportArgs(Args):
    directory: str
    name: str | None = None
    formats: list[Literal["md", "json"]] = Field(default_factory=_both)
    force: bool = False  # replace report files of the same name


class ReportWrite(Action[ReportArgs]):
    """Build the report from the case and write one file per format: private files (0600) in
    a private folder (0700, created when missing), never through a symlink, never over the
    case or its companions, replacing an existing report only with ``force``."""

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
            private_folder(folder)
            for fmt in args.formats:
                path = folder / f"{base}.{fmt}"
                body = report.markdown(data) if fmt == "md" else json.dumps(data, indent=2) + "\n"
                write_private(path, body, case=ctx.store.path, force=args.force)
                written.append(str(path))
        except OutputError as exc:
            raise ActionError(f"cannot write the report: {exc}") from None
        return {
            "files": written,
            "audit_head": data["audit"]["head"],
            "findings": len(data["findings"]),
        }


ACTION = ReportWrite()
