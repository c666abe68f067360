"""``ir-console credentials find``: was this leaked secret seen? Fingerprinted under the case key,
never echoed, logged or stored."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from discovery.views.leaked import describe, lookup
from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table, message


def _read_secret() -> str:
    """The secret from stdin: piped, read whole; typed at a terminal, read without echo (the
    terminal never shows it, so it is not left on screen or in a recording of the session)."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("secret (not echoed): ", stream=sys.stderr)
    return sys.stdin.read()


@click.command()
@click.option("--stdin", "from_stdin", is_flag=True, help="Read one raw secret from stdin.")
@click.option(
    "--file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file with one raw secret per line (bulk triage of a leak).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def find(case: CaseContext, from_stdin: bool, from_file: Path | None, as_json: bool) -> None:
    """Was a raw secret seen? Looked up by keyed fingerprint; the secret is never shown or kept."""
    if from_stdin == (from_file is not None):
        raise click.UsageError("give exactly one of --stdin or --file FILE")
    with case.open(create=False) as store:
        if from_stdin:
            secret = _read_secret()
            if not secret.strip():
                raise click.UsageError("nothing on stdin: pipe the secret in")
            result = lookup(store, secret)
            del secret
            if as_json:
                emit_json(result)
            else:
                sys.stdout.write(describe(result) + "\n")
            return
        assert from_file is not None
        try:
            lines = from_file.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError as exc:
            raise click.FileError(str(from_file), hint=exc.strerror or str(exc)) from None
        results = []
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            results.append({"line": number, **lookup(store, line)})
        del lines
    if as_json:
        emit_json(results)
        return
    emit_table(
        ["line", "result"],
        [[r["line"], describe(r)] for r in results],
        empty="no secrets in the file",
    )
    seen = sum(1 for r in results if r["found"])
    message(f"{seen} of {len(results)} secrets were seen in this case")
