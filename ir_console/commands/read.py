"""The read commands: hosts, endpoints, credentials, identities, findings."""

from __future__ import annotations

import click

from discovery.severity import SEVERITIES
from discovery.timeutil import iso, parse_time
from discovery.views import queries
from ir_console.cli import CaseContext, LazyGroup
from ir_console.output import emit_json, emit_table

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")


@click.command()
@json_option
@click.pass_obj
def hosts(case: CaseContext, as_json: bool) -> None:
    """Every host seen, over TLS or not (hosts known only from a TLS SNI included)."""
    with case.open(create=False) as store:
        rows = queries.host_rows(store)
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    emit_table(
        ["host", "tls", "requests", "endpoints", "first seen", "last seen", "spec"],
        [
            [
                r.host,
                "yes" if r.tls else "no",
                r.requests,
                r.endpoints,
                iso(r.first_seen),
                iso(r.last_seen),
                r.spec or "-",
            ]
            for r in rows
        ],
        empty="no hosts in this case yet (ingest a capture first)",
    )


def _statuses(value: str | None) -> list[str] | None:
    if not value:
        return None
    wanted = [s.strip().lower() for s in value.split(",") if s.strip()]
    bad = [s for s in wanted if s not in queries.ENDPOINT_STATUSES]
    if bad:
        raise click.BadParameter(
            f"unknown status {', '.join(bad)}; use {', '.join(queries.ENDPOINT_STATUSES)}",
            param_hint="--status",
        )
    return wanted


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


# Subcommands of `endpoints`, imported only when run.
ENDPOINT_COMMANDS: dict[str, tuple[str, str]] = {
    "explain": (
        "ir_console.commands.explain:explain",
        "Why a request has its template and status, segment by segment.",
    ),
}


@click.group(cls=LazyGroup, lazy=ENDPOINT_COMMANDS, invoke_without_command=True)
@click.option("--status", "status", help="Only these statuses: documented,shadow,zombie,orphan.")
@click.option("--host", help="Only this host.")
@click.option("--since", help="Only endpoints first seen at or after TIME (ISO 8601 or 2h, 3d).")
@json_option
@click.pass_context
def endpoints(
    ctx: click.Context, status: str | None, host: str | None, since: str | None, as_json: bool
) -> None:
    """The API inventory: every (host, method, template) with its classification.

    With --json, an endpoint that is an API operation (a GraphQL operation, a gRPC method)
    also has protocol (graphql|grpc), operation ("mutation createUser"; a gRPC method's path)
    and outcomes: its calls per the protocol's own answer (GraphQL data/errors; gRPC status
    names, {"OK": n, "INTERNAL": n, "DATA_LOSS": n}), beside statuses per HTTP status."""
    if ctx.invoked_subcommand is not None:
        return
    case: CaseContext = ctx.obj
    wanted, after = _statuses(status), _since(since)
    with case.open(create=False) as store:
        rows = queries.endpoint_page(store, statuses=wanted, host=host, since=after).rows
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    emit_table(
        ["status", "host", "method", "template", "requests", "last seen", "credentials"],
        [
            [
                r.status,
                r.host,
                r.method,
                r.template,
                r.requests,
                iso(r.last_seen),
                len(r.credentials),
            ]
            for r in rows
        ],
        empty="no endpoints match",
    )


# Subcommands of `credentials`, imported only when run.
CREDENTIAL_COMMANDS: dict[str, tuple[str, str]] = {
    "find": (
        "ir_console.commands.credentials_find:find",
        "Was a raw secret seen? (--stdin or --file; never echoed or stored)",
    ),
}


@click.group(cls=LazyGroup, lazy=CREDENTIAL_COMMANDS, invoke_without_command=True)
@json_option
@click.pass_context
def credentials(ctx: click.Context, as_json: bool) -> None:
    """Credentials seen in traffic: redacted, never raw."""
    if ctx.invoked_subcommand is not None:
        return
    case: CaseContext = ctx.obj
    with case.open(create=False) as store:
        rows = queries.credential_page(store).rows
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    emit_table(
        ["id", "kind", "redacted", "identity", "requests", "sources", "endpoints", "last seen"],
        [
            [
                r.id,
                r.kind,
                r.redacted,
                r.identity,
                r.requests,
                len(r.sources),
                len(r.endpoints),
                iso(r.last_seen),
            ]
            for r in rows
        ],
        empty="no credentials in this case",
    )


@click.command()
@json_option
@click.pass_obj
def identities(case: CaseContext, as_json: bool) -> None:
    """Non-human identities: registered (with owners) and unregistered."""
    with case.open(create=False) as store:
        rows = queries.identity_page(store).rows
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    emit_table(
        ["identity", "kind", "owner", "registered", "credentials", "requests", "last seen"],
        [
            [
                r.name,
                r.kind or "-",
                r.owner or "-",
                "yes" if r.registered else "NO",
                len(r.credentials),
                r.requests,
                iso(r.last_seen),
            ]
            for r in rows
        ],
        empty="no identities in this case",
    )


# Subcommands of `findings`, imported only when run.
FINDING_COMMANDS: dict[str, tuple[str, str]] = {
    "thresholds": (
        "ir_console.commands.thresholds:thresholds",
        "The rules' thresholds for this case: show, --set NAME=VALUE, --reset NAME.",
    ),
}


@click.group(cls=LazyGroup, lazy=FINDING_COMMANDS, invoke_without_command=True)
@click.option(
    "--severity",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    help="Only this level and above.",
)
@click.option("--rule", help="Only this rule id.")
@json_option
@click.pass_context
def findings(ctx: click.Context, severity: str | None, rule: str | None, as_json: bool) -> None:
    """Findings over the case, most severe first."""
    if ctx.invoked_subcommand is not None:
        return
    case: CaseContext = ctx.obj
    with case.open(create=False) as store:
        if rule is not None and rule not in (known := queries.rule_names(store)):
            from ir_console.sanitize import clean
            from ir_console.suggest import did_you_mean

            click.echo(
                f"ir-console: error: --rule {clean(rule)!r}: no such rule"
                f"{did_you_mean(rule, known)}; the rules: {', '.join(known)}",
                err=True,
            )
            ctx.exit(2)
        rows = queries.finding_page(
            store, severity=severity.lower() if severity else None, rule=rule
        ).rows
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    emit_table(
        ["severity", "rule", "subject", "title", "last seen"],
        [
            [r.severity, r.rule, f"{r.subject_type} {r.subject_id}", r.title, iso(r.last_seen)]
            for r in rows
        ],
        empty="no findings",
    )
