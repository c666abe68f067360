"""``ir-console endpoints explain HOST METHOD PATH [OPERATION]``: why a request (or an API
operation it carries) has its template and status."""

from __future__ import annotations

import sys

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table
from ir_console.sanitize import clean


@click.command()
@click.argument("host")
@click.argument("method")
@click.argument("path")
@click.argument("operation", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def explain(
    case: CaseContext, host: str, method: str, path: str, operation: tuple[str, ...], as_json: bool
) -> None:
    """Explain segment by segment why PATH on HOST is literal or a parameter, which template it
    takes (documented, pinned or inferred) and why it is documented, shadow or zombie.

    The request need not have been seen: a path you suspect can be checked too. An API
    operation carried by PATH is named after it (``/graphql mutation createUser``): its
    root fields, the fields it selected and why the schema makes it documented, shadow,
    zombie or orphan.
    """
    from discovery.analyse.inventory import explain_request

    path = " ".join([path, *operation])
    if not path.startswith("/"):
        raise click.BadParameter("a path starts with '/'", param_hint="PATH")
    with case.open(create=False) as store:
        result = explain_request(store, host, method, path)
    if as_json:
        emit_json(result)
        return
    out = sys.stdout
    out.write(
        f"{clean(result['method'])} {clean(result['host'])}{clean(result['normalised_path'])}\n"
    )
    if result["normalised_path"] != result["path"]:
        out.write(f"  as sent: {clean(result['path'])}\n")
    out.write(f"template: {clean(result['template'])} ({result['source']})\n")
    if result.get("masked_by"):
        out.write(
            f"masked:   documented {clean(result['masked_by'])} would take this path, but its "
            "value does not look like that parameter's values (a possibly masked route)\n"
        )
    seen = f"seen {result['requests']} times" if result["seen"] else "never seen"
    out.write(f"status:   {result['status']} ({seen}): {clean(result['reason'])}\n")
    if result.get("operation"):
        out.write(f"operation: {clean(result['operation'])} ({clean(result['protocol'] or '-')})\n")
        out.write(f"root fields: {clean(', '.join(result['root_fields']) or '-')}\n")
        out.write(f"fields:   {clean(', '.join(result['fields'][:20]) or '-')}\n")
        return
    out.write(
        f"rules:    merge threshold {result['threshold']}, from {clean(result['rules_file'])}\n\n"
    )
    emit_table(
        ["segment", "template", "kind", "rule", "reason"],
        [
            [d["segment"], d["template"], d["kind"], d["rule"], d["reason"]]
            for d in result["segments"]
        ],
        empty="(the root path has no segments)",
    )
