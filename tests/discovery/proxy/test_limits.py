"""Client limits and which flows are held for durability: the pure bookkeeping the addon drives."""

from __future__ import annotations

import pytest

from discovery.proxy.limits import ClientLimits
from discovery.proxy.urgency import carries_credential, urgent


def test_a_connection_waits_for_its_head_from_opening_and_between_requests() -> None:
    limits = ClientLimits(header_timeout=10, max_connections=0)
    assert limits.opened("a", "10.0.0.1", now=0) is None
    assert limits.overdue(now=9) == []
    assert limits.overdue(now=11) == ["a"]  # no head within 10 s of opening
    limits.head_complete("a")
    assert limits.overdue(now=100) == []  # a request in flight: the upstream may be slow
    limits.head_complete("a")  # HTTP/2: a second stream
    limits.answered("a", now=100)
    assert limits.overdue(now=200) == []  # one stream still open
    limits.answered("a", now=200)
    assert limits.overdue(now=205) == [] and limits.overdue(now=211) == ["a"]  # idle too long
    limits.tunnelled("a")  # a WebSocket or raw TCP now: no head will come
    limits.answered("a", now=300)
    assert limits.overdue(now=1000) == []
    limits.closed("a")
    assert limits.connections("10.0.0.1") == 0


def test_one_address_holds_at_most_the_cap() -> None:
    limits = ClientLimits(header_timeout=0, max_connections=2)
    assert limits.opened("a", "10.0.0.1", 0) is None
    assert limits.opened("b", "10.0.0.1", 0) is None
    refused = limits.opened("c", "10.0.0.1", 0)
    assert refused and "the limit is 2" in refused
    assert limits.opened("d", "10.0.0.2", 0) is None  # another address
    limits.closed("c")  # refused ones close too
    limits.closed("a")
    assert limits.opened("e", "10.0.0.1", 0) is None
    assert limits.overdue(10**9) == []  # no timeout configured


@pytest.mark.parametrize(
    ("headers", "target", "expected"),
    [
        ((("Authorization", "Bearer x"),), "/", True),
        ((("Cookie", "a=b"),), "/", True),
        ((("X-API-Key", "k"),), "/", True),
        ((("X-Service-Token", "t"),), "/", True),  # a name with a credential word
        ((("Accept", "*/*"),), "/v1/items?api_key=abc", True),
        ((("Accept", "*/*"),), "/v1/items?access_token=abc", True),
        ((("Accept", "*/*"),), "/v1/items?page=2", False),
        ((("Accept", "*/*"), ("User-Agent", "curl")), "/", False),
    ],
)
def test_which_flows_are_held(
    headers: tuple[tuple[str, str], ...], target: str, expected: bool
) -> None:
    assert carries_credential(headers, target) is expected
    assert urgent("credentials", blocked=False, headers=headers, target=target) is expected
    assert urgent("credentials", blocked=True, headers=headers, target=target)
    assert urgent("all", blocked=False, headers=headers, target=target)
    assert not urgent("none", blocked=True, headers=headers, target=target)
