"""Real parts for proxy tests and the proxy benchmark: a loopback upstream (HTTP or HTTPS with a
self-signed certificate made here) that records what reaches it, and a mitmdump subprocess."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MITMDUMP = str(Path(sys.executable).with_name("mitmdump"))
ADDON = str(Path(__file__).resolve().parents[2] / "discovery" / "proxy" / "addon.py")


def self_signed_cert(
    directory: Path, name: str = "localhost", *, kind: str = "ec", stem: str = "upstream"
) -> tuple[Path, Path]:
    """A throwaway certificate for ``name`` and 127.0.0.1 and its key: PEM files ``stem``.crt
    and ``stem``.key (``kind``: "ec", or "rsa" for an RSA key exchange)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(65537, 2048)
    )
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Upstream:
    """A loopback HTTP(S) server answering JSON; ``seen`` lists every request that reached it."""

    def __init__(self, tls_files: tuple[Path, Path] | None = None) -> None:
        self.seen: list[dict[str, object]] = []
        lock = threading.Lock()
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per response (flushed by the base class) ...
            disable_nagle_algorithm = True  # ... and no Nagle / delayed-ACK stalls

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    seen.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "body": body.decode("utf-8", "replace"),
                        }
                    )
                if (self.headers.get("Upgrade") or "").lower() == "websocket":
                    self._switch_to_websocket()
                    return
                body = json.dumps({"ok": True, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _switch_to_websocket(self) -> None:
                key = self.headers.get("Sec-WebSocket-Key", "")
                accept = base64.b64encode(
                    hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
                ).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.end_headers()
                self.wfile.flush()
                self.wfile.write(b"\x88\x02\x03\xe8")  # close frame, 1000: normal closure
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls_files is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, tls_files))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def carrying(self, text: str) -> list[dict[str, object]]:
        """Requests that reached the upstream with ``text`` anywhere: path, any header, body."""
        return [req for req in list(self.seen) if text in json.dumps(req)]

    def seen_with(self, header: str, value: str) -> list[dict[str, object]]:
        """Requests that reached the upstream carrying ``header: value`` (case-insensitive name)."""
        out = []
        for req in self.seen:
            headers = {k.lower(): v for k, v in req["headers"].items()}  # type: ignore[attr-defined]
            if headers.get(header.lower()) == value:
                out.append(req)
        return out


@contextmanager
def upstream(tls_files: tuple[Path, Path] | None = None) -> Iterator[Upstream]:
    server = Upstream(tls_files)
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


class Mitmdump:
    """A running mitmdump on a free loopback port (its confdir holds the CA clients trust)."""

    def __init__(self, proc: subprocess.Popen[str], port: int, confdir: Path) -> None:
        self.proc = proc
        self.port = port
        self.confdir = confdir
        self.proxy_url = f"http://127.0.0.1:{port}"
        self.ca_cert = confdir / "mitmproxy-ca-cert.pem"
        self.output = ""


@contextmanager
def mitmdump(
    confdir: Path, *args: str, with_addon: bool = True, startup_timeout: float = 60.0
) -> Iterator[Mitmdump]:
    """Run mitmdump (optionally with our addon); stop it with SIGTERM so ``done`` runs."""
    argv = [
        MITMDUMP,
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        "0",
        "--set",
        f"confdir={confdir}",
        "--set",
        "ssl_insecure=true",
        "--set",
        "flow_detail=0",
    ]
    if with_addon:
        argv += ["-s", ADDON]
    argv += list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    port = None
    deadline = time.monotonic() + startup_timeout
    assert proc.stdout is not None
    while port is None:
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=10)
            raise RuntimeError("mitmdump exited during startup:\n" + "".join(lines))
        lines.append(line)
        match = re.search(r"listening at 127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("mitmdump did not start:\n" + "".join(lines))
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    running = Mitmdump(proc, port, confdir)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)
        running.output = "".join(lines + rest)
