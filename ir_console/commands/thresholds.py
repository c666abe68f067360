"""``ir-console findings thresholds``: the limits the findings rules use, per case."""

from __future__ import annotations

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table, message


def _assignment(value: str) -> tuple[str, float]:
    name, sep, number = value.partition("=")
    if not sep:
        raise click.BadParameter(f"{value!r}: expected NAME=VALUE", param_hint="--set")
    try:
        parsed = float(number)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: {number!r} is not a number", param_hint="--set"
        ) from None
    if not parsed > 0 or parsed == float("inf"):
        raise click.BadParameter(f"{value!r}: must be a positive number", param_hint="--set")
    return name.strip(), parsed


@click.command()
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a threshold for this case (repeatable); findings are recomputed.",
)
@click.option(
    "--reset", "resets", multiple=True, metavar="NAME", help="Back to the default (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def thresholds(
    case: CaseContext, assignments: tuple[str, ...], resets: tuple[str, ...], as_json: bool
) -> None:
    """Show the findings thresholds (value, default, where the value comes from), or change
    them for this case with --set / --reset. A change is audited and recomputes the findings."""
    from discovery.analyse.findings import (
        DEFAULT_THRESHOLDS,
        case_thresholds,
        load_rules,
        set_thresholds,
    )

    load_rules()
    changes = dict(_assignment(a) for a in assignments)
    unknown = sorted((set(changes) | set(resets)) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise click.BadParameter(
            f"unknown threshold {unknown[0]!r}; known: {', '.join(sorted(DEFAULT_THRESHOLDS))}"
        )
    with case.open(create=bool(changes or resets)) as store:
        own = case_thresholds(store)
        if changes or resets:
            own = {k: v for k, v in (own | changes).items() if k not in resets}
            count = set_thresholds(store, own, "cli")
            message(f"thresholds changed; findings recomputed: {count}")
    rows = [
        {
            "name": name,
            "value": own.get(name, default),
            "default": default,
            "source": "case" if name in own else "default",
        }
        for name, default in sorted(DEFAULT_THRESHOLDS.items())
    ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["name", "value", "default", "source"],
        [[r["name"], f"{r['value']:g}", f"{r['default']:g}", r["source"]] for r in rows],
    )
