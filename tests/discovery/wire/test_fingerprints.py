"""JA4, JA4S and JA4H against FoxIO's published reference values."""

from __future__ import annotations

import pytest

from discovery.wire.fingerprints import ja4h, ja4s
from discovery.wire.tls import ClientHello


def _hex_list(text: str) -> tuple[int, ...]:
    return tuple(int(value, 16) for value in text.split(","))


def test_ja4_of_foxio_reference_client_hello() -> None:
    """``http2-with-cookies.pcapng`` (FoxIO's test data): its ClientHello in wire order
    (``JA4_ro``) gives the published ``JA4``."""
    hello = ClientHello(
        version=0x0303,
        ciphers=_hex_list(
            "1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035"
        ),
        extensions=_hex_list(
            "002d,0012,0000,000b,4469,001b,ff01,0033,000d,0010,0005,000a,0017,002b,0023,0015"
        ),
        sni="youtube.com",
        alpn=("h2", "http/1.1"),
        signature_algorithms=_hex_list("0403,0804,0401,0503,0805,0501,0806,0601"),
        supported_versions=(0x0A0A, 0x0304, 0x0303),
    )
    assert hello.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"


def test_ja4s_of_foxio_reference_server_hello() -> None:
    """The same capture's ServerHello: TLS 1.3, TLS_AES_128_GCM_SHA256, key_share then
    supported_versions, no ALPN extension (published ``JA4S``)."""
    assert ja4s(0x0304, 0x1301, (0x0033, 0x002B), None) == "t130200_1301_234ea6891581"


def _request(raw_hex: str) -> tuple[str, list[tuple[str, str]]]:
    head = bytes.fromhex(raw_hex).decode().split("\r\n\r\n")[0].split("\r\n")
    headers = [(name, value) for name, value in (line.split(": ", 1) for line in head[1:])]
    return head[0].split()[0], headers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (  # FoxIO's http1-with-cookies.pcapng (published JA4H)
            "474554202f20485454502f312e310d0a486f73743a206c6f63616c686f73743a383030300d0a55736572"
            "2d4167656e743a206375726c2f382e312e320d0a4163636570743a202a2f2a0d0a526566657265723a20"
            "68747470733a2f2f66616b652e6578616d706c650d0a436f6f6b69653a2079756d6d795f636f6f6b6965"
            "3d63686f636f3b2074617374795f636f6f6b69653d737472617762657272790d0a4163636570742d4c61"
            "6e67756167653a2064612c20656e2d47423b713d302e382c20656e3b713d302e370d0a0d0a",
            "ge11cr04da00_8ddaef5d77af_280f366eaa04_c2fb0fe53442",
        ),
        (
            "474554202f20485454502f312e310d0a486f73743a20332e3132392e37302e31350d0a557365722d4167"
            "656e743a204d6f7a696c6c612f352e302028636f6d70617469626c653b20496e7465726e65744d656173"
            "7572656d656e742f312e303b202b68747470733a2f2f696e7465726e65742d6d6561737572656d656e74"
            "2e636f6d2f290d0a436f6e6e656374696f6e3a20636c6f73650d0a4163636570743a202a2f2a0d0a4163"
            "636570742d456e636f64696e673a20677a69700d0a0d0a",
            "ge11nn050000_845398f9f2c0_000000000000_000000000000",
        ),
        (
            "504f5354202f72656d6f74652f6c6f67696e636865636b20485454502f312e310d0a486f73743a20332e"
            "3132392e37302e31350d0a4163636570743a202a2f2a0d0a4163636570742d456e636f64696e673a2067"
            "7a69702c206465666c6174650d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a55736572"
            "2d4167656e743a20707974686f6e2d68747470782f302e32372e320d0a436f6e74656e742d4c656e6774"
            "683a2034320d0a436f6e74656e742d547970653a206170706c69636174696f6e2f782d7777772d666f72"
            "6d2d75726c656e636f6465640d0a0d0a",
            "po11nn070000_429be317aafe_000000000000_000000000000",
        ),
    ],
)
def test_ja4h_of_reference_requests(raw: str, expected: str) -> None:
    method, headers = _request(raw)
    assert ja4h(method, "1.1", headers) == expected


def test_ja4h_of_http2_leaves_pseudo_headers_out_and_says_20() -> None:
    h1 = ja4h("GET", "1.1", [("accept", "*/*"), ("user-agent", "x"), ("cookie", "b=2; a=1")])
    h2 = ja4h(
        "GET",
        "2",
        [
            (":method", "GET"),
            (":path", "/"),
            ("accept", "*/*"),
            ("user-agent", "x"),
            ("cookie", "b=2; a=1"),
        ],
    )
    assert h1.replace("ge11", "ge20", 1) == h2
    assert h2.startswith("ge20cn020000_")


def test_ja4h_header_name_hashes_stay_right_past_their_memo() -> None:
    """The header-name hash is remembered per name list (bounded): past the bound, and for
    name lists seen before, it is the hash of the names as sent."""
    from discovery.wire import fingerprints
    from discovery.wire.tls import hash12

    first = ja4h("GET", "1.1", [("Accept", "*/*"), ("X-Trace", "1")])
    for i in range(fingerprints.NAMES_HASHES_SIZE + 50):
        names = ["Accept", f"X-Req-{i}"]
        value = ja4h("GET", "1.1", [(name, "v") for name in names])
        assert value.split("_")[1] == hash12(",".join(names))
    assert ja4h("GET", "1.1", [("Accept", "*/*"), ("X-Trace", "1")]) == first
    assert first.split("_")[1] == hash12("Accept,X-Trace")
    assert ja4h("GET", "1.1", [("accept", "*/*"), ("X-Trace", "1")]) != first  # names as sent
