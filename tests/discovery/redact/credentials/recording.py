"""A loopback HTTP server that records each request's raw method, target and header lines.

Real clients (curl, httpx, botocore) talk to it; tests feed what it recorded (request line,
headers and body) to the detectors,
exactly as a capture source would. It answers Digest challenges and S3's ListBuckets so the
clients complete their normal exchange.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from discovery.models import ObservedExchange

S3_LIST = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns='
    b'"http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>1</ID></Owner><Buckets/>'
    b"</ListAllMyBucketsResult>"
)


@dataclass
class Recorded:
    ts: float
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    client: tuple[str, int]
    status: int
    body: bytes = b""


@dataclass
class Recorder:
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def observed(self) -> list[ObservedExchange]:
        """What a capture source would emit for the recorded requests."""
        out = []
        for i, r in enumerate(self.requests):
            host = next((v for k, v in r.headers if k.lower() == "host"), None)
            out.append(
                ObservedExchange(
                    ts=r.ts,
                    source="live",
                    evidence=f"request {i}",
                    client_ip=r.client[0],
                    client_port=r.client[1],
                    server_ip="127.0.0.1",
                    server_port=self.port,
                    http_version="1.1",
                    method=r.method,
                    target=r.target,
                    host=host,
                    status=r.status,
                    request_headers=r.headers,
                    request_body=r.body,
                )
            )
        return out


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(length) if length else b""
            auth = self.headers.get("Authorization") or ""
            status, body, extra = 200, b'{"ok":true}', []
            if self.path.startswith("/digest") and not auth.startswith("Digest "):
                status, body = 401, b""
                extra = [
                    (
                        "WWW-Authenticate",
                        'Digest realm="ir-test", qop="auth", nonce="abc123", opaque="xyz"',
                    )
                ]
            elif "AWS4-HMAC-SHA256" in auth:
                body = S3_LIST
            recorder.requests.append(
                Recorded(
                    time.time(),
                    self.command,
                    self.path,
                    tuple(self.headers.items()),
                    self.client_address[:2],
                    status,
                    sent,
                )
            )
            self.send_response(status)
            for name, value in extra:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: request lines may hold secrets

    return Handler


@contextmanager
def recording_server() -> Iterator[Recorder]:
    """A recording server on a free loopback port, shut down on exit."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
