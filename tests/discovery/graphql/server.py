"""A real GraphQL server (strawberry, served by uvicorn on a loopback port chosen by the kernel)
and the schema it serves, for the GraphQL tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.schema.config import StrawberryConfig


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str
    legacy_name: str = strawberry.field(
        default="", deprecation_reason="use name", name="legacyName"
    )


USERS = {"1": User(id=strawberry.ID("1"), name="ada", email="ada@example.org", legacy_name="a")}


@strawberry.type
class Query:
    @strawberry.field
    def user(self, id: strawberry.ID) -> User | None:
        return USERS.get(str(id))

    @strawberry.field
    def users(self) -> list[User]:
        return list(USERS.values())

    @strawberry.field(deprecation_reason="use users")
    def all_users(self) -> list[User]:
        return list(USERS.values())

    @strawberry.field
    def health(self) -> str:
        return "ok"


@strawberry.type
class Mutation:
    @strawberry.mutation
    def create_user(self, name: str, api_key: str) -> User:
        user = User(id=strawberry.ID(str(len(USERS) + 1)), name=name, email=f"{name}@example.org")
        USERS[str(user.id)] = user
        return user

    @strawberry.mutation
    def delete_user(self, id: strawberry.ID) -> bool:
        return USERS.pop(str(id), None) is not None


SCHEMA = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(batching_config={"max_operations": 10}),
)
# What the server documents: its SDL (the spec a responder imports)
SDL = SCHEMA.as_str()


@dataclass
class Running:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


@contextmanager
def graphql_server() -> Iterator[Running]:
    """The server on 127.0.0.1, on a free port, until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app: Any = GraphQL(SCHEMA)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield Running(port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
