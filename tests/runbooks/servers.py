"""A real HTTP server on loopback for action tests: records every request, answers by script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Server:
    """The running server: ``url``, the requests it saw, and the function that answers."""

    url: str
    requests: list[Seen] = field(default_factory=list)
    answer: Callable[[Seen], Reply] = lambda seen: (
        200,
        {"Content-Type": "application/json"},
        b'{"ok": true}',
    )
    delay: float = 0.0

    def calls(self, path: str | None = None) -> list[Seen]:
        return [r for r in self.requests if path is None or r.path == path]


@contextmanager
def http_server(answer: Callable[[Seen], Reply] | None = None) -> Iterator[Server]:
    """Start a threaded HTTP server on 127.0.0.1 (free port); stopped when the block ends."""
    state = Server(url="")
    if answer is not None:
        state.answer = answer

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.requests.append(seen)
            if state.delay:
                time.sleep(state.delay)
            status, headers, body = state.answer(seen)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
