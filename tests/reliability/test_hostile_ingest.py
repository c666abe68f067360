"""Hostile strings end to end: a capture whose paths, Host headers, user agents, cookies, JWT
claims and bodies carry markup, ESC/CSI/OSC sequences, bidi overrides, NUL, invalid UTF-8 and
very long strings is ingested, then every read command (table and JSON), every graph export, the
OpenAPI export and the report are produced: nothing interpreted, no raw control byte out, every
output still valid in its format."""

from __future__ import annotations

import base64
import json
import struct
import xml.dom.minidom
from pathlib import Path
from typing import Any

import networkx as nx
import pydot
import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from ir_console.cli import cli
from tests.properties.limits_cases import tcp_frame

C, S = b"\x0a\x00\x00\x05", b"\x0a\x00\x00\x01"
# raw control characters that must never reach an output (C0 less tab/newline, DEL, C1, bidi)
FORBIDDEN = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))]
FORBIDDEN += [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]
MARKUP = b"[@click=app.quit]x[/] [bold red]boom[/]"
# HTTP field values may carry obs-text (bytes >= 0x80) but no C0 control: raw ESC and NUL
# travel inside the JWT's base64 claims and the bodies; C1 CSI (UTF-8 c2 9b), bidi and invalid
# UTF-8 travel raw in headers and percent-encoded in paths (llhttp refuses raw bytes >= 0x80 in
# a request target, as strict servers do: such a request is counted as malformed)
ESCAPES = b"\xc2\x9b2J\xc2\x9d0;pwned\xc2\x9c\xc2\x9b31m"
BIDI = "\u202egnp.exe".encode()
INVALID = b"\xff\xfe\xc3\x28"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hostile_jwt() -> str:
    claims = {
        "iss": "https://idp\u202e.example/[b]x[/b]",
        "sub": "svc\x1b[31m-\x00evil",
        "scope": "read [@click=app.quit] \u202eadmin",
        "iat": 1_790_000_000,
        "exp": 1_790_000_000 + 400 * 86400,
    }
    return (
        b64(b'{"alg":"HS256","typ":"JWT"}')
        + "."
        + b64(json.dumps(claims).encode())
        + "."
        + b64(b"sig" * 10)
    )


def requests() -> list[tuple[bytes, bytes]]:
    long = b"A" * 5000
    token = hostile_jwt().encode()
    out = []
    for i, (path, host, agent) in enumerate(
        [
            (b"/v1/" + MARKUP.replace(b" ", b"%20") + b"/42", b"api.example.com", ESCAPES),
            (b"/v1/users/%FF%FE%C3%28/profile%1B%5B2J", b"api.example.com", BIDI + INVALID),
            (b"/v1/%C2%9B31m%E2%80%AE/items", b"evil\xc2\x9b31m.example" + INVALID, MARKUP),
            (b"/v1/" + long, b"api.example.com" + BIDI, long),
            (b"/v1/orders/7", b"api.example.com", b"ok/1.0"),
        ]
    ):
        request = (
            b"GET "
            + path
            + b" HTTP/1.1\r\nHost: "
            + host
            + b"\r\nUser-Agent: "
            + agent
            + b"\r\nAuthorization: Bearer "
            + token
            + b"\r\nX-API-Key: k_"
            + ESCAPES.replace(b" ", b"")
            + INVALID
            + str(i).encode() * 20
            + b"\r\nCookie: session="
            + MARKUP.replace(b" ", b"")
            + b"\r\n\r\n"
        )
        body = b'{"email": "a\x1b[31m@evil.example", "note": "' + MARKUP + BIDI + b'"}'
        response = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        out.append((request, response))
    return out


def hostile_capture(path: Path) -> None:
    frames: list[bytes] = []
    for port, (request, response) in enumerate(requests(), start=40000):
        seq = [1000, 9000]

        def send(
            side: int, flags: int, payload: bytes = b"", port: int = port, seq: list[int] = seq
        ) -> None:
            src, dst, sp, dp = (C, S, port, 80) if side == 0 else (S, C, 80, port)
            frames.append(tcp_frame(src, dst, sp, dp, seq[side], flags, payload))
            seq[side] += len(payload) + (1 if flags & 0x03 else 0)

        send(0, 0x02)
        send(1, 0x12)
        send(0, 0x18, request)
        send(1, 0x18, response)
        send(0, 0x11)
        send(1, 0x11)
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for n, data in enumerate(frames):
            out.write(struct.pack("<IIII", 1_790_000_000 + n, 0, len(data), len(data)) + data)


def run(case: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(case), *args], catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output[-500:])
    return result


def assert_clean(what: str, text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in text if c in FORBIDDEN})
    assert not found, f"{what}: raw control characters {found}"


@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    capture = folder / "hostile.pcap"
    hostile_capture(capture)
    case = folder / "case.db"
    result = run(case, "ingest", str(capture), "--json")
    (summary,) = json.loads(result.stdout)
    assert summary["exchanges"] == 5, summary
    return case


@pytest.mark.parametrize("command", ["hosts", "endpoints", "credentials", "identities", "findings"])
def test_read_commands(hostile_case: Path, command: str) -> None:
    table = run(hostile_case, command)
    assert_clean(f"{command} table", table.output)
    as_json = run(hostile_case, command, "--json").stdout
    assert_clean(f"{command} --json", as_json)
    rows = json.loads(as_json)
    assert rows, f"{command} shows nothing: the corpus was not ingested"
    if command != "hosts":  # markup is kept as text, inert
        assert "[@click=app.quit]" in as_json or "[b]x[/b]" in as_json


def test_every_graph_export_is_valid_and_clean(hostile_case: Path, tmp_path: Path) -> None:
    for fmt in ("graphml", "gexf", "json", "dot", "opengraph"):
        out = tmp_path / f"g.{fmt}"
        run(hostile_case, "graph", "export", "--format", fmt, "-o", str(out))
        text = out.read_text(encoding="utf-8")
        assert_clean(fmt, text)
        if fmt == "graphml":
            assert nx.read_graphml(out).number_of_nodes() > 0
        elif fmt == "gexf":
            xml.dom.minidom.parseString(text)
            assert nx.read_gexf(out).number_of_nodes() > 0
        elif fmt == "dot":
            (graph,) = pydot.graph_from_dot_data(text)
            assert graph.get_nodes()
        else:
            assert json.loads(text)


def test_openapi_export_is_valid_and_clean(hostile_case: Path, tmp_path: Path) -> None:
    folder = tmp_path / "oas"
    folder.mkdir()
    run(hostile_case, "openapi", "export", "-o", str(folder))
    files = list(folder.iterdir())
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert_clean(path.name, text)
        validate(yaml.safe_load(text))


def test_report_is_valid_and_clean(hostile_case: Path, tmp_path: Path) -> None:
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    run(hostile_case, "report", "--format", "md", "-o", str(md))
    run(hostile_case, "report", "--format", "json", "-o", str(js))
    assert_clean("report.md", md.read_text(encoding="utf-8"))
    assert_clean("report.json", js.read_text(encoding="utf-8"))
    assert json.loads(js.read_text(encoding="utf-8"))
    assert "<script" not in md.read_text(encoding="utf-8").lower()


def test_explain_of_a_hostile_path_is_clean(hostile_case: Path) -> None:
    path = "/v1/" + ESCAPES.decode() + "/items\x1b[2J\u202e"
    result = run(hostile_case, "endpoints", "explain", "evil\x9b31m.example", "GET", path)
    assert_clean("explain", result.output)
