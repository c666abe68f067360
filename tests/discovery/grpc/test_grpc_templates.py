"""gRPC methods are endpoints as they are: a service's methods never merge into a parameter, however
many there are."""

from __future__ import annotations

from discovery.analyse.templating import HostTemplater
from discovery.wire.grpc import is_service_name

VERBS = ("Get", "List", "Create", "Update", "Delete", "Watch", "Batch", "Search", "Stream", "Sync")
NOUNS = ("Account", "User", "Order", "Invoice", "Item", "Token", "Key", "Role", "Policy", "Group")


def test_a_large_services_methods_stay_literal() -> None:
    templater = HostTemplater("api.test")
    paths = [f"/acme.billing.v1.Billing/{v}{n}" for v in VERBS for n in NOUNS]
    for path in paths:
        templater.add(path, 1, "POST")
    templater.finish()
    assert {templater.template(p) for p in paths} == set(paths)
    explained = templater.explain(paths[0]).decisions[1].reason
    assert "gRPC service" in explained


def test_service_names() -> None:
    assert is_service_name("lab.v1.Accounts")
    assert is_service_name("grpc.reflection.v1alpha.ServerReflection")
    for segment in ("v1.0", "Accounts", "api.example.com", "v1", "a.b.c", "x.1Y"):
        assert not is_service_name(segment), segment
