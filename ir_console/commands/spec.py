"""``ir-console spec import FILE`` and ``spec list``: the API descriptions the inventory is
classified against."""

from __future__ import annotations

from pathlib import Path

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table, message
from ir_console.progress import Steps


@click.group()
def spec() -> None:
    """API descriptions (OpenAPI 3.0/3.1, Swagger 2.0, GraphQL SDL or introspection JSON, gRPC
    descriptors) that say what is documented."""


@spec.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--host",
    help="Document this host, whatever the spec's servers / host say. A GraphQL schema names "
    "no server: give HOST[/PATH] (PATH defaults to /graphql).",
)
@click.option(
    "--no-validate",
    is_flag=True,
    help="Skip openapi-spec-validator (slow on huge specs); the structure ir-console reads is "
    "still checked.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def import_(
    case: CaseContext, file: Path, host: str | None, no_validate: bool, as_json: bool
) -> None:
    """Import FILE (JSON or YAML, local and sibling-file $refs; or a GraphQL schema: SDL in a
    .graphql/.graphqls/.gql file, or an introspection result) and re-classify the whole case.

    A protobuf FileDescriptorSet (protoc --descriptor_set_out, buf build -o) or a captured gRPC
    server reflection response documents gRPC methods (POST /package.Service/Method); it names
    no host, so --host is required.

    A broken spec exits 2 naming the file and the JSON pointer of the problem; nothing changes.
    A spec that validated once is remembered by its content hash and not validated again.
    Validating a large spec and the analysis that follows show their progress on stderr (a
    spinner on a terminal; with --json one JSON event per step and per second).
    """
    from discovery.analyse.specs import import_spec_file
    from discovery.views import queries

    with case.open() as store:
        with Steps(as_json) as steps:  # validating a large spec, then the analysis: seconds
            result = import_spec_file(
                store, file, host=host, validate=not no_validate, progress=steps
            )
        counts = queries.endpoint_counts(store)
    summary = {
        "spec": result.title,
        "openapi_version": result.openapi_version,
        "hosts": result.hosts,
        "operations": result.operations,
        "deprecated": result.deprecated,
        "endpoints": counts,
    }
    if as_json:
        emit_json(summary)
        return
    where = ", ".join(h["host"] + h["base_path"] for h in result.hosts)
    message(
        f"imported {result.title!r} ({result.openapi_version}): {result.operations} operations"
        f" ({result.deprecated} deprecated) on {where}"
    )
    message("endpoints now: " + ", ".join(f"{s} {n}" for s, n in counts.items()))


@spec.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def list_(case: CaseContext, as_json: bool) -> None:
    """The specs in the case, with their hosts and operation counts."""
    from discovery.views import queries

    with case.open(create=False) as store:
        rows = queries.specs(store)
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["title", "version", "openapi", "hosts", "operations", "file"],
        [
            [
                r["title"],
                r["version"] or "-",
                r["openapi_version"],
                ", ".join(h["host"] + h["base_path"] for h in r["hosts"]),
                r["operations"],
                r["path"],
            ]
            for r in rows
        ],
        empty="no spec in this case (ir-console spec import FILE)",
    )
