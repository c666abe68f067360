"""gRPC services as a spec: a protobuf ``FileDescriptorSet`` (``protoc --descriptor_set_out``,
``buf build -o``, ``grpcurl -protoset-out``) or a captured server reflection response.

Each method of each service is one operation: ``POST /package.Service/Method`` (the path gRPC
calls it by), deprecated when the method, its service or its file says ``deprecated = true``.
Neither format names a host: ``--host`` is required. A reflection response
(``grpc.reflection.v1[alpha].ServerReflectionResponse``) is read for its
``file_descriptor_response`` (field 4: the serialized ``FileDescriptorProto``s); the file may
hold the message alone or as the response stream's length-prefixed messages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from discovery.analyse.specs.model import LoadedSpec, SpecOperation
from discovery.errors import SpecError
from discovery.wire.grpc import frames
from discovery.wire.protobuf import varint

FORMAT: Final = "protobuf"
MAX_SIZE: Final = 64 << 20  # bytes of a descriptor file read at most


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    """The length-delimited fields of one message (number, value); [] when it is not one."""
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(data)
    while pos < end:
        key, pos = varint(data, pos, end)
        if pos < 0:
            return []
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = varint(data, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = varint(data, pos, end)
            if pos < 0 or pos + length > end:
                return []
            out.append((number, data[pos : pos + length]))
            pos += length
        else:
            return []
        if pos < 0 or pos > end:
            return []
    return out


def _reflection_files(data: bytes) -> list[bytes]:
    """The serialized FileDescriptorProtos of reflection responses (bare or length-prefixed)."""
    messages = [data]
    if data[:1] == b"\x00":
        found, malformed = frames(data)
        if found and not malformed and all(complete for _f, _p, complete in found):
            messages = [payload for _f, payload, _c in found]
    files: list[bytes] = []
    for message in messages:
        for number, value in _fields(message):
            if number == 4:  # file_descriptor_response
                files += [v for n, v in _fields(value) if n == 1]
    return files


def _files(path: Path, data: bytes) -> tuple[list[descriptor_pb2.FileDescriptorProto], str]:
    """The file descriptors the bytes hold and what held them ("descriptor set"/"reflection")."""
    try:
        fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    except DecodeError:
        fds = None
    if fds is not None and fds.file and any(f.service or f.message_type for f in fds.file):
        return list(fds.file), "descriptor set"
    out = []
    for raw in _reflection_files(data):
        try:
            out.append(descriptor_pb2.FileDescriptorProto.FromString(raw))
        except DecodeError as exc:
            raise SpecError(
                str(path), f"a reflection response's file descriptor does not decode: {exc}"
            ) from exc
    if not out:
        raise SpecError(
            str(path),
            "not an OpenAPI text, a protobuf FileDescriptorSet or a gRPC server reflection "
            "response with file descriptors",
        )
    return out, "reflection"


def load_protoset(path: Path, host: str | None) -> LoadedSpec:
    """The gRPC methods of a descriptor set or reflection response as a spec for ``host``."""
    try:
        size = path.stat().st_size
        if size > MAX_SIZE:
            raise SpecError(str(path), f"{size} bytes: larger than {MAX_SIZE} (not read)")
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    files, held = _files(path, data)
    if not host:
        raise SpecError(str(path), f"a {held} names no host: give the server with --host")
    host = host.strip().lower()
    operations: list[SpecOperation] = []
    seen: set[str] = set()
    packages: dict[str, None] = {}
    for proto in files:
        file_deprecated = proto.options.deprecated
        prefix = f"{proto.package}." if proto.package else ""
        for service in proto.service:
            packages[prefix + service.name] = None
            for method in service.method:
                template = f"/{prefix}{service.name}/{method.name}"
                if template in seen:
                    continue
                seen.add(template)
                operations.append(
                    SpecOperation(
                        host=host,
                        method="POST",
                        template=template,
                        operation_id=f"{prefix}{service.name}.{method.name}",
                        deprecated=bool(
                            method.options.deprecated
                            or service.options.deprecated
                            or file_deprecated
                        ),
                        security=None,
                    )
                )
    if not operations:
        raise SpecError(str(path), f"the {held} describes no service (no gRPC method)")
    services = list(packages)
    title = ", ".join(services[:3]) + (
        f" and {len(services) - 3} more" if len(services) > 3 else ""
    )
    return LoadedSpec(
        title=title,
        version=None,
        openapi_version=FORMAT,
        hosts=[{"host": host, "base_path": ""}],
        operations=operations,
        security_schemes={},
        sha256=hashlib.sha256(data).hexdigest(),
    )
