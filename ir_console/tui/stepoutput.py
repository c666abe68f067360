"""A runbook step's output in a line a responder reads (the walkthrough and the Runs screen),
and the report files a run wrote. Outputs come from actions that talked to providers: every
value is sanitized where it is drawn (``safe``), never parsed as markup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

WIDTH = 160  # characters of a summary before it is cut


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(f"{k}: {_value(v)}" for k, v in list(value.items())[:4])
            + (", …}" if len(value) > 4 else "}")
        )
    if isinstance(value, list | tuple):
        shown = ", ".join(_value(v) for v in value[:4])
        return shown + (f" (+{len(value) - 4})" if len(value) > 4 else "")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def output_summary(output: Mapping[str, Any]) -> str:
    """``key: value`` pairs of an output, the report files first; a dry run's plan text as
    it is; empty for none."""
    if not output:
        return ""
    if set(output) == {"plan"}:
        return str(output["plan"])
    keys = sorted(output, key=lambda k: (k != "files", k))
    text = "  ".join(f"{k}: {_value(output[k])}" for k in keys)
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def report_files(outputs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The files the run's report steps wrote (``report.write``'s ``files``), in order."""
    found: list[str] = []
    for output in outputs:
        files = output.get("files")
        if isinstance(files, list):
            found += [str(f) for f in files if str(f) not in found]
    return found
