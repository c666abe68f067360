"""``ir-console capture proxy``: run mitmproxy in-process with the ir-console addon.

Every flow goes into the case; with ``--enforce`` the case's blocklist is enforced (403), and
changes made meanwhile by ``ir-console block`` or a runbook apply within a second.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from discovery.errors import CaptureError
from ir_console.cli import CaseContext
from ir_console.output import message

DEFAULT_LISTEN = "127.0.0.1:8080"
MODES = ("regular", "reverse:URL", "upstream:URL")


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` or ``PORT`` -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "", value
    host = host.strip("[]")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--listen")
    return host, int(port)


def check_mode(value: str) -> str:
    """Accept ``regular``, ``reverse:URL`` and ``upstream:URL`` (URLs checked by mitmproxy)."""
    from mitmproxy.proxy import mode_specs

    kind = value.split(":", 1)[0]
    if kind not in ("regular", "reverse", "upstream"):
        raise click.BadParameter(f"{value!r}: use one of {', '.join(MODES)}", param_hint="--mode")
    try:
        mode_specs.ProxyMode.parse(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}", param_hint="--mode") from None
    return value


def trust_instructions(ca_cert: Path) -> str:
    """How a client trusts mitmproxy's CA (needed to see inside HTTPS)."""
    return "\n".join(
        [
            f"mitmproxy CA certificate: {ca_cert}",
            "  clients must trust it to be seen inside HTTPS, e.g.:",
            f"    curl --cacert {ca_cert} …",
            f"    SSL_CERT_FILE={ca_cert} REQUESTS_CA_BUNDLE={ca_cert} python …",
            f"    NODE_EXTRA_CA_CERTS={ca_cert} node …",
            f"    system-wide (Debian/Ubuntu): cp {ca_cert} "
            "/usr/local/share/ca-certificates/mitmproxy.crt && update-ca-certificates",
            "    or browse http://mitm.it through the proxy",
            "  clients that do not trust it are recorded as opaque TLS (SNI only).",
        ]
    )


async def _serve(
    case_path: Path,
    host: str,
    port: int,
    mode: str,
    enforce: bool,
    confdir: Path,
    ssl_insecure: bool,
    duration: float | None,
    addon_options: dict[str, object],
) -> None:
    from mitmproxy import exceptions, options
    from mitmproxy.tools.dump import DumpMaster

    from discovery.proxy.addon import IrConsole

    opts = options.Options(
        listen_host=host,
        listen_port=port,
        mode=[mode],
        confdir=str(confdir),
        ssl_insecure=ssl_insecure,
    )
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    # mitmproxy's own log ("listening at …", errors) and the addon's, on stderr
    for name in ("mitmproxy", "discovery.proxy"):
        logging.getLogger(name).setLevel(logging.INFO)
    master.addons.add(IrConsole())  # type: ignore[no-untyped-call]
    try:
        master.options.update(irc_db=str(case_path), irc_enforce=enforce, **addon_options)  # type: ignore[no-untyped-call]
    except exceptions.OptionsError as exc:
        raise CaptureError(str(exc).removeprefix("ir-console: ")) from exc
    message(trust_instructions(confdir / "mitmproxy-ca-cert.pem"))
    message(
        f"recording into {case_path}"
        + (" and enforcing its blocklist" if enforce else "")
        + "; Ctrl-C stops"
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    if duration is not None:
        loop.call_later(duration, master.shutdown)
    try:
        await master.run()
    except SystemExit as exc:  # mitmproxy's startup error check exits; make it ours
        raise CaptureError(
            f"proxy could not start on {host or '*'}:{port} (see the messages above)"
        ) from exc


@click.command("proxy")
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    help="Address to listen on, HOST:PORT (port 0 picks a free one).",
)
@click.option(
    "--mode",
    default="regular",
    show_default=True,
    help="regular | reverse:URL | upstream:URL (mitmproxy's proxy modes).",
)
@click.option(
    "--enforce",
    is_flag=True,
    help="Answer requests with blocked credentials or endpoints with 403.",
)
@click.option(
    "--confdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("~/.mitmproxy"),
    show_default=True,
    help="mitmproxy's configuration directory (holds its CA).",
)
@click.option("--ssl-insecure", is_flag=True, help="Do not verify upstream TLS certificates.")
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after S seconds."
)
@click.option(
    "--durable",
    type=click.Choice(["credentials", "all", "none"]),
    default="credentials",
    show_default=True,
    help="Which responses wait until their flow is in the case: flows that carried a "
    "credential or were blocked, every flow, or none (a kill may lose the last 0.25 s).",
)
@click.option(
    "--header-timeout",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Seconds a client may take to send a request head (0: no limit).",
)
@click.option(
    "--max-client-conns",
    type=click.IntRange(min=0),
    default=256,
    show_default=True,
    help="Connections one client address may hold at once (0: no limit).",
)
@click.pass_obj
def proxy(
    case: CaseContext,
    listen: str,
    mode: str,
    enforce: bool,
    confdir: Path,
    ssl_insecure: bool,
    duration: float | None,
    durable: str,
    header_timeout: int,
    max_client_conns: int,
) -> None:
    """Run a proxy (mitmproxy, in-process) that records every flow into the case.

    A client that does not finish a request head within --header-timeout seconds is cut off,
    and one address holds at most --max-client-conns connections (slowloris). The response of
    a flow that carried a credential or was blocked is released once the flow is in the case,
    so a proxy killed right after answering loses none of them (--durable)."""
    host, port = parse_listen(listen)
    mode = check_mode(mode)
    confdir = confdir.expanduser()
    addon_options: dict[str, object] = {
        "irc_durable": durable,
        "irc_header_timeout": header_timeout,
        "irc_max_client_conns": max_client_conns,
    }
    asyncio.run(
        _serve(case.db, host, port, mode, enforce, confdir, ssl_insecure, duration, addon_options)
    )
    sys.stderr.flush()
