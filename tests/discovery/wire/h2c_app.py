"""The ASGI app hypercorn serves in the h2c upgrade captures: JSON for every path (404 for
``/missing``), the request body read whole, the HTTP version it was answered in echoed."""

from __future__ import annotations

import json
from typing import Any

Receive = Any
Send = Any


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"path": scope["path"], "http": scope["http_version"], "read": size})
    await send(
        {
            "type": "http.response.start",
            "status": 404 if scope["path"] == "/missing" else 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
