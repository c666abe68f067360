"""Writing one document per observed host (`openapi export`, `graphql export`): where the output
goes (stdout, one file, or a folder of HOST.<suffix> files), which hosts, and safe file names."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import message


def check_destination(case: CaseContext, output: Path | None, *, force: bool) -> None:
    """Refuse, before any work, an output that would replace the case or an existing file."""
    from discovery.case.files import check_folder, check_output

    if output is not None and output.is_dir():
        check_folder(output)
    elif output is not None:
        check_output(output, case.db, force=force)


def choose_hosts(
    wanted: str | None, observed: Sequence[str], output: Path | None, *, what: str
) -> list[str]:
    """The hosts to export: the one asked for, else every observed one; several hosts need a
    folder to go into. ``what`` names one thing exported ("endpoint", "GraphQL operation")."""
    hosts = [wanted.lower()] if wanted else list(observed)
    if not hosts:
        raise click.UsageError(f"no observed {what} in this case: nothing to export")
    if len(hosts) > 1 and (output is None or not output.is_dir()):
        raise click.UsageError(
            f"{len(hosts)} hosts have {what}s ({', '.join(hosts[:5])}"
            f"{', …' if len(hosts) > 5 else ''}): pass --host HOST, or -o FOLDER for one "
            "file per host"
        )
    return hosts


def write_documents(
    case: CaseContext,
    output: Path | None,
    documents: dict[str, str],
    *,
    suffix: str,
    force: bool,
    describe: Callable[[str], str],
) -> None:
    """Each host's document to stdout (one host), a file, or HOST.<suffix> in a folder; files
    private (0600), replaced only with --force. ``describe(host)`` ends each "wrote" line."""
    from discovery.case.files import write_private

    if not documents:
        return
    if output is None:
        sys.stdout.write(next(iter(documents.values())))
        return
    if output.is_dir():
        for host, text in documents.items():
            target = output / f"{file_name(host)}.{suffix}"
            write_private(target, text, case=case.db, force=force)
            message(f"wrote {target}: {describe(host)}")
        return
    host, text = next(iter(documents.items()))
    write_private(output, text, case=case.db, force=force)
    message(f"wrote {output}: {describe(host)}")


def file_name(host: str) -> str:
    """A host as a safe file name (hosts come from traffic: no separators, no dots first)."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in host).lstrip(".")
    return safe or "host"
