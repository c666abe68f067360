"""``ir-console grpc export``: the observed gRPC methods as one JSON list."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import message


@click.group()
def grpc() -> None:
    """gRPC methods observed (HTTP/2 and gRPC-Web calls)."""


@grpc.command("export")
@click.option("--host", help="Only this host's methods.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write to this file. Default: stdout."
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists already.")
@click.pass_obj
def export(case: CaseContext, host: str | None, output: Path | None, force: bool) -> None:
    """A JSON list, one entry per method: host, path (/package.Service/Method), service,
    method, status (documented|shadow|zombie against the descriptors imported with `spec
    import`), requests, first_seen, last_seen, outcomes ({"OK": n, "PERMISSION_DENIED": n}),
    protocols (grpc, grpc-web...), metadata_credentials ([{kind, name}]: no value), spec,
    deprecated. Files are created private (0600)."""
    from discovery.case.files import check_output, write_private
    from discovery.views.grpc_export import dumps_methods, grpc_methods

    if output is not None:
        check_output(output, case.db, force=force)
    with case.open(create=False) as store:
        rows = grpc_methods(store, host)
    if output is None:
        sys.stdout.write(dumps_methods(rows))
        return
    write_private(output, dumps_methods(rows), case=case.db, force=force)
    message(f"wrote {output}: {len(rows)} gRPC methods")
