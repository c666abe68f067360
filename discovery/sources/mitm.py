"""mitmproxy flow files (``mitmdump -w``), read with mitmproxy's own reader.

HTTP flows become exchanges through the same conversion as the live addon; TCP, UDP and DNS
flows are counted and skipped. A file mitmproxy cannot read (another version's format, damage)
raises ``InputError`` when nothing could be read, and otherwise keeps the flows read so far.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from mitmproxy import exceptions, http
from mitmproxy.io import FlowReader

from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.sources.flows import flow_to_observed
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)

PROGRESS_EVERY = 256


def read(
    path: Path, stats: IngestStats, progress: Progress | None = None
) -> Iterator[ObservedExchange]:
    """Yield one observed exchange per HTTP flow in a mitmproxy flow file."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        index = 0
        stream = iter(FlowReader(handle).stream())
        while True:
            try:
                flow = next(stream)
            except StopIteration:
                break
            except exceptions.FlowReadException as exc:
                reason = f"mitmproxy cannot read this flow file: {exc}"
                if index == 0:
                    raise InputError(str(path), reason, where="flow 1") from exc
                stats.skip(
                    "unreadable_flow",
                    f"{path} (flow {index + 1}): {reason}; kept the {index} flows before it",
                )
                break
            index += 1
            stats.flows += 1
            if progress and index % PROGRESS_EVERY == 0:
                progress(handle.tell())
            if not isinstance(flow, http.HTTPFlow):
                stats.skip(f"{flow.type}_flow")
                continue
            reference = flow.metadata.get("irc_block")  # answered by our addon's enforcement
            yield flow_to_observed(
                flow, source="mitm", blocked=reference is not None, reference=reference
            )
        if progress:
            progress(handle.tell())
