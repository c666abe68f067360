"""Where a request went against the names it claims: what is knowable without DNS."""

from __future__ import annotations

import ipaddress

import pytest

from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.wire import destinations
from discovery.wire.destinations import contradiction, is_ip


@pytest.mark.parametrize(
    ("destination", "named", "claimed", "sni", "expected"),
    [
        # a target the client named through a proxy: Host and SNI must name it
        ("api.test:443", True, "api.test", "api.test", None),
        ("api.test:443", True, "API.test.:443", None, None),
        ("api.test:443", True, "other.test", None, "Host other.test sent to api.test:443"),
        ("api.test:443", True, "api.test:8443", None, "Host api.test:8443 sent to api.test:443"),
        ("api.test:443", True, "api.test", "other.test", "SNI other.test sent to api.test:443"),
        ("[2001:db8::1]:80", True, "[2001:db8::1]", None, None),
        # only the server address: a Host naming a host cannot be checked, an address can
        ("10.0.0.1:80", False, "api.test", None, None),
        ("10.0.0.1:80", False, "10.0.0.1", None, None),
        ("10.0.0.1:80", False, "10.0.0.2", None, "Host 10.0.0.2 sent to 10.0.0.1:80"),
        ("10.0.0.1:80", False, "10.0.0.1:81", None, "Host 10.0.0.1:81 sent to 10.0.0.1:80"),
        ("[::1]:80", False, "[0:0::1]", None, None),
        # Host against the SNI of the same TLS connection (domain fronting)
        ("10.0.0.1:443", False, "api.test", "api.test", None),
        (
            "10.0.0.1:443",
            False,
            "hidden.test",
            "front.test",
            "Host hidden.test inside TLS for SNI front.test",
        ),
        (None, False, "a.test", None, None),
        # hostile names are stored printable and bounded
        ("api.test:80", True, "evil\x1b[31m", None, "Host evil?[31m sent to api.test:80"),
    ],
)
def test_contradiction(
    destination: str | None, named: bool, claimed: str | None, sni: str | None, expected: str
) -> None:
    for _ in range(2):  # answered, then remembered: the same answer
        got = contradiction(destination=destination, named=named, claimed=claimed, sni=sni)
        assert got == expected


def test_remembered_answers_stay_bounded() -> None:
    """Hosts a client chooses freely (one per request, or very long) never grow the memory of
    answers past its bound, and a long one is still answered."""
    for n in range(destinations.CONTRADICTIONS_MEMO_SIZE + 50):
        contradiction(
            destination="10.0.0.1:80", named=False, claimed=f"10.0.{n // 256}.{n % 256}", sni=None
        )
        assert len(destinations._CONTRADICTIONS) <= destinations.CONTRADICTIONS_MEMO_SIZE
    long_host = "a" * 600 + ".test"
    answer = contradiction(destination="api.test:443", named=True, claimed=long_host, sni=None)
    assert answer == f"Host {'a' * 100}… sent to api.test:443"
    assert all(key[2] != long_host for key in destinations._CONTRADICTIONS)


def _stored(**fields: object) -> tuple[str | None, str | None]:
    base: dict[str, object] = dict(
        ts=1.0, source="pcap", evidence="frames 1-2", method="GET", target="/x", http_version="1.1"
    )
    base.update(fields)
    ex = to_exchange(ObservedExchange(**base), lambda s: "f" * 64)  # type: ignore[arg-type]
    return ex.destination, ex.host_mismatch


def test_the_stored_destination_and_mismatch() -> None:
    # a capture: the server address, in the host column's form (no default port)
    assert _stored(server_ip="10.0.0.1", server_port=80, host="api.test") == ("10.0.0.1", None)
    assert _stored(server_ip="10.0.0.1", server_port=8443, tls=True, host="a.test") == (
        "10.0.0.1:8443",
        None,
    )
    # the client named the target (a proxy's): that is where it went
    assert _stored(
        server_ip="127.0.0.1", server_port=3128, host="harmless.test", destination="api.test:80"
    ) == ("api.test", "Host harmless.test sent to api.test:80")
    # an absolute-form request seen on the wire went to a proxy, for the URI's authority;
    # userinfo in it is never kept
    assert _stored(
        server_ip="10.0.0.9",
        server_port=3128,
        host="api.test",
        target="http://user:pa55@api.test:8080/x",
    ) == ("api.test:8080", None)
    # domain fronting: the SNI of the connection against the Host inside it
    assert _stored(
        server_ip="10.0.0.1", server_port=443, tls=True, sni="front.test", host="hidden.test"
    ) == ("10.0.0.1", "Host hidden.test inside TLS for SNI front.test")
    # an opaque TLS connection (no request seen) has a destination and nothing to contradict
    assert _stored(
        server_ip="10.0.0.1", server_port=443, tls=True, sni="a.test", method=None, target=None
    ) == ("10.0.0.1", None)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.256",
        "1.2.3",
        "01.2.3.4",
        "::1",
        "0:0::1",
        "::ffff:192.0.2.1",
        "fe80::1%eth0",
        "fe80::1%",
        "2001:db8::g",
        "dead.beef",
        "api.test",
        "1.2.3.4 ",
        "[::1]",
        "",
    ],
)
def test_is_ip_reads_as_ipaddress_does(host: str) -> None:
    """The quick character check and the memo answer as ``ipaddress`` does, asked twice."""
    try:
        ipaddress.ip_address(host)
        expected = True
    except ValueError:
        expected = False
    assert is_ip(host) is expected
    assert is_ip(host) is expected
