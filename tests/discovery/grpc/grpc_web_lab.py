"""The lab's servicers behind a real gRPC-Web server over HTTP/1.1: sonora's WSGI application
(a gRPC-Web implementation from PyPI) served by werkzeug's threaded WSGI server (HTTP/1.1), and
two real clients: sonora's own client (``application/grpc-web+proto``) and httpx speaking
``application/grpc-web-text`` (base64, as browsers' grpc-web clients do), framed by hand.

Two shims, both for sonora 0.2.3 (2023) against today's generated code, neither touching the
wire: the server ignores ``add_registered_method_handlers`` (grpcio >= 1.62's generated code
registers each service twice; the generic handlers sonora reads already hold the methods), and
the channel drops the ``_registered_method`` keyword the generated stubs pass.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.discovery.grpc.grpc_lab import CONTACT_EMAIL, FAILURES, Compiled, Lab, _servicers


@dataclass
class WebLab:
    lab: Lab  # the credentials the clients send
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serve_web(compiled: Compiled) -> Iterator[WebLab]:
    """The lab's Accounts service as gRPC-Web on a free loopback port (HTTP/1.1)."""
    from sonora.wsgi import grpcWSGI
    from werkzeug.serving import make_server

    class Server(grpcWSGI):  # type: ignore[misc]
        def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
            """Already served through the generic handlers (see the module's docstring)."""

    app = Server(None)
    accounts, _debug = _servicers(compiled)
    compiled.rpc.add_AccountsServicer_to_server(accounts, app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebLab(Lab(0, compiled, token="", api_key=""), server.server_port)
    finally:
        server.shutdown()
        thread.join(10)


def _fresh_lab(compiled: Compiled) -> Lab:
    import secrets

    return Lab(0, compiled, token="lab" + secrets.token_hex(20), api_key=secrets.token_hex(24))


def call_web(web: WebLab, url: str | None = None) -> dict[str, str]:
    """sonora's client and httpx (grpc-web-text) against ``url`` (the server, or a proxy in
    front of it): every outcome by name -> the status code name the client saw."""
    import grpc
    import httpx
    from sonora.client import WebChannel
    from sonora.protocol import WebRpcError

    class Channel(WebChannel):  # type: ignore[misc]
        def unary_unary(
            self, path: str, request_serializer: Any, response_deserializer: Any, **_: Any
        ) -> Any:
            return super().unary_unary(path, request_serializer, response_deserializer)

    if not web.lab.token:
        web.lab = _fresh_lab(web.lab.compiled)
    lab, pb = web.lab, web.lab.compiled.pb
    auth = (("authorization", f"Bearer {lab.token}"), ("x-api-key", lab.api_key))
    outcomes: dict[str, str] = {}
    with Channel(url or web.url) as channel:
        accounts = lab.compiled.rpc.AccountsStub(channel)
        calls = {
            "get": lambda: accounts.GetAccount(pb.AccountRequest(id="a-1"), metadata=auth),
            "get_unauthenticated": lambda: accounts.GetAccount(pb.AccountRequest(id="a-1")),
            "get_forbidden": lambda: accounts.GetAccount(
                pb.AccountRequest(id="forbidden"), metadata=auth
            ),
            **{
                f"get_{id_}": (
                    lambda id_=id_: accounts.GetAccount(pb.AccountRequest(id=id_), metadata=auth)
                )
                for id_ in FAILURES
                if id_ != "crash"  # sonora's WSGI app lets the exception out: HTTP 500, below
            },
            "get_with_context": lambda: accounts.GetAccount(
                pb.AccountRequest(
                    id="a-1",
                    context=pb.RequestContext(token=lab.message_token, contact=CONTACT_EMAIL),
                ),
                metadata=auth,
            ),
        }
        for name, call in calls.items():
            try:
                call()
                outcomes[name] = "OK"
            except (WebRpcError, grpc.RpcError) as exc:
                outcomes[name] = exc.code().name
    # grpc-web-text, as a browser sends it: base64 of the length-prefixed message, and the
    # answer base64 too, its trailers a frame with bit 7 set
    message = pb.AccountRequest(
        id="a-1", context=pb.RequestContext(token=lab.message_token)
    ).SerializeToString()
    body = base64.b64encode(b"\x00" + len(message).to_bytes(4, "big") + message)
    response = httpx.post(
        f"{url or web.url}/lab.v1.Accounts/GetAccount",
        content=body,
        headers={
            "content-type": "application/grpc-web-text",
            "accept": "application/grpc-web-text",
            "x-grpc-web": "1",
            "authorization": f"Bearer {lab.token}",
        },
        timeout=10,
    )
    outcomes["get_text"] = _web_text_status(response.status_code, response.content)
    return outcomes


def _web_text_status(http: int, body: bytes) -> str:
    """The grpc-status name a grpc-web-text answer's trailer frame holds."""
    import grpc

    if http != 200:
        return f"HTTP_{http}"
    # each frame may be its own base64 segment, padded: decoded one by one
    data = b"".join(base64.b64decode(seg) for seg in re.findall(rb"[A-Za-z0-9+/]+=*", body))
    pos = 0
    while pos + 5 <= len(data):
        flags, size = data[pos], int.from_bytes(data[pos + 1 : pos + 5], "big")
        payload = data[pos + 5 : pos + 5 + size]
        pos += 5 + size
        if flags & 0x80:
            for line in payload.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.strip().lower() == "grpc-status":
                    code = int(value.strip())
                    return next(c.name for c in grpc.StatusCode if c.value[0] == code)
    return "NO_STATUS"
