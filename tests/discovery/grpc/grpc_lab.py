"""A real gRPC service on loopback for the tests: grpcio server (reflection on) and client.

The ``.proto`` files beside this module are compiled at test time with grpc_tools (protoc in
process), so the generated code always matches the installed protobuf runtime. The public
descriptor set (``accounts.proto`` only: ``lab.internal.Debug`` is left out, as an internal
service a published descriptor would leave out) is what ``spec import`` reads.
"""

from __future__ import annotations

import importlib
import secrets
import sys
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

PROTOS = Path(__file__).with_name("protos")
EMAIL = "alice.lab@example.org"
NOTE_EMAIL = "billing.lab@example.org"  # in a nested message
GZIP_EMAIL = "gzip.lab@example.org"  # only in a gzip-compressed message
CONTACT_EMAIL = "contact.lab@example.org"  # only in a request message
# GetAccount ids the server fails on: codes that share HTTP 500 (google/rpc/code.proto)
FAILURES = {"broken": "INTERNAL", "lost": "DATA_LOSS", "crash": "UNKNOWN"}
# the outcomes of call_everything's GetAccount calls, counted as the case keeps them
GET_ACCOUNT_OUTCOMES = {
    "OK": 2,
    "UNAUTHENTICATED": 1,
    "PERMISSION_DENIED": 1,
    "INTERNAL": 1,
    "DATA_LOSS": 1,
    "UNKNOWN": 1,
}


@dataclass
class Compiled:
    pb: ModuleType  # accounts_pb2
    rpc: ModuleType  # accounts_pb2_grpc
    internal_rpc: ModuleType  # internal_pb2_grpc
    descriptor_set: Path  # accounts.proto's FileDescriptorSet
    full_set: Path  # both files'


def compile_protos(out: Path) -> Compiled:
    """protoc (grpc_tools, in process) over the lab's protos into ``out``; imports the modules."""
    from grpc_tools import protoc

    include = str(resources.files("grpc_tools") / "_proto")
    out.mkdir(parents=True, exist_ok=True)
    public = out / "accounts.pb"
    full = out / "all.pb"
    for args in (
        [f"--descriptor_set_out={public}", "accounts.proto"],
        [f"--descriptor_set_out={full}", "--include_imports", "accounts.proto", "internal.proto"],
        [f"--python_out={out}", f"--grpc_python_out={out}", "accounts.proto", "internal.proto"],
    ):
        code = protoc.main(["protoc", f"-I{PROTOS}", f"-I{include}", *args])
        assert code == 0, f"protoc failed on {args}"
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    for name in ("accounts_pb2", "accounts_pb2_grpc", "internal_pb2", "internal_pb2_grpc"):
        sys.modules.pop(name, None)
    return Compiled(
        pb=importlib.import_module("accounts_pb2"),
        rpc=importlib.import_module("accounts_pb2_grpc"),
        internal_rpc=importlib.import_module("internal_pb2_grpc"),
        descriptor_set=public,
        full_set=full,
    )


def card_number() -> str:
    """A Luhn-valid test card number (the check digit computed here)."""
    body = "411111111111111"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


