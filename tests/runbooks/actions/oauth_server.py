"""A real RFC 7009 revocation endpoint built with Authlib (Flask, served by werkzeug on loopback).

It also serves ``GET /api/me`` guarded by the tokens it knows, so a test can show a revoked token
stops working.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

CLIENT_ID = "ir-console-client"
CLIENT_SECRET = "client-secret-for-tests"


class Client(ClientMixin):
    def __init__(self, client_id: str, secret: str) -> None:
        self.client_id = client_id
        self.secret = secret

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")


@dataclass
class Token(TokenMixin):
    access_token: str
    client_id: str
    revoked: bool = False

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return ""

    def get_expires_in(self) -> int:
        return 3600

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class OAuthServer:
    url: str
    tokens: dict[str, Token] = field(default_factory=dict)
    revocations: list[dict[str, str]] = field(default_factory=list)

    @property
    def revocation_url(self) -> str:
        return self.url + "/oauth/revoke"

    def issue(self, value: str, client_id: str = CLIENT_ID) -> Token:
        token = Token(value, client_id)
        self.tokens[value] = token
        return token


@contextmanager
def oauth_server() -> Iterator[OAuthServer]:
    """Run the Authlib server on 127.0.0.1 (free port); stopped when the block ends."""
    app = Flask("oauth-test")
    clients = {CLIENT_ID: Client(CLIENT_ID, CLIENT_SECRET), "other": Client("other", "x")}
    state = OAuthServer(url="")

    class Revocation(RevocationEndpoint):
        CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            return state.tokens.get(token_string)

        def revoke_token(self, token: Token, request: Any) -> None:
            token.revoked = True

    server = AuthorizationServer(app, query_client=clients.get, save_token=lambda t, r: None)
    server.register_endpoint(Revocation)

    @app.post("/oauth/revoke")
    def revoke() -> Any:
        state.revocations.append(
            {
                "content_type": request.content_type or "",
                "authorization": request.headers.get("Authorization", ""),
                **request.form.to_dict(),
            }
        )
        return server.create_endpoint_response("revocation")

    @app.get("/api/me")
    def me() -> Any:
        value = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = state.tokens.get(value)
        if token is None or token.revoked:
            return jsonify(error="invalid_token"), 401
        return jsonify(client=token.client_id)

    http = make_server("127.0.0.1", 0, app, threaded=True)
    state.url = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        http.shutdown()
        thread.join(5)
