"""Children sharing a capture's flows give what the in-process reader and converter give
(exchanges in the same order, stats, errors)."""

from __future__ import annotations

import gc
import random
import struct
from pathlib import Path

import pytest

from discovery.case.store import exchange_fields
from discovery.errors import InputError
from discovery.ingest import packing, parallel
from discovery.ingest.parallel import convert_in_children
from discovery.redact.convert import to_exchange
from discovery.redact.secrets import Fingerprinter
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from discovery.wire import reassembly
from tests.paths import FIXTURES

pytestmark = pytest.mark.integration  # starts processes or servers

FIXTURES = FIXTURES / "pcap"


@pytest.mark.parametrize(("kept", "batch"), [(packing.SIGHTINGS_KEPT, parallel.BATCH), (1, 4)])
def test_children_convert_as_the_in_process_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int, batch: int
) -> None:
    """Reader and converter children give the rows, times and credential sightings that
    ``to_exchange`` gives here, in the same order, with the same counters (also when the
    table of sightings sent once is full after each batch and starts afresh)."""
    monkeypatch.setattr(packing, "SIGHTINGS_KEPT", kept)
    monkeypatch.setattr(parallel, "BATCH", batch)
    data = (FIXTURES / "http_api.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 100])
    fingerprint = Fingerprinter(b"k" * 32)
    here, there = IngestStats(), IngestStats()
    seen: list[int] = []
    expected = [
        (exchange_fields(ex), ex.ts, ex.credentials)
        for ex in (to_exchange(obs, fingerprint) for obs in read(cut, here))
    ]
    got = list(convert_in_children("pcap", cut, there, fingerprint, seen.append))
    assert got == expected
    assert any(sightings for _, _, sightings in got)
    assert there.as_dict() == here.as_dict()
    assert there.skipped["truncated capture"] == 1  # a warning travels back too
    assert seen and seen[-1] == cut.stat().st_size


def _frame(ts: float, sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes) -> bytes:
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 0, 0x4000, 64, 6, 0, b"\x7f\0\0\1", b"\x7f\0\0\1"
    )
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    frame = b"\0" * 12 + b"\x08\x00" + ip + tcp + data
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame


def _interleaved_capture(path: Path, connections: int, seed: int) -> None:
    """Many keep-alive connections interleaved frame by frame, minutes of quiet now and then
    (idle eviction), requests never answered (emitted by a sweep or by the end), connections
    left open at the end, pipelined requests, ARP frames between."""
    rng = random.Random(seed)
    frames = []
    ts = 1_790_000_000.0
    state = {
        port: [1000, 9000, 0, rng.randrange(1, 6)] for port in range(20_000, 20_000 + connections)
    }
    while state:
        port = rng.choice(list(state))
        cseq, sseq, step, left = state[port]
        ts += rng.choice((0.001, 0.001, 0.001, 200.0 if rng.random() < 0.02 else 0.001))
        if step == 0:
            frames.append(_frame(ts, port, 8080, cseq, 0, 0x02, b""))
            frames.append(_frame(ts, 8080, port, sseq, cseq + 1, 0x12, b""))
            cseq, sseq = cseq + 1, sseq + 1
        elif left:
            count = 2 if rng.random() < 0.2 else 1  # two pipelined requests in one segment
            req = b"".join(
                f"GET /v1/items/{rng.randrange(10_000)} HTTP/1.1\r\nHost: api.test\r\n"
                f"Authorization: Bearer tok_{port % 7:02d}_{'k' * 24}\r\n\r\n".encode()
                for _ in range(count)
            )
            frames.append(_frame(ts, port, 8080, cseq, sseq, 0x18, req))
            cseq += len(req)
            if rng.random() < 0.1:  # never answered, never closed: a sweep or the end emits it
                del state[port]
                continue
            body = b'{"ok": true}'
            resp = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body) * count
            frames.append(_frame(ts, 8080, port, sseq, cseq, 0x18, resp))
            frames.append(_frame(ts, port, 8080, cseq, sseq + len(resp), 0x10, b""))  # bare ACK
            sseq += len(resp)
            left -= 1
        elif rng.random() < 0.7:
            frames.append(_frame(ts, port, 8080, cseq, sseq, 0x11, b""))
            frames.append(_frame(ts, 8080, port, sseq, cseq + 1, 0x11, b""))
            del state[port]
            continue
        else:
            del state[port]  # left open: the end of the input closes it
            continue
        if rng.random() < 0.01:
            arp = b"\xff" * 6 + b"\0" * 6 + b"\x08\x06" + b"\0" * 28
            frames.append(struct.pack("<IIII", int(ts), 0, len(arp), len(arp)) + arp)
        state[port] = [cseq, sseq, step + 1, left]
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    path.write_bytes(header + b"".join(frames))


