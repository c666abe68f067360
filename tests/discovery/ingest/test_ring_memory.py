"""A capture ring larger than the machine can give is refused before the kernel is asked: the
kernel pins a ring's memory when the socket is set up, so an oversized --buffer (64G for 64M)
brought the out-of-memory killer instead of an error."""

from __future__ import annotations

import pytest

from discovery.errors import CaptureError
from discovery.ingest import live
from discovery.ingest.live import CaptureOptions, LiveCapture
from discovery.ingest.ring import available_memory, check_ring_memory


def test_the_machine_says_how_much_memory_it_can_give() -> None:
    available = available_memory()
    assert available is not None and available > 16 << 20  # Linux: /proc/meminfo


def test_rings_over_half_the_available_memory_are_refused_naming_the_sizes() -> None:
    check_ring_memory(64 << 20, 1, 1 << 30)  # 64 MiB of 1 GiB: fine
    check_ring_memory(512 << 20, 1, 1 << 30)  # exactly half: fine
    check_ring_memory(64 << 30, 1, None)  # the kernel does not say: not refused here
    with pytest.raises(CaptureError) as one:
        check_ring_memory(64 << 30, 1, 8 << 30)
    assert str(one.value) == (
        "a capture ring of 64 GiB is more than half of the memory available (8 GiB): "
        "use a smaller --buffer"
    )
    with pytest.raises(CaptureError) as shared:
        check_ring_memory(3 << 30, 3, 4 << 30)
    assert "a capture ring of 3 GiB (3 rings of 1 GiB)" in str(shared.value)


def test_a_capture_with_an_oversized_ring_stops_before_any_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "available_memory", lambda: 96 << 20)
    opened: list[object] = []
    monkeypatch.setattr(live, "PacketRing", lambda *args: opened.append(args))
    capture = LiveCapture(CaptureOptions(iface="lo", ring_bytes=64 << 20, workers=2))
    with pytest.raises(CaptureError, match=r"128 MiB \(2 rings of 64 MiB\).*96 MiB"):
        capture.open()
    assert opened == []  # refused before the kernel was asked for a ring
    fits = LiveCapture(CaptureOptions(iface="lo", ring_bytes=32 << 20))
    fits.open()
    assert len(opened) == 1  # half of the available memory or less: asked for