@dataclass
class Lab:
    port: int
    compiled: Compiled
    token: str  # the bearer token the client sends (made here, never in a tracked file)
    api_key: str
    message_token: str = ""  # a JWT the client sends inside a request message

    def __post_init__(self) -> None:
        if not self.message_token:
            import jwt

            claims = {"iss": "https://idp.lab.example", "sub": "svc-ledger", "exp": 4102444800}
            self.message_token = jwt.encode(claims, secrets.token_hex(32), algorithm="HS256")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def _servicers(compiled: Compiled) -> tuple[Any, Any]:
    import grpc

    pb = compiled.pb

    def account(context: Any, email: str) -> Any:
        if not any(k == "authorization" for k, _ in context.invocation_metadata()):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no credentials")
        return pb.Account(
            id="a-1",
            email=email,
            profile=pb.Profile(note=f"invoices to {NOTE_EMAIL}, card {card_number()}", tags=["x"]),
            balance=1200,
        )

    class Accounts(compiled.rpc.AccountsServicer):  # type: ignore[name-defined,misc]
        def GetAccount(self, request: Any, context: Any) -> Any:
            if request.id == "forbidden":
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "not yours")
            if request.id == "crash":
                raise RuntimeError("the handler failed")  # grpcio answers UNKNOWN
            if request.id in FAILURES:
                context.abort(getattr(grpc.StatusCode, FAILURES[request.id]), "failed")
            return account(context, EMAIL)

        def DeleteAccount(self, request: Any, context: Any) -> Any:
            context.set_compression(grpc.Compression.Gzip)
            return account(context, GZIP_EMAIL)

    class Debug(compiled.internal_rpc.DebugServicer):  # type: ignore[name-defined,misc]
        def Dump(self, request: Any, context: Any) -> Any:
            return account(context, EMAIL)

    return Accounts(), Debug()


@contextmanager
def serve(compiled: Compiled, tls_files: tuple[Path, Path] | None = None) -> Iterator[Lab]:
    """The lab's server on a free loopback port, reflection enabled; over TLS with
    ``tls_files`` (certificate, key)."""
    import grpc
    from grpc_reflection.v1alpha import reflection

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    accounts, debug = _servicers(compiled)
    compiled.rpc.add_AccountsServicer_to_server(accounts, server)
    compiled.internal_rpc.add_DebugServicer_to_server(debug, server)
    reflection.enable_server_reflection(
        (
            "lab.v1.Accounts",
            "lab.internal.Debug",
            reflection.SERVICE_NAME,
        ),
        server,
    )
    if tls_files is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        cert, key = (p.read_bytes() for p in tls_files)
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    server.start()
    try:
        yield Lab(
            port, compiled, token="lab" + secrets.token_hex(20), api_key=secrets.token_hex(24)
        )
    finally:
        server.stop(grace=None).wait(5)


def call_everything(
    lab: Lab, target: str | None = None, root_ca: bytes | None = None
) -> dict[str, str]:
    """The client's calls: every outcome the tests expect, by name -> status code name.
    ``root_ca``: over TLS, trusting that CA (the proxy's)."""
    import grpc

    pb = lab.compiled.pb
    auth = (("authorization", f"Bearer {lab.token}"), ("x-api-key", lab.api_key))
    outcomes: dict[str, str] = {}
    channel = (
        grpc.insecure_channel(target or lab.target)
        if root_ca is None
        else grpc.secure_channel(
            target or lab.target,
            grpc.ssl_channel_credentials(root_certificates=root_ca),
            options=(("grpc.ssl_target_name_override", "localhost"),),
        )
    )
    with channel as ch:
        accounts = lab.compiled.rpc.AccountsStub(ch)
        debug = lab.compiled.internal_rpc.DebugStub(ch)
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
            },
            "get_with_context": lambda: accounts.GetAccount(
                pb.AccountRequest(
                    id="accounts/a-1/" + "history/" * 32,  # long enough for gzip to pay off
                    context=pb.RequestContext(token=lab.message_token, contact=CONTACT_EMAIL),
                ),
                metadata=auth,
                compression=grpc.Compression.Gzip,  # the request message sent gzip-compressed
            ),
            "delete": lambda: accounts.DeleteAccount(pb.AccountRequest(id="a-1"), metadata=auth),
            "dump": lambda: debug.Dump(pb.AccountRequest(id="a-1"), metadata=auth),
        }
        for name, call in calls.items():
            try:
                call()
                outcomes[name] = "OK"
            except grpc.RpcError as exc:
                outcomes[name] = exc.code().name
    return outcomes


def reflection_response(lab: Lab) -> bytes:
    """What a client asking the server's reflection service for a file gets: the serialized
    ServerReflectionResponse (the message the reflection stream carries)."""
    import grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(lab.target) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="lab.v1.Accounts")
        (response,) = list(stub.ServerReflectionInfo(iter([request])))
        return bytes(response.SerializeToString())
