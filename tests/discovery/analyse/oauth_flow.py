"""A real OAuth 2.0 authorization server built with Authlib (Flask, werkzeug on loopback): the
client credentials, password and refresh token grants at ``/oauth/token``, and an API at
``/api/orders`` that accepts the opaque bearer tokens it issued."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Flask, jsonify, request
from werkzeug.serving import make_server


class Client(ClientMixin):
    def __init__(self, client_id: str, secret: str, grant_types: tuple[str, ...]) -> None:
        self.client_id = client_id
        self.secret = secret
        self.grant_types = grant_types

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return "http://127.0.0.1/cb"

    def get_allowed_scope(self, scope: str) -> str:
        return scope or "orders:read"

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return True

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class User:
    name: str

    def get_user_id(self) -> str:
        return self.name


@dataclass
class Issued:
    client_id: str
    user: str | None
    scope: str
    refresh_token: str | None = None
    revoked: bool = False

    def get_scope(self) -> str:
        return self.scope

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:
        return False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id


@dataclass
class OAuthFlowServer:
    url: str = ""
    port: int = 0
    access: dict[str, Issued] = field(default_factory=dict)
    refresh: dict[str, Issued] = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"


@contextmanager
def oauth_flow_server(clients: list[Client], users: dict[str, str]) -> Iterator[OAuthFlowServer]:
    """Run the server on 127.0.0.1 (free port) until the block ends."""
    state = OAuthFlowServer()
    by_id = {c.client_id: c for c in clients}
    app = Flask("oauth-flow")
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True  # refresh tokens for the password grant
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # quiet: one line per request

    def save_token(token: dict[str, Any], req: Any) -> None:
        user = req.user.name if req.user else None
        issued = Issued(req.client.client_id, user, token.get("scope", ""))
        state.access[token["access_token"]] = issued
        if token.get("refresh_token"):
            issued.refresh_token = token["refresh_token"]
            state.refresh[token["refresh_token"]] = issued

    class ClientCredentials(grants.ClientCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

    class Password(grants.ResourceOwnerPasswordCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def authenticate_user(self, username: str, password: str) -> User | None:
            return User(username) if users.get(username) == password else None

    class Refresh(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
        INCLUDE_NEW_REFRESH_TOKEN = True

        def authenticate_refresh_token(self, refresh_token: str) -> Issued | None:
            found = state.refresh.get(refresh_token)
            return None if found is None or found.revoked else found

        def authenticate_user(self, credential: Issued) -> User | None:
            return User(credential.user) if credential.user else None

        def revoke_old_credential(self, credential: Issued) -> None:
            credential.revoked = True

    server = AuthorizationServer(app, query_client=by_id.get, save_token=save_token)
    server.register_grant(ClientCredentials)
    server.register_grant(Password)
    server.register_grant(Refresh)

    @app.post("/oauth/token")
    def token() -> Any:
        return server.create_token_response()

    @app.get("/api/orders")
    def orders() -> Any:
        value = request.headers.get("Authorization", "").removeprefix("Bearer ")
        issued = state.access.get(value)
        if issued is None:
            return jsonify(error="invalid_token"), 401
        return jsonify(orders=[{"id": 1}], client=issued.client_id)

    http = make_server("127.0.0.1", 0, app, threaded=True)
    state.port = http.server_port
    state.url = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        time.sleep(0.05)
        yield state
    finally:
        http.shutdown()
        thread.join(5)
