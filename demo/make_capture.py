#!/usr/bin/env python3
"""Regenerate the demo capture: real services and real clients on loopback, recorded by tcpdump.

Run as root (tcpdump needs CAP_NET_RAW, the services bind ports 80 and 443):

    .venv/bin/python demo/make_capture.py            # writes ir_console/demo/demo.pcap

Acme's gateway answers for ``api.acme.example`` and ``legacy.acme.example`` (virtual hosts by
the Host header) on 127.77.0.10:80, the partner gateway for ``partner.acme.example`` on
127.77.0.20:80, and three TLS services (``payments``, ``auth``, ``vault.internal``) on :443 with a
self-signed certificate made here. Clients are http.client, httpx and curl, each bound to its own
source address (127.0.1.x) so the capture shows who called from where. Every secret is fake and
derived from a fixed seed, so a regenerated capture carries the same keys (JWT times follow the
clock). The scenario is told in ``SCENARIO`` below; the specs and the register beside the capture
(``ir_console/demo/``) are written by hand to match it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import ipaddress
import json
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from base64 import b64encode
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

SCENARIO = """
Acme runs a public API (api.acme.example, documented by acme-api.openapi.yaml), a partner gateway
(partner.acme.example, documented by partner-api.openapi.yaml) and an old reporting host
(legacy.acme.example, documented nowhere). In one afternoon's traffic:

* billing-sync (service account, 127.0.1.10) calls the API with a JWT valid for a year, whose
  scopes include two it never uses; it also reads a customer without the scope the spec requires.
* Globex (partner, 127.0.1.20) uses its partner key as intended ...
* ... and the same key, leaked, is used from 127.0.1.99: it walks 64 partner order ids
  (enumeration) and reaches the partner gateway's staff-only admin endpoints.
* legacy-reporting (127.0.1.50) still calls the deprecated /v1/reports/legacy (a zombie) with a
  token that expired a month ago; the gateway does not check.
* an unregistered data-science notebook (127.0.1.60) pulls /v1/internal/customers/export, an
  undocumented endpoint whose response holds emails and a payment card number.
* a reporting bot (127.0.1.30) puts its API key in the query string of legacy.acme.example;
  a batch job (127.0.1.40) sends Basic credentials in cleartext to the same host.
* a scanner (127.0.1.66) probes two dozen routes (all 404) and reads a customer record without any
  credential, which the gateway wrongly serves (the spec requires auth).
* TLS connections to payments, auth and vault.internal are opaque: hosts known by SNI only.
"""

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "ir_console" / "demo" / "demo.pcap"
MAX_BYTES = 2 * 1024 * 1024
SEED = 20261128

GATEWAY_IP = "127.77.0.10"  # api.acme.example + legacy.acme.example
PARTNER_IP = "127.77.0.20"  # partner.acme.example
TLS_IP = "127.77.0.40"  # payments.acme.example, auth.acme.example (SNI)
VAULT_IP = "127.77.0.41"  # vault.internal.acme.example
CAPTURE_NET = "127.77.0.0/16"

CLIENT_BILLING = "127.0.1.10"
CLIENT_GLOBEX = "127.0.1.20"
CLIENT_REPORT_BOT = "127.0.1.30"
CLIENT_BATCH = "127.0.1.40"
CLIENT_LEGACY_JOB = "127.0.1.50"
CLIENT_NOTEBOOK = "127.0.1.60"
CLIENT_SCANNER = "127.0.1.66"
CLIENT_UNKNOWN = "127.0.1.99"

TLS_NAMES = ("payments.acme.example", "auth.acme.example", "vault.internal.acme.example")
ISSUER = "https://auth.acme.example/"
DAY = 86400


# --------------------------------------------------------------------------- fake secrets


class Secrets:
    """Every fake secret of the scenario, derived from the seed (same keys on every run)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

        def token(n: int) -> str:
            return "".join(rng.choice(alphabet) for _ in range(n))

        self.jwt_signing_key = token(48)  # HS256 key of the fake authorization server
        self.globex_partner_key = "acme_pk_globex_" + token(28)  # the leaked key
        self.report_bot_key = "rk" + token(30)  # api key sent in a query string
        self.batch_password = "Export-" + token(10)  # Basic password, in cleartext on the wire


