"""The client JA4 at the mitmproxy edge: computed on the ClientHello as mitmproxy holds it, and
taken from a flow's metadata only when it has JA4's shape (a flow file may say anything)."""

from __future__ import annotations

import ssl

import pytest
from mitmproxy import tls
from mitmproxy.test import tflow

from discovery.sources.flows import JA4_KEY, flow_ja4, flow_to_observed, hello_ja4
from discovery.wire.tls import handshake_bytes, parse_client_hello


def _python_client_hello() -> bytes:
    """The first flight of Python's TLS client (OpenSSL), as it would go on the wire."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="api.example.test")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def test_the_ja4_of_mitmproxys_client_hello_is_the_wires() -> None:
    wire = _python_client_hello()
    hello = tls.ClientHello(handshake_bytes(wire)[4:])  # mitmproxy holds the message body
    assert hello.sni == "api.example.test"
    expected = parse_client_hello(wire).ja4
    assert expected.startswith("t13d") and expected[8:10] == "h2"
    assert hello_ja4(hello) == expected
    assert hello_ja4(hello, quic=True) == "q" + expected[1:]


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("t13d1516h2_8daaf6152771_e5627efa2ab1", True),
        ("t13d1516h2_8daaf6152771_e5627efa2ab1<script>", False),
        ("\x1b[2Jt13d1516h2_8daaf6152771_e5627efa2ab1", False),
        ("t13d1516h2_8daaf6152771", False),
        (12, False),
    ],
)
def test_a_flow_files_ja4_is_taken_only_when_well_formed(value: object, kept: bool) -> None:
    flow = tflow.tflow(resp=True)
    flow.metadata[JA4_KEY] = value
    assert flow_ja4(flow) == (value if kept else None)
    assert flow_to_observed(flow, "mitm").ja4 == (value if kept else None)


def test_a_cleartext_flow_has_no_ja4() -> None:
    flow = tflow.tflow(resp=True)
    flow.client_conn.timestamp_tls_setup = None
    flow.client_conn.tls = False
    flow.metadata[JA4_KEY] = "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert flow_to_observed(flow, "mitm").ja4 is None
