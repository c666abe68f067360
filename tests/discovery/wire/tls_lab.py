"""Real TLS and HTTP/2 traffic on loopback for the decryption tests: nginx (TLS 1.2/1.3,
HTTP/1.1 and HTTP/2, h2c with prior knowledge) with a throwaway certificate, curl clients with
``SSLKEYLOGFILE``, tcpdump around them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool
from tests.discovery.proxyfixtures import self_signed_cert

HOST = "api.tls.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Nginx:
    tls_port: int  # TLS, HTTP/1.1 and HTTP/2 (ALPN)
    h2c_port: int  # cleartext HTTP/2 with prior knowledge
    plain_port: int  # cleartext HTTP/1.1 (the equivalent of the decrypted calls)
    cert: Path


_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {ciphers};
    server {{
        listen 127.0.0.1:{tls} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
        location /v1/charges {{ proxy_pass http://127.0.0.1:{backend}/ok; }}  # reads the body
        location /missing {{ return 404; }}
    }}
    server {{
        listen 127.0.0.1:{h2c} http2;
        location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
        location /v1/charges {{ proxy_pass http://127.0.0.1:{backend}/ok; }}  # reads the body
    }}
    server {{
        listen 127.0.0.1:{backend};
        location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
    }}
    server {{
        listen 127.0.0.1:{plain};
        location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
        location /v1/charges {{ proxy_pass http://127.0.0.1:{backend}/ok; }}  # reads the body
    }}
}}
"""


@contextmanager
def nginx(folder: Path, kind: str = "ec", ciphers: str = "HIGH") -> Iterator[Nginx]:
    exe = require_tool("nginx")
    cert, key = self_signed_cert(folder, HOST, kind=kind, stem=kind)
    ports = (free_port(), free_port(), free_port())
    backend = free_port()  # behind /v1/charges (proxied, so nginx reads the request body)
    conf = folder / "nginx.conf"
    conf.write_text(
        _CONF.format(
            dir=folder,
            tls=ports[0],
            h2c=ports[1],
            plain=ports[2],
            backend=backend,
            cert=cert,
            key=key,
            ciphers=ciphers,
        )
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", ports[0]), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield Nginx(*ports, cert)
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def capture(path: Path, ports: tuple[int, ...]) -> Iterator[Path]:
    """tcpdump on ``lo`` of the given TCP ports until the block ends."""
    import signal

    from tests.discovery.redact.credentials.loopback_capture import _settle

    exe = require_tool("tcpdump")
    expr: list[str] = ["tcp", "and", "("]
    for i, port in enumerate(ports):
        expr += (["or"] if i else []) + ["port", str(port)]
    expr.append(")")
    proc = subprocess.Popen(
        [exe, "-i", "lo", "-U", "--immediate-mode", "-n", "-s", "0", "-w", str(path), *expr],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if "listening" not in line:
            import pytest

            pytest.skip(f"tcpdump cannot capture on lo here: {line.strip()[:120]}")
        yield path
        _settle(path, quiet=1.0)  # a loaded machine: tcpdump may write the last packets late
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def curl(
    url: str,
    port: int,
    keylog: Path | None,
    *options: str,
    headers: tuple[str, ...] = (),
) -> None:
    """One curl call to HOST (resolved to loopback) with its key log."""
    exe = require_tool("curl")
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    if keylog is not None:
        env["SSLKEYLOGFILE"] = str(keylog)
    argv = [exe, "-sS", "-o", "/dev/null", "-k", "--resolve", f"{HOST}:{port}:127.0.0.1", *options]
    for header in headers:
        argv += ["-H", header]
    subprocess.run([*argv, url], env=env, check=True, timeout=30)


def tshark_requests(path: Path, *options: str) -> Counter[tuple[str, str]]:
    """Every request tshark reads in a capture, HTTP/1.x and HTTP/2, counted by (method, target);
    ``options`` are tshark's own (``-o tls.keylog_file:FILE``, ``-d tcp.port==N,http``)."""
    exe = require_tool("tshark")
    argv = [exe, "-n", "-r", str(path), *options]
    argv += ["-Y", "http.request or http2.headers.method", "-T", "fields"]
    argv += ["-e", "http.request.method", "-e", "http.request.uri"]
    argv += ["-e", "http2.headers.method", "-e", "http2.headers.path", "-E", "separator=\t"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    seen: Counter[tuple[str, str]] = Counter()
    for line in out.splitlines():
        h1_method, h1_uri, h2_methods, h2_paths = ([*line.split("\t"), "", "", "", ""])[:4]
        if h1_method:
            seen[(h1_method, h1_uri)] += 1
        for method, target in zip(h2_methods.split(","), h2_paths.split(","), strict=False):
            if method:
                seen[(method, target)] += 1
    return seen