def make_jwt(
    secrets_: Secrets,
    now: float,
    *,
    sub: str,
    client_id: str,
    scope: str,
    issued_days_ago: float,
    lifetime_days: float,
) -> str:
    """A fake access token signed with the throwaway HS256 key (nothing verifies it but us)."""
    iat = int(now - issued_days_ago * DAY)
    claims = {
        "iss": ISSUER,
        "sub": sub,
        "aud": "https://api.acme.example",
        "client_id": client_id,
        "scope": scope,
        "iat": iat,
        "nbf": iat,
        "exp": int(iat + lifetime_days * DAY),
        "jti": f"{client_id}-{iat}",
    }
    return jwt.encode(
        claims, secrets_.jwt_signing_key, algorithm="HS256", headers={"kid": "demo-2026"}
    )


# --------------------------------------------------------------------------- fake data

FIRST = ["Dana", "Lee", "Priya", "Tomas", "Ana", "Kenji", "Fatima", "Ola", "Marek", "Ines"]
LAST = ["Whitfield", "Okafor", "Nakamura", "Silva", "Berg", "Haddad", "Novak", "Ruiz"]
TEST_CARD = "4111 1111 1111 1111"  # the well-known Luhn-valid test card number


def customer(rng: random.Random, cid: int, *, with_card: bool = False) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    record: dict[str, Any] = {
        "id": cid,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}@example.com",
        "country": rng.choice(["DE", "FR", "US", "JP", "BR"]),
    }
    if with_card:
        record["card"] = {"number": TEST_CARD, "exp": "12/29"}
    return record


def order(rng: random.Random, oid: int) -> dict[str, Any]:
    return {
        "id": oid,
        "status": rng.choice(["paid", "shipped", "open"]),
        "total": round(rng.uniform(20, 900), 2),
        "currency": "EUR",
        "lines": [
            {"sku": f"SKU-{rng.randint(1000, 9999)}", "qty": rng.randint(1, 4)}
            for _ in range(rng.randint(1, 3))
        ],
    }


# --------------------------------------------------------------------------- services

Reply = tuple[int, Any]
Route = tuple[str, re.Pattern[str], Callable[["Request"], Reply]]


class Request:
    """What a route handler sees of a request."""

    def __init__(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        match: re.Match[str],
    ) -> None:
        self.method, self.path, self.query = method, path, query
        self.headers, self.body, self.match = headers, body, match

    def credential(self) -> str | None:
        return (
            self.headers.get("authorization")
            or self.headers.get("x-api-key")
            or (self.query.get("api_key") or [None])[0]
        )


