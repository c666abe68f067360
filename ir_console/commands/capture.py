"""``ir-console capture``: live sources (sniffer, proxy) writing into the case as traffic flows."""

from __future__ import annotations

import click

from ir_console.cli import LazyGroup

CAPTURE_COMMANDS: dict[str, tuple[str, str]] = {
    "live": (
        "ir_console.commands.capture_live:live",
        "Capture an interface into the case (HTTP/1.x, TLS ClientHello), drops counted; CAP_NET_RAW.",
    ),
    "proxy": (
        "ir_console.commands.capture_proxy:proxy",
        "Run mitmproxy in-process, recording flows (and enforcing blocks).",
    ),
}


@click.group(cls=LazyGroup, lazy=CAPTURE_COMMANDS)
def capture() -> None:
    """Capture live traffic into the case (a sniffer on an interface, or a proxy)."""
