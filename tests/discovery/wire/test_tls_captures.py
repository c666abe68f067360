"""Decryption on real captures: nginx (TLS 1.2/1.3, HTTP/1.1 and HTTP/2, h2c) on loopback, curl
and Python ``ssl`` clients writing their key logs, OpenSSL's s_client sending KeyUpdates,
tcpdump around them; checked against the same calls in cleartext, against tshark decrypting
the same files, and with the secrets carried inside the pcapng (editcap --inject-secrets)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from discovery.models import ObservedExchange
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from discovery.wire.keylog import load
from discovery.wire.tlssession import DECRYPTED
from ir_console.cli import cli as cli_group
from tests.conftest import require_tool
from tests.discovery.wire import tls_lab as lab

pytestmark = pytest.mark.integration  # starts nginx, tcpdump, curl, tshark

TOKEN = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"[::-1]  # a Stripe-shaped key (made up)
API_KEY = "k3y-" + "9f8e7d6c5b4a39281706f5e4"
CURL_CALLS = [  # (path, curl options)
    ("/v1/customers/1001", ("--http1.1", "--tlsv1.2", "--tls-max", "1.2")),
    ("/v1/customers/1002", ("--http1.1", "--tlsv1.3")),
    ("/v1/invoices/2001", ("--http2", "--tlsv1.2", "--tls-max", "1.2")),
    ("/v1/invoices/2002", ("--http2", "--tlsv1.3")),
]


@dataclass
class Lab:
    folder: Path
    tls: Path  # the TLS capture
    keylog: Path
    clear: Path  # the same calls in cleartext (HTTP/1.1 and h2c)
    calls: list[tuple[str, str]]  # (method, path) of every call made over TLS


def _python_call(port: int, keylog: Path, path: str) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = str(keylog)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {lab.HOST}\r\nX-API-Key: {API_KEY}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    raw = socket.create_connection(("127.0.0.1", port))
    with ctx.wrap_socket(raw, server_hostname=lab.HOST) as conn:
        conn.sendall(request)
        while conn.recv(65536):
            pass


def _plain_call(port: int, path: str, key: bool = True) -> None:
    api_key = f"X-API-Key: {API_KEY}\r\n" if key else ""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {lab.HOST}\r\n{api_key}Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request)
        while conn.recv(65536):
            pass


def _key_updates(port: int, keylog: Path) -> None:
    """TLS 1.3 KeyUpdates (s_client's K and k commands) between three requests."""
    exe = require_tool("openssl")
    proc = subprocess.Popen(
        [
            exe,
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            "-servername",
            lab.HOST,
            "-keylogfile",
            str(keylog),
            "-tls1_3",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    lines = [b"GET /v1/rotate/1 HTTP/1.1\r\nHost: %s\r\n\r\n", b"K\n"]
    lines += [b"GET /v1/rotate/2 HTTP/1.1\r\nHost: %s\r\n\r\n", b"k\n"]
    lines += [b"GET /v1/rotate/3 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"]
    time.sleep(0.5)
    for line in lines:
        proc.stdin.write(line.replace(b"%s", lab.HOST.encode()))
        proc.stdin.flush()
        time.sleep(0.3)
    proc.stdin.close()
    proc.wait(10)


@pytest.fixture(scope="module")
def tls_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("tlslab")
    keylog = folder / "keys.log"
    calls: list[tuple[str, str]] = []
    headers = (f"Authorization: Bearer {TOKEN}",)
    with lab.nginx(folder) as ng:
        url = f"https://{lab.HOST}:{ng.tls_port}"
        with lab.capture(folder / "tls.pcap", (ng.tls_port,)):
            for path, options in CURL_CALLS:
                lab.curl(url + path, ng.tls_port, keylog, *options, headers=headers)
                calls.append(("GET", path))
            lab.curl(
                url + "/v1/charges",
                ng.tls_port,
                keylog,
                "--http2",
                "-d",
                '{"amount": 100}',
                headers=headers,
            )
            calls.append(("POST", "/v1/charges"))
            _python_call(ng.tls_port, keylog, "/v1/python/ssl")
            calls.append(("GET", "/v1/python/ssl"))
            _key_updates(ng.tls_port, keylog)
            calls += [("GET", f"/v1/rotate/{i}") for i in (1, 2, 3)]
        plain = f"http://{lab.HOST}:{ng.plain_port}"
        with lab.capture(folder / "clear.pcap", (ng.plain_port, ng.h2c_port)):
            for path, options in CURL_CALLS:
                if "--http2" in options:
                    h2c = f"http://{lab.HOST}:{ng.h2c_port}{path}"
                    lab.curl(h2c, ng.h2c_port, None, "--http2-prior-knowledge", headers=headers)
                else:
                    lab.curl(plain + path, ng.plain_port, None, "--http1.1", headers=headers)
            lab.curl(
                f"http://{lab.HOST}:{ng.h2c_port}/v1/charges",
                ng.h2c_port,
                None,
                "--http2-prior-knowledge",
                "-d",
                '{"amount": 100}',
                headers=headers,
            )
            _plain_call(ng.plain_port, "/v1/python/ssl")
            for i in (1, 2, 3):
                _plain_call(ng.plain_port, f"/v1/rotate/{i}", key=False)
    yield Lab(folder, folder / "tls.pcap", keylog, folder / "clear.pcap", calls)


def _read(path: Path, keylog: Path | None) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    secrets = load([keylog]) if keylog else None
    return list(read(path, stats, secrets=secrets)), stats


def test_every_call_is_decrypted_and_parsed(tls_lab: Lab) -> None:
    found, stats = _read(tls_lab.tls, tls_lab.keylog)
    requests = [ex for ex in found if ex.method]
    assert sorted((ex.method, ex.target) for ex in requests) == sorted(tls_lab.calls)
    assert all(ex.status == 200 and ex.tls and ex.sni == lab.HOST for ex in requests)
    versions = Counter(ex.http_version for ex in requests)
    assert versions == {"1.1": 6, "2": 3}
    assert not [ex for ex in found if ex.method is None]  # no connection left opaque
    assert stats.counts["TLS 1.3 key updates followed"] == 3
    assert stats.counts[DECRYPTED.format(origin=tls_lab.keylog)] == 7
    assert not stats.skipped and not stats.warnings


def test_without_the_key_log_every_connection_stays_opaque(tls_lab: Lab) -> None:
    found, _ = _read(tls_lab.tls, None)
    assert len(found) == 7 and all(ex.method is None and ex.tls for ex in found)


def test_every_request_tshark_decrypts_is_recorded(tls_lab: Lab) -> None:
    theirs = lab.tshark_requests(tls_lab.tls, "-o", f"tls.keylog_file:{tls_lab.keylog}")
    found, _ = _read(tls_lab.tls, tls_lab.keylog)
    ours = Counter((ex.method or "", ex.target or "") for ex in found if ex.method)
    assert theirs, "tshark decrypted nothing: the comparison would prove nothing"
    assert not theirs - ours, f"tshark saw requests we did not record: {theirs - ours}"


def test_injected_secrets_give_the_same_exchanges_with_no_key_log(tls_lab: Lab) -> None:
    exe = require_tool("editcap")
    injected = tls_lab.folder / "injected.pcapng"
    subprocess.run(
        [exe, "--inject-secrets", f"tls,{tls_lab.keylog}", str(tls_lab.tls), str(injected)],
        check=True,
        timeout=60,
    )
    with_file, _ = _read(tls_lab.tls, tls_lab.keylog)
    from_block, stats = _read(injected, None)

    def same(found: list[ObservedExchange]) -> list[ObservedExchange]:
        return [ex._replace(ts=round(ex.ts, 6)) for ex in found]  # pcapng: ticks, not seconds

    assert len(from_block) == 9 and same(from_block) == same(with_file)
    assert stats.counts[DECRYPTED.format(origin=f"{injected} (pcapng Decryption Secrets Block)")]


def _ingest(case: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_group, ["--db", str(case), "ingest", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _json(case: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli_group, ["--db", str(case), *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_case_is_the_same_as_the_cleartext_equivalent(tls_lab: Lab, tmp_path: Path) -> None:
    """Endpoints, credentials and findings of the decrypted calls equal those of the same
    calls made in cleartext, but for what TLS changes (no cleartext-credential finding)."""
    tls_case, clear_case = tmp_path / "tls.db", tmp_path / "clear.db"
    code, _out, err = _ingest(tls_case, str(tls_lab.tls), "--keylog", str(tls_lab.keylog))
    assert code == 0, err
    code, _out, err = _ingest(clear_case, str(tls_lab.clear))
    assert code == 0, err

    def endpoints(case: Path) -> list[tuple[str, str, dict[str, int]]]:
        rows = _json(case, "endpoints")
        return sorted((r["method"], r["template"], r["statuses"]) for r in rows)

    def credentials(case: Path) -> list[tuple[str, str, int]]:
        return sorted((c["kind"], c["redacted"], c["requests"]) for c in _json(case, "credentials"))

    # what TLS changes: no cleartext credential; the client fingerprints (JA4) that only TLS
    # shows tell curl's TLS 1.2 and TLS 1.3 handshakes apart
    tls_only = {"cleartext_credential", "credential_client_change"}

    def rules(case: Path) -> set[str]:
        return {f["rule"] for f in _json(case, "findings")} - tls_only

    assert endpoints(tls_case) == endpoints(clear_case)
    assert credentials(tls_case) == credentials(clear_case)
    assert len(credentials(tls_case)) == 2
    assert rules(tls_case) == rules(clear_case)
    tls_rules = {f["rule"] for f in _json(tls_case, "findings")}
    assert "cleartext_credential" not in tls_rules
    clear_rules = {f["rule"] for f in _json(clear_case, "findings")}
    assert "credential_client_change" not in clear_rules  # one user agent, no JA4
    hosts = _json(tls_case, "hosts")
    assert hosts and all(h["tls"] for h in hosts)
    assert not any(h["tls"] for h in _json(clear_case, "hosts"))


def test_key_log_secrets_and_decrypted_credentials_are_nowhere(
    tls_lab: Lab, tmp_path: Path
) -> None:
    import sqlite3

    from tests.ir_console.test_secret_leak import captured_logs

    case = tmp_path / "case.db"
    with captured_logs() as logs:
        result = CliRunner().invoke(
            cli_group,
            ["-vv", "--db", str(case), "ingest", str(tls_lab.tls), "--keylog", str(tls_lab.keylog)],
        )
    code = result.exit_code
    outputs = [result.stdout, result.stderr, logs.getvalue()]
    assert "TLS connections decrypted" in result.stdout
    for args in (["hosts"], ["endpoints"], ["credentials"], ["identities"], ["findings"]):
        for extra in ([], ["--json"]):
            result = CliRunner().invoke(cli_group, ["--db", str(case), *args, *extra])
            assert result.exit_code == 0
            outputs += [result.stdout, result.stderr]
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli_group, ["--db", str(case), "report", "--format", "json", "-o", str(report)]
    )
    assert result.exit_code == 0, result.stderr
    conn = sqlite3.connect(case)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    blobs = [s.encode() for s in outputs] + [report.read_bytes()]
    blobs += [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("case.db")]
    secrets: list[bytes] = [TOKEN.encode(), API_KEY.encode()]
    for line in tls_lab.keylog.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            secrets += [parts[2].encode(), parts[2].upper().encode(), bytes.fromhex(parts[2])]
    assert code == 0
    leaks = [(i, j) for i, blob in enumerate(blobs) for j, s in enumerate(secrets) if s in blob]
    assert not leaks
