"""No raw secret leaves the detector: plant known secrets in real client traffic, ingest it, run
every export and report the CLI has, then search the case file (after a WAL checkpoint), its key
file, the logs (-vv) and every output for each secret in raw, base64 and URL-encoded form."""

from __future__ import annotations

import base64
import io
import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.case.writer import ExchangeWriter
from ir_console.cli import COMMANDS
from tests.discovery.redact.credentials.recording import recording_server
from tests.discovery.redact.credentials.test_real_clients import CASES

pytestmark = pytest.mark.integration  # starts processes or servers

PLANTED = sorted({s for _, _, secrets in CASES.values() for s in secrets})


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        quote(secret, safe="").encode(),
    ]


def send_all(url: str) -> None:
    for send, _expected, _secrets in CASES.values():
        send(url)


Runner = Callable[..., tuple[int, bytes, bytes]]


def cli(case: Path, *args: str, stdin: str | None = None) -> tuple[int, bytes, bytes]:
    """The real command line in a child process, debug logging on (-vv)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "-vv", "--db", str(case), *args],
        capture_output=True,
        input=stdin.encode() if stdin else None,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record at DEBUG and above, formatted, while the block runs."""
    records = io.StringIO()
    handler = logging.StreamHandler(records)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def in_process(case: Path, *args: str, stdin: str | None = None) -> tuple[int, bytes, bytes]:
    """The same commands in this process (faster), every log record at DEBUG captured."""
    from click.testing import CliRunner

    from ir_console.cli import cli as group

    with captured_logs() as records:
        result = CliRunner().invoke(group, ["-vv", "--db", str(case), *args], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes, result.stderr_bytes + records.getvalue().encode()


def run_every_output(case: Path, out_dir: Path, run: Runner) -> list[tuple[str, bytes]]:
    """Every read command, export and report that exists, as (label, bytes) to search."""
    produced: list[tuple[str, bytes]] = []
    secrets_file = out_dir / "leak.txt"
    secrets_file.write_text("\n".join(PLANTED) + "\n")
    runs: list[list[str]] = []
    for name in ("hosts", "endpoints", "credentials", "identities", "findings"):
        runs += [[name], [name, "--json"]]
    runs += [
        ["credentials", "find", "--file", str(secrets_file)],
        ["credentials", "find", "--file", str(secrets_file), "--json"],
    ]
    if "report" in COMMANDS:
        runs += [
            ["report", "--format", "md", "-o", str(out_dir / "report.md")],
            ["report", "--format", "json", "-o", str(out_dir / "report.json")],
        ]
    if "graph" in COMMANDS:
        runs += [
            ["graph", "export", "--format", fmt, "-o", str(out_dir / f"graph.{fmt}")]
            for fmt in ("graphml", "gexf", "json", "dot", "opengraph")
        ]
    if "openapi" in COMMANDS:
        (out_dir / "openapi").mkdir()
        runs.append(["openapi", "export", "-o", str(out_dir / "openapi"), "--format", "json"])
    if "audit" in COMMANDS:
        runs.append(["audit", "verify"])
    creds = json.loads(run(case, "credentials", "--json")[1])
    assert creds, "no credential was detected: the test would prove nothing"
    if "block" in COMMANDS:
        runs.append(["block", "credential", creds[0]["id"], "--reason", "leak test"])
    for args in runs:
        code, out, err = run(case, *args)
        assert code == 0, (args, err.decode(errors="replace")[-500:])
        produced += [(f"{args} stdout", out), (f"{args} stderr", err)]
    code, out, err = run(case, "credentials", "find", "--stdin", "--json", stdin=PLANTED[0])
    assert code == 0 and json.loads(out)["found"] is True
    produced += [("find --stdin stdout", out), ("find --stdin stderr", err)]
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        if path != secrets_file:
            produced.append((path.name, path.read_bytes()))
    return produced


def case_bytes(case: Path) -> list[tuple[str, bytes]]:
    conn = sqlite3.connect(case)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    out = [
        (p.name, p.read_bytes())
        for p in case.parent.iterdir()
        if p.name.startswith(case.name) and p.is_file()
    ]  # the case, -wal/-shm, the .key
    assert any(name.endswith(".key") for name, _ in out)
    return out


def assert_nowhere(blobs: list[tuple[str, bytes]]) -> None:
    leaks = [
        (label, PLANTED.index(secret))
        for label, blob in blobs
        for secret in PLANTED
        for form in forms(secret)
        if form in blob
    ]
    assert not leaks, f"planted secrets (by index) found in: {leaks[:10]}"


def test_no_secret_after_pipeline_ingest(tmp_path: Path) -> None:
    case = tmp_path / "case" / "case.db"
    case.parent.mkdir()
    (tmp_path / "out").mkdir()
    with recording_server() as recorder:
        send_all(recorder.url)
    with captured_logs() as logs, Store.open(case) as store:
        writer = ExchangeWriter(store, None)
        writer.add_all(recorder.observed())
        writer.flush()
        recompute(store)
    outputs = [("ingest logs", logs.getvalue().encode())]
    outputs += run_every_output(case, tmp_path / "out", in_process)
    assert_nowhere(outputs + case_bytes(case))


def test_no_secret_after_tcpdump_capture_and_ingest(tmp_path: Path) -> None:
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    case = tmp_path / "case" / "case.db"
    case.parent.mkdir()
    (tmp_path / "out").mkdir()
    pcap = tmp_path / "planted.pcap"
    with recording_server() as recorder, tcpdump(pcap, recorder.port):
        send_all(recorder.url)
    raw = pcap.read_bytes()
    assert any(secret.encode() in raw for secret in PLANTED), "the capture holds the secrets"
    code, out, err = cli(case, "ingest", str(pcap))
    assert code == 0, err.decode(errors="replace")[-500:]
    outputs = [("ingest stdout", out), ("ingest stderr", err)]
    outputs += run_every_output(case, tmp_path / "out", cli)
    assert_nowhere(outputs + case_bytes(case))
