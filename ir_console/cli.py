"""The ``ir-console`` command line: a click group whose commands are imported only when run.

Each command lives in ``ir_console/commands/<name>.py``; ``COMMANDS`` maps its name to
``module:attribute``, so ``ir-console --help`` and the read commands never import scapy,
mitmproxy, textual or networkx. Errors from ``discovery`` and ``runbooks`` become one line on
stderr and the exit code of docs/cli.md (0 done, 1 failed, 2 bad usage/input, 3 gate).
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from ir_console import __version__

# name -> ("module:attribute", one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "hosts": ("ir_console.commands.read:hosts", "Hosts seen, over TLS or not, with counts."),
    "endpoints": (
        "ir_console.commands.read:endpoints",
        "The API inventory and its classification.",
    ),
    "credentials": ("ir_console.commands.read:credentials", "Credentials seen (redacted)."),
    "identities": (
        "ir_console.commands.read:identities",
        "Non-human identities, registered or not.",
    ),
    "findings": ("ir_console.commands.read:findings", "Findings, most severe first."),
    "exchange": (
        "ir_console.commands.exchange:exchange",
        "One exchange in full: request, response, where it went, evidence and how to extract it.",
    ),
    "search": (
        "ir_console.commands.search:search",
        "Search hosts, endpoints, identities, credentials and findings for a text.",
    ),
    "capture": ("ir_console.commands.capture:capture", "Live capture: sniffer or proxy."),
    "case": ("ir_console.commands.case:case", "Whole cases: merge many sensors' cases into one."),
    "ingest": (
        "ir_console.commands.ingest:ingest",
        "Ingest captures (pcap, pcapng), HAR, mitmproxy flows or Zeek logs.",
    ),
    "tui": ("ir_console.commands.tui:tui", "Open the console on the case."),
    "graph": (
        "ir_console.commands.graph:graph",
        "Identity-to-API graph: blast radius, exposure, paths, exports.",
    ),
    "demo": ("ir_console.commands.demo:demo", "Build the bundled demo case and open the console."),
    "inventory": (
        "ir_console.commands.inventory:inventory",
        "The identity register: import a CSV or YAML of identities and owners.",
    ),
    "block": ("ir_console.commands.block:block", "Block a credential or endpoint at the proxy."),
    "unblock": ("ir_console.commands.block:unblock", "Remove a block from the proxy's blocklist."),
    "runbook": (
        "ir_console.commands.runbook:runbook",
        "Containment runbooks: list, show, validate, run, resume, status, log.",
    ),
    "audit": ("ir_console.commands.audit:audit", "Verify the keyed, anchored audit log."),
    "spec": (
        "ir_console.commands.spec:spec",
        "API descriptions (OpenAPI/Swagger, GraphQL schemas, gRPC descriptors): import and "
        "list what is documented.",
    ),
    "openapi": (
        "ir_console.commands.openapi:openapi",
        "Export observed traffic as OpenAPI 3.1, per host.",
    ),
    "graphql": (
        "ir_console.commands.graphql:graphql",
        "Export observed GraphQL operations as SDL, per host.",
    ),
    "grpc": (
        "ir_console.commands.grpc:grpc",
        "Export the observed gRPC methods as a JSON list.",
    ),
    "report": (
        "ir_console.commands.report:report",
        "The incident report: timeline, findings, actions, audit head.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs.

    ``lazy`` maps a name to ("module:attribute", one-line help); the help is shown by ``--help``
    without importing anything.
    """

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy if lazy is not None else {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.lazy) | set(self.commands))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, and an unknown command is answered with the closest known one."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            if not args or "No such command" not in exc.message:
                raise
            from ir_console.suggest import did_you_mean

            hint = did_you_mean(args[0], self.list_commands(ctx))
            raise click.UsageError(exc.message.rstrip(".") + hint, ctx=exc.ctx) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in self.lazy:
            return None
        module_name, attr = self.lazy[cmd_name][0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


class CaseContext:
    """What every command gets: the case path (opened on demand)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def open(self, *, create: bool = True) -> Any:
        """Open the case; a reader (``create=False``) is told on stderr when the analysis is
        behind the data (an interrupted ingest, or a capture still writing)."""
        from discovery.case.store import Store

        store = Store.open(self.db, create=create)
        if not create:
            from discovery.case.pending import pending

            if pending(store):
                sys.stderr.write(
                    "ir-console: note: the analysis of this case is not up to date (an ingest was "
                    "interrupted, or a capture is still writing); ingesting again re-runs it\n"
                )
        return store


@click.group(cls=LazyGroup, lazy=COMMANDS, invoke_without_command=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IR_CONSOLE_DB",
    default="ir-console.db",
    show_default=True,
    help="The case file (one SQLite file per investigation). Env: IR_CONSOLE_DB.",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(__version__, prog_name="ir-console")
@click.pass_context
def cli(ctx: click.Context, db: Path, verbose: int) -> None:
    """ir-console: from packets to a revoked key, in one terminal.

    Finds the API endpoints nobody documented and the non-human identities calling them, from
    captures, proxies and logs; walks a responder through containment runbooks.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    ctx.obj = CaseContext(db)
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            ctx.invoke(cli.get_command(ctx, "tui"))  # type: ignore[arg-type]
        else:
            click.echo(ctx.get_help())


def main() -> None:
    """Entry point: run the group, mapping our errors to one line and an exit code."""
    try:
        code = cli.main(standalone_mode=False, prog_name="ir-console")
        if isinstance(code, int) and code:  # ctx.exit(N) returns N when not standalone
            sys.exit(code)
    except click.exceptions.Abort:
        sys.stderr.write("ir-console: aborted\n")
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("ir-console: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        code = _exit_code_for(exc)
        if code is None:
            raise
        from ir_console.sanitize import clean

        sys.stderr.write(f"ir-console: error: {clean(exc)}\n")
        sys.exit(code)


def _exit_code_for(exc: BaseException) -> int | None:
    """The exit code of one of our own errors, or None for anything unexpected."""
    discovery_errors = sys.modules.get("discovery.errors")
    runbook_errors = sys.modules.get("runbooks.errors")
    if discovery_errors and isinstance(exc, discovery_errors.DiscoveryError):
        return int(exc.exit_code)
    if runbook_errors and isinstance(exc, runbook_errors.RunbookError):
        return int(exc.exit_code)
    return None
