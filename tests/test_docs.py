"""The reference docs cover what the code has: every findings rule, every runbook field and action."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from ir_console.cli import cli

DOCS = Path(__file__).resolve().parent.parent / "docs"


def headings(text: str) -> set[str]:
    """Every `name` in a ``### `name` `` heading (several per heading allowed)."""
    found: set[str] = set()
    for line in text.splitlines():
        if line.startswith("### "):
            found.update(re.findall(r"`([^`]+)`", line))
    return found


def test_every_findings_rule_and_threshold_is_documented() -> None:
    from discovery.analyse.findings import DEFAULT_THRESHOLDS, load_rules

    text = (DOCS / "findings.md").read_text()
    rules = set(load_rules())
    assert rules, "no rules registered"
    missing = rules - headings(text)
    assert not missing, f"rules without a section in docs/findings.md: {sorted(missing)}"
    for name in DEFAULT_THRESHOLDS:
        assert f"`{name}`" in text, f"threshold {name} is not named in docs/findings.md"


def test_every_runbook_action_and_argument_is_documented() -> None:
    from runbooks.actions import ACTIONS, get

    text = (DOCS / "runbooks.md").read_text()
    documented = headings(text)
    for name in ACTIONS:
        assert name in documented, f"action {name} has no section in docs/runbooks.md"
        for argument in get(name).args.model_fields:
            assert f"`{argument}`" in text, f"{name}: argument {argument} is not documented"


def test_every_runbook_field_is_documented() -> None:
    from runbooks.model import Input, Retry, Runbook, Step

    text = (DOCS / "runbooks.md").read_text()
    for model in (Runbook, Step, Input, Retry):
        for name, info in model.model_fields.items():
            field = info.alias or name
            assert re.search(rf"`{re.escape(field)}(`|:)", text), (
                f"{model.__name__}.{field} is not documented in docs/runbooks.md"
            )


def test_runbook_examples_validate(tmp_path: Path) -> None:
    text = (DOCS / "runbooks.md").read_text()
    examples = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if b.startswith("id:")]
    assert examples
    for i, body in enumerate(examples):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(body)
        result = CliRunner().invoke(cli, ["runbook", "validate", str(path)])
        assert result.exit_code == 0, result.output
