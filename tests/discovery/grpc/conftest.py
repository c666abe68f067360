"""The gRPC lab captured once for the package's tests: grpcio server and client on loopback, h2c,
tcpdump on lo, the capture ingested into a case (copied by tests that change it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from discovery.case.store import Store
from tests.discovery.grpc.grpc_lab import (
    Compiled,
    Lab,
    call_everything,
    compile_protos,
    reflection_response,
    serve,
)


@dataclass
class Captured:
    case: Path
    lab: Lab
    outcomes: dict[str, str]
    compiled: Compiled
    pcap: Path
    reflection: bytes  # the server's answer to a reflection request for lab.v1.Accounts
    reflection_pcap: Path  # that request and answer, captured with tcpdump


@pytest.fixture(scope="package")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    from discovery.ingest.files import ingest_files
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    base = tmp_path_factory.mktemp("grpc")
    compiled = compile_protos(base / "gen")
    pcap = base / "grpc.pcap"
    with serve(compiled) as lab:
        with tcpdump(pcap, lab.port):
            outcomes = call_everything(lab)
        reflection_pcap = base / "reflection.pcap"
        with tcpdump(reflection_pcap, lab.port):
            reflection = reflection_response(lab)
    case = base / "case.db"
    with Store.open(case) as store:
        (result,) = ingest_files(store, [pcap])
        assert result.stats.exchanges == len(outcomes)
    yield Captured(case, lab, outcomes, compiled, pcap, reflection, reflection_pcap)
