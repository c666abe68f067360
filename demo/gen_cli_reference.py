#!/usr/bin/env python3
"""Generate docs/cli.md, the CLI reference, from the click commands themselves.

    .venv/bin/python demo/gen_cli_reference.py            # rewrite docs/cli.md
    .venv/bin/python demo/gen_cli_reference.py --check    # exit 1 when docs/cli.md is stale

tests/test_cli_reference.py runs the check, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "cli.md"
WIDTH = 100

HEADER = """# CLI reference

Generated from the click commands by `demo/gen_cli_reference.py`; do not edit by hand
(`tests/test_cli_reference.py` fails when this file and the code disagree).

Every command takes the global options of `ir-console` (`--db PATH`, `-v`) before its name.
Exit codes: 0 done, 1 failed, 2 bad usage or bad input, 3 a runbook stopped at an approval gate.
`--json` prints one JSON document on stdout (`runbook run --json`: JSON Lines); messages and
progress go to stderr.
"""


def walk(
    command: click.Command, path: list[str], parent: click.Context | None
) -> Iterator[tuple[list[str], str]]:
    """Yield (command path, help text) for a command and, depth first, its subcommands."""
    ctx = click.Context(
        command, info_name=path[-1], parent=parent, max_content_width=WIDTH, terminal_width=WIDTH
    )
    yield path, command.get_help(ctx)
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, [*path, name], ctx)


def render() -> str:
    """The whole reference as Markdown."""
    sys.path.insert(0, str(ROOT))
    from ir_console.cli import cli

    sections = [HEADER]
    entries = list(walk(cli, ["ir-console"], None))
    sections.append(
        "## Commands\n\n"
        + "\n".join(f"- [`{' '.join(p)}`](#{'-'.join(p)})" for p, _ in entries[1:])
        + "\n"
    )
    for path, text in entries:
        title = " ".join(path)
        anchor = "-".join(path)
        body = "\n".join(line.rstrip() for line in text.splitlines())
        sections.append(f'<a id="{anchor}"></a>\n\n## `{title}`\n\n```text\n{body}\n```\n')
    return "\n".join(sections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with docs/cli.md instead of writing it"
    )
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run demo/gen_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
