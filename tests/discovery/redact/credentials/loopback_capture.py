"""tcpdump on the loopback interface around a block of client traffic (root or CAP_NET_RAW)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require_tool


def _settle(path: Path, quiet: float = 0.5, limit: float = 5.0) -> None:
    """Wait until the capture file stops growing (the last packets are written)."""
    deadline = time.monotonic() + limit
    size = -1
    while time.monotonic() < deadline:
        now = path.stat().st_size if path.exists() else 0
        if now == size:
            return
        size = now
        time.sleep(quiet)


@contextmanager
def tcpdump(path: Path, port: int) -> Iterator[Path]:
    """Capture TCP traffic to/from ``port`` on ``lo`` into ``path`` until the block ends."""
    exe = require_tool("tcpdump")
    proc = subprocess.Popen(
        [
            exe,
            "-i",
            "lo",
            "-U",
            "--immediate-mode",
            "-n",
            "-s",
            "0",
            "-w",
            str(path),
            "tcp",
            "port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "listening on lo, ..." once the capture is armed
        if "listening" not in line:
            proc.kill()
            proc.wait(5)
            import pytest

            pytest.skip(f"tcpdump cannot capture on lo here: {line.strip()[:120]}")
        yield path
        _settle(path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()
