"""``ir-console graph``: the identity-to-API graph — exports and analyses.

Every analysis is ``discovery.views.graph.answers`` (what the console and the runbooks call too);
networkx is imported inside the commands, never at module load, so ``ir-console --help`` stays
fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_table, message
from ir_console.sanitize import clean

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
FORMATS = ("graphml", "gexf", "json", "dot", "opengraph")


@contextmanager
def _building() -> Iterator[None]:
    """A spinner on stderr while the graph is built (nothing when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status("building the graph from the case…"):
        yield


def _subjects(store: Any, texts: tuple[str, ...]) -> list[Any]:
    """Each text resolved to one subject of the case (``SubjectNotFound``, exit 2, otherwise)."""
    from discovery.views.subjects import resolve_subject

    return [resolve_subject(store, text) for text in texts]


@click.group()
def graph() -> None:
    """The identity-to-API graph: identity -> credential -> endpoint -> service, client -> credential.

    SUBJECT is a credential id (c-…), an identity (id or name), "HOST METHOD TEMPLATE", a host or a
    client address; prefix it (credential:, identity:, endpoint:, host:, client:) when ambiguous.
    """


@graph.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="graphml, gexf (Gephi), json (node-link), dot (Graphviz), opengraph (BloodHound).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (default: stdout).",
)
@click.option(
    "--schema",
    "schema_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With opengraph: also write the OpenGraph extension schema to FILE.",
)
@click.option("--force", is_flag=True, help="Replace output files that exist already.")
@click.pass_obj
def export_cmd(
    case: CaseContext, fmt: str, output: Path | None, schema_out: Path | None, force: bool
) -> None:
    """Export the whole graph (no raw secret: credentials are redacted).

    Files are created private (0600); an existing file is replaced only with --force, and
    never the case, its key or its other companion files."""
    import json

    from discovery.case.files import check_output, write_private
    from discovery.views.graph.build import build_graph
    from discovery.views.graph.export import export

    if schema_out is not None and fmt != "opengraph":
        raise click.UsageError("--schema goes with --format opengraph")
    for target in (output, schema_out):
        if target is not None:  # before the work: a refused path is told at once
            check_output(target, case.db, force=force)
    with case.open(create=False) as store, _building():
        graph_ = build_graph(store)
    data = export(graph_, fmt)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_private(output, data, case=case.db, force=force)
        message(
            f"wrote {graph_.number_of_nodes()} nodes and {graph_.number_of_edges()} edges "
            f"to {output} ({fmt})"
        )
    if schema_out is not None:
        from discovery.views.graph.opengraph import extension_schema

        schema = json.dumps(extension_schema(), indent=2) + "\n"
        write_private(schema_out, schema, case=case.db, force=force)
        message(f"wrote the OpenGraph extension schema to {schema_out}")


def _endpoint_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            r["status"],
            r["host"],
            r["method"],
            r["template"],
            r["requests"],
            ",".join(r["sensitive"]) or "-",
            "yes" if r["privileged"] else "-",
            "BLOCKED" if r["blocked"] else "",
        ]
        for r in rows
    ]


ENDPOINT_HEADERS = [
    "status",
    "host",
    "method",
    "template",
    "requests",
    "sensitive",
    "privileged",
    "blocked",
]


@graph.command("blast-radius")
@click.argument("subject")
@json_option
@click.pass_obj
def blast_radius(case: CaseContext, subject: str, as_json: bool) -> None:
    """What SUBJECT (a credential, identity or client) reaches, and what else its clients hold."""
    from discovery.views.graph import answers

    with case.open(create=False) as store:
        (found,) = _subjects(store, (subject,))
        with _building():
            result = answers.blast_radius(store, found)
    if as_json:
        emit_json(result)
        return
    s = result["summary"]
    message(
        f"{result['subject']['type']} {clean(result['subject']['label'])}: "
        f"{s['endpoints']} endpoints on {s['services']} services "
        f"({s['shadow']} shadow, {s['zombie']} zombie, {s['privileged']} privileged); "
        f"sensitive data: {', '.join(result['sensitive_kinds']) or 'none'}; "
        f"{s['clients']} clients; {s['co_credentials']} other credentials from those clients"
    )
    emit_table(ENDPOINT_HEADERS, _endpoint_rows(result["endpoints"]), empty="reaches no endpoint")
    if result["co_credentials"]:
        message("other credentials seen from the same clients:")
        emit_table(
            ["credential", "kind", "redacted", "identity", "clients"],
            [
                [c["id"], c["kind"], c["redacted"], c["identity"], ",".join(c["clients"])]
                for c in result["co_credentials"]
            ],
        )


