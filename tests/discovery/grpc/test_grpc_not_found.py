"""A gRPC method that only ever answered NOT_FOUND is a method (the object asked for does not
exist), not route probing: its calls are stored as HTTP 404 (google/rpc/code.proto), yet it stays
an endpoint with its outcomes, and a client walking such methods is not a route prober. An
unknown method answers UNIMPLEMENTED (501)."""

from __future__ import annotations

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.views import queries

T0 = 1_790_000_000.0
HOST = "accounts.internal.example"


def _call(method: str, code: int, ts: float, client: str = "10.0.0.9") -> ObservedExchange:
    return ObservedExchange(
        ts=ts,
        source="pcap",
        evidence=f"frames {int(ts) % 10000}",
        client_ip=client,
        tls=False,
        method="POST",
        target=f"/lab.v1.Accounts/{method}",
        host=HOST,
        status=200,
        request_headers=(("content-type", "application/grpc"),),
        response_headers=(("content-type", "application/grpc"), ("grpc-status", str(code))),
    )


def _probe(path: str, ts: float) -> ObservedExchange:
    return ObservedExchange(
        ts=ts,
        source="pcap",
        evidence=f"frames {int(ts) % 10000}",
        client_ip="10.0.0.9",
        tls=False,
        method="GET",
        target=path,
        host=HOST,
        status=404,
    )


def test_methods_answering_only_not_found_stay_endpoints_and_are_not_probes(store: Store) -> None:
    methods = [f"Get{n}" for n in ("Account", "Invoice", "Card", "Plan", "Seat", "Quota")]
    methods += [f"Lookup{n}" for n in ("Owner", "Team", "Region", "Key", "Token", "Role")]
    calls = [_call(m, 5, T0 + i) for i, m in enumerate(methods)]  # 12 methods, all NOT_FOUND
    calls += [_call("GetAccount", 5, T0 + 100 + i) for i in range(3)]
    probes = [_probe(f"/admin{i}.php", T0 + 200 + i) for i in range(12)]  # real probing beside
    store.add_exchanges([to_exchange(o, store.fingerprint) for o in calls + probes])
    recompute(store)
    endpoints = {e["template"]: e for e in queries.endpoints(store)}
    assert set(endpoints) == {f"/lab.v1.Accounts/{m}" for m in methods}
    get = endpoints["/lab.v1.Accounts/GetAccount"]
    assert get["statuses"] == {"404": 4} and get["outcomes"] == {"NOT_FOUND": 4}
    (probing,) = queries.findings(store, rule="route_probing")
    assert probing["evidence"]["hosts"][HOST]["count"] == 12  # the PHP paths, no method
    assert probing["evidence"]["requests"] == 12