def authed(handler: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
    """Reject requests without any credential (the gateway checks presence, not validity)."""

    def wrapped(req: Request) -> Reply:
        if not req.credential():
            return 401, {"error": "unauthorized"}
        return handler(req)

    return wrapped


def api_routes(rng: random.Random) -> list[Route]:
    """api.acme.example: mostly documented; one deprecated; one internal export nobody listed."""

    def r(method: str, pattern: str, fn: Callable[[Request], Reply]) -> Route:
        return method, re.compile(f"^{pattern}$"), fn

    return [
        r(
            "GET",
            "/v1/orders",
            authed(lambda q: (200, {"orders": [order(rng, 10400 + i) for i in range(3)]})),
        ),
        r("POST", "/v1/orders", authed(lambda q: (201, order(rng, 10990)))),
        r("GET", r"/v1/orders/(\d+)", authed(lambda q: (200, order(rng, int(q.match[1]))))),
        r(
            "GET",
            r"/v1/invoices/(INV-\d{4}-\d{6})",
            authed(lambda q: (200, {"id": q.match[1], "amount": 129.9, "status": "paid"})),
        ),
        # the bug the scanner finds: served without checking for a credential
        r("GET", r"/v1/customers/(\d+)", lambda q: (200, customer(rng, int(q.match[1])))),
        r("GET", "/v1/users/me", authed(lambda q: (200, {"id": "svc", "type": "service"}))),
        r("GET", "/v1/reports/legacy", authed(lambda q: (200, {"rows": 1200, "format": "v1"}))),
        r(
            "GET",
            "/v1/internal/customers/export",
            authed(
                lambda q: (
                    200,
                    {"customers": [customer(rng, 7000 + i, with_card=(i == 2)) for i in range(5)]},
                )
            ),
        ),
        r("GET", "/healthz", lambda q: (200, {"ok": True})),
    ]


def legacy_routes(rng: random.Random) -> list[Route]:
    """legacy.acme.example: no spec at all; keys in query strings and Basic auth in cleartext."""
    return [
        (
            "GET",
            re.compile(r"^/reports/(daily|weekly)$"),
            authed(lambda q: (200, {"report": q.match[1], "rows": rng.randint(100, 900)})),
        ),
        (
            "GET",
            re.compile(r"^/export/customers\.csv$"),
            authed(
                lambda q: (
                    200,
                    "id,email\n"
                    + "".join(
                        f"{c['id']},{c['email']}\n"
                        for c in (customer(rng, 8000 + i) for i in range(4))
                    ),
                )
            ),
        ),
    ]


def partner_routes(rng: random.Random) -> list[Route]:
    """partner.acme.example: documented under /partner/v2; its admin routes trust any key."""
    pre = "/partner/v2"
    return [
        (
            "GET",
            re.compile(f"^{pre}/catalog$"),
            authed(lambda q: (200, {"items": [{"sku": f"SKU-{1000 + i}"} for i in range(4)]})),
        ),
        ("POST", re.compile(f"^{pre}/orders$"), authed(lambda q: (201, order(rng, 50199)))),
        (
            "GET",
            re.compile(rf"^{pre}/orders/(\d+)$"),
            authed(
                lambda q: (
                    (404, {"error": "not found"})
                    if int(q.match[1]) % 17 == 0
                    else (200, order(rng, int(q.match[1])))
                )
            ),
        ),
        (
            "GET",
            re.compile(f"^{pre}/admin/partners$"),
            authed(lambda q: (200, {"partners": ["globex", "initech", "umbrella"]})),
        ),
        (
            "GET",
            re.compile(f"^{pre}/admin/keys$"),
            authed(
                lambda q: (200, {"keys": [{"partner": "initech", "prefix": "acme_pk_initech_"}]})
            ),
        ),
    ]


class Handler(BaseHTTPRequestHandler):
    """Routes by virtual host (Host header), then method and path; JSON answers, keep-alive."""

    protocol_version = "HTTP/1.1"
    server_version = "acme-gateway/1.8"
    sys_version = ""
    vhosts: ClassVar[dict[str, list[Route]]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        parts = urlsplit(self.path)
        status, payload = 404, {"error": "not found"}
        for method, pattern, fn in self.vhosts.get(host, []):
            match = pattern.match(parts.path)
            if match and method == self.command:
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    match,
                )
                status, payload = fn(request)
                break
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/csv"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_HEAD = _handle


def handler_for(vhosts: dict[str, list[Route]]) -> type[Handler]:
    return type("VhostHandler", (Handler,), {"vhosts": vhosts})


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for the TLS names (also its own trust anchor)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme demo services")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in TLS_NAMES]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False), True
        )
        .add_extension(ski, False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Services:
    """Starts every service on its loopback address; stops them all on exit."""

    def __init__(self, rng: random.Random, cert: Path, key: Path) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        plans = [
            (
                GATEWAY_IP,
                80,
                {"api.acme.example": api_routes(rng), "legacy.acme.example": legacy_routes(rng)},
                None,
            ),
            (PARTNER_IP, 80, {"partner.acme.example": partner_routes(rng)}, None),
            (TLS_IP, 443, {n: api_routes(rng) for n in TLS_NAMES[:2]}, tls),
            (VAULT_IP, 443, {TLS_NAMES[2]: []}, tls),
        ]
        self.servers: list[ThreadingHTTPServer] = []
        self.threads: list[threading.Thread] = []
        for ip, port, vhosts, context in plans:
            try:
                server = ThreadingHTTPServer((ip, port), handler_for(vhosts))
            except OSError as exc:
                self.stop()
                sys.exit(f"make_capture: cannot listen on {ip}:{port}: {exc} (run as root)")
            if context is not None:
                server.socket = context.wrap_socket(server.socket, server_side=True)
            self.servers.append(server)

    def start(self) -> None:
        for server in self.servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


# --------------------------------------------------------------------------- capture


class Tcpdump:
    """tcpdump on ``lo`` limited to the demo's addresses, packet-buffered, stopped with SIGINT."""

    def __init__(self, output: Path) -> None:
        exe = shutil.which("tcpdump")
        if exe is None:
            sys.exit("make_capture: tcpdump is not installed")
        self.proc = subprocess.Popen(
            [
                exe,
                "-i",
                "lo",
                "-n",
                "-U",
                "--immediate-mode",
                "-s",
                "0",
                "-w",
                str(output),
                "net",
                CAPTURE_NET,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        seen = []
        while True:  # wait for "listening on lo", so no packet is missed
            line = self.proc.stderr.readline()
            seen.append(line.strip())
            if "listening" in line:
                break
            if not line:
                self.proc.wait()
                sys.exit(f"make_capture: tcpdump did not start: {' '.join(seen)}")

    def stop(self) -> str:
        time.sleep(0.5)  # let the last FIN/ACKs through
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=10)
        return err.strip()


# --------------------------------------------------------------------------- clients


def curl(source: str, resolve: list[str], args: list[str]) -> None:
    """Run curl bound to a source address, hosts pinned to loopback with --resolve."""
    argv = ["curl", "--silent", "--show-error", "--interface", source, "--max-time", "10"]
    for item in resolve:
        argv += ["--resolve", item]
    subprocess.run([*argv, *args], check=True, stdout=subprocess.DEVNULL)


def http_client(source: str, server_ip: str, host: str) -> http.client.HTTPConnection:
    """A keep-alive http.client connection from a given source address."""
    conn = http.client.HTTPConnection(server_ip, 80, timeout=10, source_address=(source, 0))
    conn._ir_host = host  # type: ignore[attr-defined]
    return conn


def call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> int:
    conn.request(method, path, body=body, headers={"Host": conn._ir_host, **(headers or {})})  # type: ignore[attr-defined]
    response = conn.getresponse()
    response.read()
    return response.status


class PinnedTransport(httpx.HTTPTransport):
    """httpx transport that binds a source address and sends a host to its loopback address."""

    def __init__(self, source: str, pins: dict[str, str], verify: Any = True) -> None:
        super().__init__(local_address=source, verify=verify)
        self.pins = pins

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.pins and request.url.scheme == "http":
            # connect to the pinned address, keep the Host header as the name
            request.url = request.url.copy_with(host=self.pins[host])
            request.headers["Host"] = host
        return super().handle_request(request)


def httpx_client(source: str, agent: str, **headers: str) -> httpx.Client:
    transport = PinnedTransport(
        source,
        {
            "api.acme.example": GATEWAY_IP,
            "legacy.acme.example": GATEWAY_IP,
            "partner.acme.example": PARTNER_IP,
        },
    )
    return httpx.Client(transport=transport, headers={"User-Agent": agent, **headers}, timeout=10)


def pause() -> None:
    time.sleep(0.05)


def billing_sync(s: Secrets, now: float) -> None:
    """A service account with a one-year token and two scopes it never uses."""
    token = make_jwt(
        s,
        now,
        sub="svc-billing-sync",
        client_id="billing-sync",
        scope="orders:read orders:write invoices:read refunds:write customers:delete",
        issued_days_ago=41,
        lifetime_days=365,
    )
    api = "http://api.acme.example"
    with httpx_client(
        CLIENT_BILLING, "billing-sync/2.4 (+httpx)", Authorization=f"Bearer {token}"
    ) as client:
        client.get(f"{api}/v1/users/me")
        client.get(f"{api}/v1/orders", params={"status": "paid", "limit": "50"})
        for oid in (10401, 10402, 10417, 10433, 10438):
            client.get(f"{api}/v1/orders/{oid}")
        for n in (118, 119, 123):
            client.get(f"{api}/v1/invoices/INV-2026-{n:06d}")
        client.post(f"{api}/v1/orders", json={"customer": 4411, "lines": [{"sku": "SKU-1042"}]})
        client.get(f"{api}/v1/customers/4411")  # needs customers:read, which it lacks
        client.get(f"{api}/healthz")
    pause()


def globex_partner(s: Secrets) -> None:
    """The partner using its key as intended, from its own address (curl)."""
    base = "http://partner.acme.example/partner/v2"
    pin = [f"partner.acme.example:80:{PARTNER_IP}"]
    key = ["-H", f"X-API-Key: {s.globex_partner_key}", "-A", "globex-orders/5.1 curl"]
    curl(
        CLIENT_GLOBEX,
        pin,
        [*key, f"{base}/catalog", f"{base}/orders/50120", f"{base}/orders/50121"],
    )
    curl(
        CLIENT_GLOBEX,
        pin,
        [
            *key,
            "-H",
            "Content-Type: application/json",
            "--data",
            '{"sku":"SKU-1001","qty":2}',
            f"{base}/orders",
        ],
    )
    pause()


def leaked_key_abuse(s: Secrets) -> None:
    """The same partner key from an unknown address: admin routes, then an order-id walk."""
    conn = http_client(CLIENT_UNKNOWN, PARTNER_IP, "partner.acme.example")
    headers = {
        "X-API-Key": s.globex_partner_key,
        "User-Agent": "python-http.client/3.11",
        "Accept": "application/json",
    }
    for path in ("catalog", "admin/partners", "admin/keys"):
        call(conn, "GET", f"/partner/v2/{path}", headers)
    for oid in range(50120, 50184):  # 64 distinct ids in a few seconds
        call(conn, "GET", f"/partner/v2/orders/{oid}", headers)
    conn.close()
    pause()


def legacy_reporting(s: Secrets, now: float) -> None:
    """A job still calling the deprecated report endpoint with a token that expired."""
    token = make_jwt(
        s,
        now,
        sub="svc-legacy-reporting",
        client_id="legacy-reporting",
        scope="reports:read",
        issued_days_ago=120,
        lifetime_days=90,
    )
    with httpx_client(
        CLIENT_LEGACY_JOB, "legacy-reporting/0.9 (+httpx)", Authorization=f"Bearer {token}"
    ) as client:
        for month in ("2026-09", "2026-10", "2026-11"):
            client.get("http://api.acme.example/v1/reports/legacy", params={"month": month})
    pause()


def notebook(s: Secrets, now: float) -> None:
    """An identity nobody registered, pulling an undocumented export full of personal data."""
    token = make_jwt(
        s,
        now,
        sub="svc-ds-notebook",
        client_id="ds-notebook",
        scope="customers:read",
        issued_days_ago=0.2,
        lifetime_days=1,
    )
    with httpx_client(
        CLIENT_NOTEBOOK, "python-httpx/0.28 jupyter", Authorization=f"Bearer {token}"
    ) as client:
        client.get("http://api.acme.example/v1/internal/customers/export", params={"page": "1"})
        client.get("http://api.acme.example/v1/internal/customers/export", params={"page": "2"})
        client.get("http://api.acme.example/v1/orders", params={"limit": "10"})
    pause()


def report_bot(s: Secrets) -> None:
    """A bot with its API key in the query string (curl)."""
    base = "http://legacy.acme.example/reports"
    curl(
        CLIENT_REPORT_BOT,
        [f"legacy.acme.example:80:{GATEWAY_IP}"],
        [
            "-A",
            "report-bot/1.2",
            f"{base}/daily?api_key={s.report_bot_key}&date=2026-11-27",
            f"{base}/daily?api_key={s.report_bot_key}&date=2026-11-28",
            f"{base}/weekly?api_key={s.report_bot_key}&week=48",
        ],
    )
    pause()


def batch_export(s: Secrets) -> None:
    """A batch job sending Basic credentials over cleartext HTTP (http.client)."""
    basic = b64encode(f"batch-export:{s.batch_password}".encode()).decode()
    conn = http_client(CLIENT_BATCH, GATEWAY_IP, "legacy.acme.example")
    for _ in range(2):
        call(
            conn,
            "GET",
            "/export/customers.csv",
            {"Authorization": f"Basic {basic}", "User-Agent": "batch-export/3 (http.client)"},
        )
    conn.close()
    pause()


PROBES = (
    "/.env",
    "/.git/config",
    "/.git/HEAD",
    "/wp-login.php",
    "/wp-admin/",
    "/admin.php",
    "/phpmyadmin/",
    "/server-status",
    "/actuator/env",
    "/actuator/heapdump",
    "/.aws/credentials",
    "/config.json",
    "/backup.zip",
    "/db.sql",
    "/api/swagger.json",
    "/v2/api-docs",
    "/v3/api-docs",
    "/graphql",
    "/console",
    "/debug/vars",
    "/.DS_Store",
    "/v1/admin",
    "/v1/debug",
    "/v1/users/export",
)


def scanner() -> None:
    """A scanner probing routes (all 404) and reading a customer without a credential."""
    conn = http_client(CLIENT_SCANNER, GATEWAY_IP, "api.acme.example")
    agent = {"User-Agent": "Mozilla/5.0 (compatible; acme-redteam-scanner/1.0)"}
    for path in PROBES:
        call(conn, "GET", path, agent)
    call(conn, "GET", "/v1/orders", agent)  # 401
    for cid in (1001, 1002, 1003):
        call(conn, "GET", f"/v1/customers/{cid}", agent)  # 200: no auth check
    conn.close()
    pause()


def tls_clients(cert: Path) -> None:
    """Encrypted calls: the capture sees only ClientHellos (SNI, ALPN) and ciphertext."""
    context = ssl.create_default_context(cafile=str(cert))
    for name in TLS_NAMES[:2]:  # one client per name: a pooled connection would hide the SNI
        transport = httpx.HTTPTransport(local_address=CLIENT_BILLING, verify=context)
        with httpx.Client(transport=transport, timeout=10) as client:
            url = httpx.URL(f"https://{TLS_IP}/healthz")
            # connect to the loopback address but send the name as SNI and Host
            client.get(url, headers={"Host": name}, extensions={"sni_hostname": name})
            client.get(
                url.copy_with(path="/v1/orders"),
                headers={"Host": name},
                extensions={"sni_hostname": name},
            )
    curl(
        CLIENT_BATCH,
        [f"{TLS_NAMES[2]}:443:{VAULT_IP}"],
        ["--cacert", str(cert), f"https://{TLS_NAMES[2]}/v1/sys/health"],
    )
    pause()


def run_scenario(secrets_: Secrets, cert: Path) -> None:
    now = time.time()
    billing_sync(secrets_, now)
    globex_partner(secrets_)
    tls_clients(cert)
    report_bot(secrets_)
    legacy_reporting(secrets_, now)
    scanner()
    batch_export(secrets_)
    notebook(secrets_, now)
    leaked_key_abuse(secrets_)
    billing_sync(secrets_, now)  # routine traffic continues after the abuse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    for address in (GATEWAY_IP, CLIENT_UNKNOWN):
        assert ipaddress.ip_address(address).is_loopback
    secrets_ = Secrets(SEED)
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(Path(tmp))
        services = Services(rng, cert, key)
        services.start()
        partial = Path(tmp) / "demo.pcap"
        dump = Tcpdump(partial)
        try:
            run_scenario(secrets_, cert)
        finally:
            summary = dump.stop()
            services.stop()
        size = partial.stat().st_size
        if size > MAX_BYTES:
            sys.exit(f"make_capture: capture is {size} bytes, over the {MAX_BYTES} limit")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(partial, args.output)
    print(f"wrote {args.output} ({size} bytes); tcpdump: {summary.replace(chr(10), '; ')}")


if __name__ == "__main__":
    main()
