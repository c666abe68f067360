"""The hot paths' record constructors build exactly the NamedTuples' values."""

from __future__ import annotations

import pickle
import random
from typing import Any

from discovery.models import (
    CredentialSighting,
    Exchange,
    ObservedExchange,
    exchange,
    observed_exchange,
    over_tls,
)

_INTS = ("client_port", "server_port", "status", "request_bytes", "response_bytes")
_BOOLS = ("tls", "partial", "blocked", "websocket")
_TUPLES = (
    "request_headers",
    "response_headers",
    "extra",
    "query_names",
    "sensitive",
    "credentials",
    "anomalies",
)


def _values(record: type[Any], rng: random.Random) -> dict[str, Any]:
    """A value of its type for every field (the compiled constructors check types), distinct
    from the other fields' so a field put in another's place shows (booleans vary between
    calls)."""
    values: dict[str, Any] = {}
    for name in record._fields:
        if name == "ts":
            values[name] = rng.random()
        elif name in _INTS:
            values[name] = rng.randrange(1, 1 << 40)
        elif name in _BOOLS:
            values[name] = rng.random() < 0.5
        elif name.endswith("_body"):
            values[name] = f"{name}-{rng.random()}".encode()
        elif name in _TUPLES:
            values[name] = ((name, str(rng.random())),)
        else:
            values[name] = f"{name}-{rng.random()}"
    return values


def test_observed_exchange_is_the_namedtuple() -> None:
    rng = random.Random(1)
    for _ in range(20):
        values = _values(ObservedExchange, rng)
        built = observed_exchange(**values)
        assert type(built) is ObservedExchange
        assert built == ObservedExchange(**values)
        assert built._asdict() == values
    assert observed_exchange(1.0, "pcap", "frame 1") == ObservedExchange(1.0, "pcap", "frame 1")
    sent = observed_exchange(2.0, "proxy", "flow 1", method="GET", request_body=b"x")
    assert pickle.loads(pickle.dumps(sent)) == sent  # the proxy writer pipes these


def test_over_tls_is_replace() -> None:
    rng = random.Random(3)
    for _ in range(20):
        plain = ObservedExchange(**_values(ObservedExchange, rng))
        facts = {n: f"{n}-{rng.random()}" for n in ("sni", "alpn", "ja4", "ja4s", "host")}
        built = over_tls(plain, **facts)
        assert type(built) is ObservedExchange
        assert built == plain._replace(tls=True, **facts)
    bare = ObservedExchange(1.0, "pcap", "frame 1")
    assert over_tls(bare, None, None, None, None, None) == bare._replace(tls=True)


def test_exchange_is_the_namedtuple() -> None:
    rng = random.Random(2)
    for _ in range(20):
        values = _values(Exchange, rng)
        built = exchange(**values)
        assert type(built) is Exchange
        assert built == Exchange(**values)
        assert built._asdict() == values
    required = _values(Exchange, rng)
    del required["sensitive"], required["credentials"]  # the two fields with defaults
    sighting = CredentialSighting("f", "jwt", "header", "authorization", "eyJ…abcd")
    assert exchange(**required) == Exchange(**required)
    assert exchange(**required, credentials=(sighting,)).credentials == (sighting,)