@graph.command("exposure")
@click.argument("subject")
@json_option
@click.pass_obj
def exposure(case: CaseContext, subject: str, as_json: bool) -> None:
    """Every identity, credential and client that reached SUBJECT (an endpoint or a host)."""
    from discovery.views.graph import answers

    with case.open(create=False) as store:
        (found,) = _subjects(store, (subject,))
        with _building():
            result = answers.exposure(store, found)
    if as_json:
        emit_json(result)
        return
    s = result["summary"]
    message(
        f"{result['subject']['type']} {clean(result['subject']['label'])}: reached by "
        f"{s['credentials']} credentials ({s['unblocked_credentials']} not blocked) of "
        f"{s['identities']} identities from {s['clients']} clients"
    )
    emit_table(
        ["credential", "kind", "redacted", "identity", "calls", "blocked"],
        [
            [
                c["id"],
                c["kind"],
                c["redacted"],
                c["identity"],
                c["calls"],
                "BLOCKED" if c["blocked"] else "",
            ]
            for c in result["credentials"]
        ],
        empty="no credential reached it",
    )


@graph.command("paths")
@click.argument("subject")
@click.option("--to", "target", help="Only paths to this endpoint or host.")
@click.option(
    "--max",
    "max_paths",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="At most this many paths per target.",
)
@json_option
@click.pass_obj
def paths(
    case: CaseContext, subject: str, target: str | None, max_paths: int, as_json: bool
) -> None:
    """Paths from SUBJECT (identity, credential, client) to sensitive or privileged endpoints."""
    from discovery.views.graph import answers

    with case.open(create=False) as store:
        found = _subjects(store, (subject,) if target is None else (subject, target))
        with _building():
            result = answers.paths(store, found[0], found[1] if target else None, max_paths)
    if as_json:
        emit_json(result)
        return
    if not result:
        message(
            "no path to a sensitive or privileged endpoint"
            if target is None
            else "no path to that target"
        )
        return
    for item in result:
        sys.stdout.write(clean(item["target"]["label"]) + "\n")
        if item["why"]:
            sys.stdout.write("  why: " + clean("; ".join(item["why"])) + "\n")
        for path in item["paths"]:
            hops = [clean(path["nodes"][0]["label"], limit=60)]
            for kind, hop in zip(path["edges"], path["nodes"][1:], strict=True):
                hops.append(f"-{kind}-> {clean(hop['label'], limit=60)}")
            sys.stdout.write("  " + " ".join(hops) + "\n")


@graph.command("choke-points")
@click.option("--top", type=click.IntRange(1, 10_000), default=10, show_default=True)
@json_option
@click.pass_obj
def choke_points(case: CaseContext, top: int, as_json: bool) -> None:
    """Credentials and clients whose removal cuts the most reach to endpoints."""
    from discovery.views.graph import answers

    with case.open(create=False) as store, _building():
        result = answers.choke_points(store, top)
    if as_json:
        emit_json(result)
        return
    emit_table(
        ["type", "id", "label", "cut reach", "cut sensitive", "only caller of"],
        [
            [
                r["type"],
                r["id"],
                r["label"],
                r["cut_pairs"],
                r["cut_sensitive"],
                len(r["exclusive"]),
            ]
            for r in result
        ],
        empty="nothing reaches any endpoint",
    )


@graph.command("what-if")
@click.argument("subjects", nargs=-1, required=True)
@json_option
@click.pass_obj
def what_if(case: CaseContext, subjects: tuple[str, ...], as_json: bool) -> None:
    """Contain SUBJECTS (credentials; an identity means all it holds; clients) and show what is
    still reached."""
    from discovery.views.graph import answers

    with case.open(create=False) as store:
        found = _subjects(store, subjects)
        with _building():
            result = answers.what_if(store, found)
    if as_json:
        emit_json(result)
        return
    s = result["summary"]
    message(
        f"removing {s['credentials_removed']} credentials: {s['endpoints_affected']} endpoints "
        f"affected, {s['endpoints_unreached']} no longer reached by anyone"
    )
    emit_table(
        ["identity or client", "before", "after", "lost"],
        [
            [r["label"], r["before"], r["after"], len(r["lost"])]
            for r in result["identities"] + result["clients"]
        ],
    )
    emit_table(
        ["endpoint", "credentials before", "after", "unreached"],
        [
            [
                e["id"],
                e["exposure_before"]["credential"],
                e["exposure_after"]["credential"],
                "yes" if e["unreached"] else "",
            ]
            for e in result["endpoints"]
        ],
    )
