"""gRPC descriptors as specs: the lab's descriptor set (protoc) and its server's reflection answer
imported into the captured case give the expected documented, shadow, zombie and orphan methods."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from discovery.case.store import Store
from ir_console.cli import cli
from tests.discovery.grpc.conftest import Captured

pytestmark = pytest.mark.integration

EXPECTED = {
    "/lab.v1.Accounts/GetAccount": "documented",
    "/lab.v1.Accounts/DeleteAccount": "zombie",  # deprecated = true, still called
    "/lab.v1.Accounts/ListAccounts": "orphan",  # documented, never called
    "/lab.internal.Debug/Dump": "shadow",  # served, but absent from the descriptors
}


def _case(captured: Captured, tmp_path: Path) -> Path:
    case = tmp_path / "case.db"
    shutil.copy(captured.case, case)
    return case


def _import(case: Path, spec: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(case), "spec", "import", str(spec), *args])
    return result.exit_code, result.output


def _classes(case: Path) -> dict[str, str]:
    from discovery.views import queries

    with Store.open(case) as store:
        return {e["template"]: e["status"] for e in queries.endpoints(store)}


def _explain(case: Path, host: str, path: str) -> str:
    result = CliRunner().invoke(
        cli, ["--db", str(case), "endpoints", "explain", host, "POST", path]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_a_descriptor_set_classifies_the_observed_methods(
    captured: Captured, tmp_path: Path
) -> None:
    case = _case(captured, tmp_path)
    host = captured.lab.target
    code, output = _import(case, captured.compiled.descriptor_set, "--host", host)
    assert code == 0, output
    assert "3 operations (1 deprecated)" in output
    assert _classes(case) == EXPECTED
    assert "no gRPC service lab.internal.Debug" in _explain(case, host, "/lab.internal.Debug/Dump")
    assert "deprecated in 'lab.v1.Accounts'" in _explain(
        case, host, "/lab.v1.Accounts/DeleteAccount"
    )
    # the descriptors of both services: the internal one is documented too
    code, output = _import(case, captured.compiled.full_set, "--host", host)
    assert code == 0, output
    assert _classes(case)["/lab.internal.Debug/Dump"] == "documented"


@pytest.mark.parametrize("framed", [False, True])
def test_the_servers_reflection_answer_is_a_spec_too(
    captured: Captured, tmp_path: Path, framed: bool
) -> None:
    case = _case(captured, tmp_path)
    answer = captured.reflection
    if framed:  # as the response stream carries it: length-prefixed messages
        answer = b"\x00" + len(answer).to_bytes(4, "big") + answer
    spec = tmp_path / "reflection.bin"
    spec.write_bytes(answer)
    code, output = _import(case, spec, "--host", captured.lab.target)
    assert code == 0, output
    assert _classes(case) == EXPECTED


def test_a_reflection_answer_taken_from_a_capture_is_a_spec(
    captured: Captured, tmp_path: Path
) -> None:
    """The answer's DATA frames as tshark extracts them from the capture (h2c on the lab's
    port), written as they are (length-prefixed), then imported."""
    from tests.conftest import require_tool

    port = captured.lab.port
    done = subprocess.run(
        [
            require_tool("tshark"),
            "-r",
            str(captured.reflection_pcap),
            "-d",
            f"tcp.port=={port},http2",
            "-Y",
            f"tcp.srcport=={port} && http2.data.data",
            "-T",
            "fields",
            "-e",
            "http2.data.data",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frames = [bytes.fromhex(h.replace(":", "")) for h in done.stdout.split()]
    assert frames, done.stderr
    spec = tmp_path / "reflection-from-capture.bin"
    spec.write_bytes(b"".join(frames))
    case = _case(captured, tmp_path)
    code, output = _import(case, spec, "--host", captured.lab.target)
    assert code == 0, output
    assert _classes(case) == EXPECTED


def test_unusable_descriptor_files_are_refused_with_one_line(
    captured: Captured, tmp_path: Path
) -> None:
    case = _case(captured, tmp_path)
    exe = str(Path(sys.executable).with_name("ir-console"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [exe, "--db", str(case), "spec", "import", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    done = run(str(captured.compiled.descriptor_set))  # no --host
    assert done.returncode == 2
    assert "names no host: give the server with --host" in done.stderr
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\x0a\xff\xff\xff\x0f\x00\x01garbage")
    done = run(str(junk), "--host", "h")
    assert done.returncode == 2
    assert "junk.pb: not an OpenAPI text, a protobuf FileDescriptorSet" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not done.stdout
    assert set(_classes(case).values()) == {"shadow"}  # nothing changed
