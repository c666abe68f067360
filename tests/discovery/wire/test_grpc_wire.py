"""gRPC framing and schemaless protobuf: messages encoded by the real ``protobuf`` runtime
(descriptor_pb2's messages: strings, nesting, repeated fields), hostile ones built by hand."""

from __future__ import annotations

import base64
import gzip
import time

import pytest
from google.protobuf import descriptor_pb2

from discovery.models import ObservedExchange, observed_exchange
from discovery.redact.convert import to_exchange
from discovery.wire.grpc import frames, grpc_kind, payloads, web_text, web_trailers
from discovery.wire.protobuf import MAX_DEPTH, MAX_FIELDS, scan_message


def _frame(payload: bytes, flags: int = 0) -> bytes:
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload


def _message() -> bytes:
    proto = descriptor_pb2.FileDescriptorProto(
        name="svc.proto",
        package="lab.v1",
        message_type=[
            descriptor_pb2.DescriptorProto(
                name="Account",
                field=[descriptor_pb2.FieldDescriptorProto(name="owner@example.org", number=7)],
            )
        ],
    )
    return proto.SerializeToString()


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/grpc", "grpc"),
        ("application/grpc+proto", "grpc"),
        ("Application/GRPC; charset=utf-8", "grpc"),
        ("application/grpc-web+proto", "grpc-web"),
        ("application/grpc-web-text", "grpc-web-text"),
        ("application/grpcx", None),
        ("application/json", None),
        (None, None),
    ],
)
def test_grpc_is_recognised_by_its_content_type(content_type: str | None, kind: str | None) -> None:
    assert grpc_kind(content_type) == kind


def test_strings_nested_messages_and_their_shape_are_read_without_a_schema() -> None:
    scan = scan_message(_message())
    assert set(scan.strings) == {"svc.proto", "lab.v1", "Account", "owner@example.org"}
    # field 4 (message_type) holds a message whose field 2 (field) holds name (1) and number (3)
    assert {"1:LEN", "2:LEN", "4:LEN", "4.1:LEN", "4.2:LEN", "4.2.1:LEN", "4.2.3:VARINT"} <= set(
        scan.shape
    )
    assert scan.cut is None


def test_a_message_cut_by_the_body_prefix_is_read_as_far_as_it_goes() -> None:
    data = _message()
    cut = data[: data.index(b"owner@") + 5]
    assert scan_message(cut, complete=False).strings[-1] == "owner"
    assert "not a protobuf" in (scan_message(cut, complete=True).cut or "")


def test_hostile_messages_are_bounded() -> None:
    deep = b"\x08\x01"
    for _ in range(10_000):  # 10,000 levels of nesting
        deep = b"\x0a" + _varint(len(deep)) + deep
    started = time.perf_counter()
    scan = scan_message(deep)
    assert scan.cut == f"nested deeper than {MAX_DEPTH}"
    wide = b"\x08\x01" * 100_000
    assert scan_message(wide).cut == f"more than {MAX_FIELDS} fields"
    huge = b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 10  # a 4 GiB length in a 16-byte message
    assert scan_message(huge).cut == "not a protobuf message"
    assert time.perf_counter() - started < 5  # bounded work, not a timing claim on the parser


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def test_frames_compressed_messages_and_grpc_web_trailers() -> None:
    msg = _message()
    body = _frame(msg) + _frame(gzip.compress(msg), flags=1) + _frame(b"grpc-status: 7\r\n", 0x80)
    found, malformed = frames(body)
    assert [f for f, _p, _c in found] == [0, 1, 0x80] and not malformed
    messages, problem = payloads(body, "gzip", "grpc-web")
    assert [m for m, _c in messages] == [msg, msg] and problem is None
    assert web_trailers(body) == [("grpc-status", "7")]
    _, problem = payloads(_frame(msg, flags=1), None, "grpc")
    assert problem == "gRPC message flagged compressed without grpc-encoding"
    assert frames(_frame(msg, flags=0x02))[1]  # a reserved flag bit


def test_grpc_web_text_segments_decode() -> None:
    one, two = _frame(b"\x0a\x02hi"), _frame(b"grpc-status:0\r\n", 0x80)
    text = base64.b64encode(one) + base64.b64encode(two)
    assert web_text(text) == one + two


def _call(**overrides: object) -> ObservedExchange:
    values: dict[str, object] = {
        "ts": 1.0,
        "source": "pcap",
        "evidence": "frame 1",
        "http_version": "2",
        "method": "POST",
        "target": "/lab.v1.Accounts/GetAccount",
        "host": "api.test",
        "status": 200,
        "request_headers": (("content-type", "application/grpc"),),
        "response_headers": (("content-type", "application/grpc"), ("grpc-status", "0")),
    }
    values.update(overrides)
    return observed_exchange(**values)  # type: ignore[arg-type]


def _fingerprint(value: str) -> str:
    return "fp"


def test_grpc_status_is_the_outcome_and_refusals_read_as_refusals() -> None:
    assert to_exchange(_call(), _fingerprint).status == 200
    denied = to_exchange(
        _call(response_headers=(("grpc-status", "7"), ("grpc-message", "user 42 not admin"))),
        _fingerprint,
    )
    assert denied.status == 403
    assert denied.error == "grpc-status 7 PERMISSION_DENIED (HTTP 200)"  # no grpc-message
    assert to_exchange(_call(response_headers=(("grpc-status", "16"),)), _fingerprint).status == 401
    assert to_exchange(_call(response_headers=(("grpc-status", "13"),)), _fingerprint).status == 500
    # a proxy's own answer keeps its status; a stream that lost its trailers says so
    assert to_exchange(_call(status=502, response_headers=()), _fingerprint).status == 502
    lost = to_exchange(_call(response_headers=()), _fingerprint)
    assert lost.error == "gRPC response without grpc-status"
    assert "grpc_status_missing" in lost.anomalies


def test_grpc_web_status_and_sensitive_text_come_from_the_body() -> None:
    body = _frame(gzip.compress(_message()), 1) + _frame(b"grpc-status: 5\r\n", 0x80)
    ex = to_exchange(
        _call(
            http_version="1.1",
            request_headers=(("content-type", "application/grpc-web+proto"),),
            response_headers=(
                ("content-type", "application/grpc-web+proto"),
                ("grpc-encoding", "gzip"),
            ),
            response_body=body,
        ),
        _fingerprint,
    )
    assert ex.status == 404 and ex.error == "grpc-status 5 NOT_FOUND (HTTP 200)"
    assert dict(ex.sensitive) == {"email": 1}  # inside a gzip-compressed message


def test_grpc_web_text_of_many_segments_decodes_in_linear_time() -> None:
    started = time.perf_counter()
    decoded = web_text(b"AA==" * 16_384)  # 64 KiB of one-byte segments
    assert decoded == b"\x00" * 16_384
    assert time.perf_counter() - started < 5