@pytest.mark.parametrize("name", [*sorted(p.name for p in FIXTURES.iterdir()), "interleaved"])
def test_shared_flows_merge_into_the_in_process_order(name: str, tmp_path: Path) -> None:
    """Every fixture, and a capture of 300 interleaved connections with idle sweeps that evict
    flows every few frames: the children's merged rows equal the in-process ones, in order."""
    if name == "interleaved":
        capture = tmp_path / "interleaved.pcap"
        _interleaved_capture(capture, 300, seed=3)
        limits = reassembly.Limits(sweep_every=37)
    else:
        capture = FIXTURES / name
        limits = None
    fingerprint = Fingerprinter(b"k" * 32)
    here, there = IngestStats(), IngestStats()
    expected = [
        (exchange_fields(ex), ex.ts, ex.credentials)
        for ex in (to_exchange(obs, fingerprint) for obs in read(capture, here, limits=limits))
    ]
    got = list(convert_in_children("pcap", capture, there, fingerprint, limits=limits))
    assert got == expected
    assert sorted(there.warnings) == sorted(here.warnings)
    assert {k: v for k, v in there.as_dict().items() if k != "warnings"} == {
        k: v for k, v in here.as_dict().items() if k != "warnings"
    }
    if name == "interleaved":
        assert len(got) > 500
        assert here.counts["flows evicted (idle)"] > 0
        unanswered = [fields for fields, _, _ in got if fields[17] is None]  # status
        assert len(unanswered) > 20  # emitted by sweeps and by the end of the input
        assert here.skipped  # the ARP frames, counted once


def test_children_raise_input_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"definitely not a capture")
    with pytest.raises(InputError, match="not a pcap or pcapng") as info:
        list(convert_in_children("pcap", bogus, IngestStats(), Fingerprinter(b"k" * 32)))
    assert info.value.path == str(bogus)


def test_collector_thresholds_given_back(tmp_path: Path) -> None:
    """While the children's rows are merged the youngest generation is collected less often;
    after the read, and after a read that failed, this process collects as it did before (an
    ingest in a long-lived process must not leave its collector tuned for a capture)."""
    before = gc.get_threshold()
    custom = (1234, 11, 12)
    gc.set_threshold(*custom)
    try:
        fingerprint = Fingerprinter(b"k" * 32)
        during: list[tuple[int, int, int]] = []
        rows = convert_in_children("pcap", FIXTURES / "http_api.pcap", IngestStats(), fingerprint)
        for _ in rows:
            during.append(gc.get_threshold())
        assert during and during[0] == (parallel.YOUNG_GC, 11, 12)
        assert gc.get_threshold() == custom
        bogus = tmp_path / "bogus.pcap"
        bogus.write_bytes(b"definitely not a capture")
        with pytest.raises(InputError):
            list(convert_in_children("pcap", bogus, IngestStats(), fingerprint))
        assert gc.get_threshold() == custom
        abandoned = convert_in_children(
            "pcap", FIXTURES / "http_api.pcap", IngestStats(), fingerprint
        )
        next(abandoned)
        abandoned.close()  # the writer stopped early (an error while writing)
        assert gc.get_threshold() == custom
    finally:
        gc.set_threshold(*before)
