"""mitmproxy flow files (``mitmdump -w``): each flow a tnetstring, parsed by mitmproxy's own code.

The file is split into flows here, by each tnetstring's declared length, before mitmproxy parses
one: a length beyond the end of the file is a flow still being written (or a damaged file), never
an allocation of that size; a flow nested deeper than any flow mitmproxy writes is skipped before
mitmproxy's recursive parser sees it; a flow mitmproxy cannot read is counted and skipped, and
reading goes on with the next one. HTTP flows become exchanges through the same conversion as the
live addon; TCP, UDP and DNS flows are counted and skipped. A file whose first flow cannot be
read at all raises ``InputError``.

Reading may start at a byte offset (a flow file that grew since it was ingested: ``mitmdump -w``
appends); ``stats.consumed`` ends at the last complete flow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mitmproxy import http
from mitmproxy.flow import Flow
from mitmproxy.io import compat, tnetstring

from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.sources.flows import BadFlow, flow_to_observed
from discovery.sources.window import open_window
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)

PROGRESS_EVERY = 256
MAX_DEPTH = 32  # mitmproxy's flows nest about 6 deep
MAX_DIGITS = 12  # a tnetstring length prefix: up to 999 GB
_CONTAINERS = (ord("}"), ord("]"))


class _BadFrame(ValueError):
    """A flow that cannot be read; the reason is the message."""


def _length(handle: BinaryIO) -> tuple[int, int] | None:
    """The declared payload length at the handle's position and the prefix's size (digits and
    colon); None at the end of the file. Raises _BadFrame when no length prefix is there."""
    head = b""
    while True:
        char = handle.read(1)
        if not char:
            if head:
                raise _BadFrame(f"the file ends inside a length prefix ({head[:20]!r})")
            return None
        if char == b":":
            break
        if not char.isdigit() or len(head) >= MAX_DIGITS:
            raise _BadFrame(f"not a flow: expected a tnetstring length, got {(head + char)[:20]!r}")
        head += char
    if not head:
        raise _BadFrame("not a flow: empty tnetstring length")
    return int(head), len(head) + 1


def nesting_depth(data: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep the lists and dictionaries of one complete tnetstring nest (iteratively, over
    the declared lengths: ``limit + 1`` as soon as it is passed). Malformed data is left to the
    parser."""
    deepest = 0
    stack = [(0, len(data), 0)]
    while stack:
        pos, end, depth = stack.pop()
        while pos < end:
            colon = data.find(b":", pos, min(end, pos + MAX_DIGITS + 1))
            if colon <= pos or not data[pos:colon].isdigit():
                return deepest
            stop = colon + 1 + int(data[pos:colon])
            if stop >= end:
                return deepest
            if data[stop] in _CONTAINERS:
                if depth + 1 > limit:
                    return depth + 1
                deepest = max(deepest, depth + 1)
                stack.append((colon + 1, stop, depth + 1))
            pos = stop + 1
    return deepest


def _flow(frame: bytes) -> Flow:
    """One complete tnetstring as a flow, through mitmproxy's parser and migrations."""
    depth = nesting_depth(frame)
    if depth > MAX_DEPTH:
        raise _BadFrame(f"nested deeper than {MAX_DEPTH} levels")
    try:
        state = tnetstring.loads(frame)
        if not isinstance(state, dict):
            raise _BadFrame("not a flow (the tnetstring is not a dictionary)")
        return Flow.from_state(compat.migrate_flow(state))
    except _BadFrame:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        raise _BadFrame(
            f"mitmproxy cannot read this flow: {exc or type(exc).__name__}"[:300]
        ) from exc


def read(
    path: Path,
    stats: IngestStats,
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> Iterator[ObservedExchange]:
    """Yield one observed exchange per HTTP flow in a mitmproxy flow file, from byte ``start``
    to byte ``end``."""
    try:
        size = path.stat().st_size if end is None else end
        handle = open_window(path, size)
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        handle.seek(start)
        stats.consumed = start
        index = 0
        while True:
            offset = handle.tell()
            try:
                found = _length(handle)
            except _BadFrame as exc:
                _unreadable(path, stats, index, offset, str(exc))
                break
            if found is None:
                break
            length, prefix = found
            if offset + prefix + length + 1 > size:  # declared beyond the end of the file
                _incomplete(path, stats, index, offset, length, size)
                break
            frame = handle.read(length + 1)
            frame = str(length).encode() + b":" + frame
            index += 1
            stats.consumed = handle.tell()
            stats.flows += 1
            if progress and index % PROGRESS_EVERY == 0:
                progress(handle.tell())
            try:
                flow = _flow(frame)
            except _BadFrame as exc:
                if index == 1 and offset == 0:  # nothing of this file can be read
                    raise InputError(str(path), str(exc), where="flow 1") from exc
                stats.skip("unreadable_flow", f"{path} (flow {index}, byte {offset}): {exc}")
                continue
            if not isinstance(flow, http.HTTPFlow):
                stats.skip(f"{flow.type}_flow")
                continue
            reference = flow.metadata.get("irc_block")  # answered by our addon's enforcement
            try:
                yield flow_to_observed(
                    flow, source="mitm", blocked=reference is not None, reference=reference
                )
            except BadFlow as exc:
                stats.skip("bad_flow", f"{path} (flow {index}, byte {offset}): {exc}")
        if progress:
            progress(handle.tell())


def _unreadable(path: Path, stats: IngestStats, index: int, offset: int, reason: str) -> None:
    """No flow can be found from here on (no length prefix where one must be)."""
    if index == 0 and offset == 0:
        raise InputError(str(path), f"not a mitmproxy flow file: {reason}", where="flow 1")
    stats.skip(
        "unreadable_flow",
        f"{path} (flow {index + 1}, byte {offset}): {reason}; kept the {index} flows before it",
    )


def _incomplete(
    path: Path, stats: IngestStats, index: int, offset: int, length: int, size: int
) -> None:
    """A flow declared longer than what is left of the file: being written, or cut."""
    if index == 0 and offset == 0:
        raise InputError(
            str(path),
            f"the first flow declares {length} bytes but the file holds {size}",
            where="flow 1",
        )
    stats.counts["incomplete last flow (read when the file grows)"] += 1
    stats.warn(
        f"{path} (flow {index + 1}, byte {offset}): the file ends inside a flow declared "
        f"{length} bytes long; kept the {index} flows before it (the rest is read when the "
        "file has grown)"
    )
