"""``ir-console demo``: the bundled case shows what the scenario planted (demo/make_capture.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ir_console.cli import cli

DEMO_DIR = Path(__file__).resolve().parents[2] / "ir_console" / "demo"

# What demo/make_capture.py plants, rule by rule (docs/findings.md).
PLANTED_RULES = (
    "long_lived_token",  # billing-sync's one-year JWT
    "expired_token_in_use",  # legacy-reporting's expired JWT still served
    "credential_in_query",  # the report bot's ?api_key=
    "cleartext_credential",  # batch-export's Basic auth over HTTP
    "credential_multiple_sources",  # Globex's key from 127.0.1.20 and 127.0.1.99
    "unregistered_identity",  # the notebook's token, the report bot's key
    "object_enumeration",  # 64 partner order ids from one key
)
# Rules that need the specs: classification of endpoints against them.
PLANTED_SPEC_RULES = (
    "shadow_endpoint_access",  # /v1/internal/customers/export, /partner/v2/admin/keys
    "zombie_endpoint_access",  # deprecated /v1/reports/legacy
    "unauthenticated_access",  # the scanner reads /v1/customers/{id} without a credential
    "route_probing",  # the scanner's 404s
    "sensitive_data_exposure",  # emails and a card number in the shadow export
)


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    case = tmp_path_factory.mktemp("demo") / "demo.db"
    result = run("demo", "--no-tui", "--json", "--case", str(case))
    return case, json.loads(result.stdout)


def test_bundled_inputs_are_small_and_present() -> None:
    capture = DEMO_DIR / "demo.pcap"
    assert capture.stat().st_size < 2 * 1024 * 1024
    for name in ("acme-api.openapi.yaml", "partner-api.openapi.yaml", "register.yaml"):
        assert (DEMO_DIR / name).is_file()


def test_summary_counts_what_the_scenario_planted(demo_case: tuple[Path, dict[str, Any]]) -> None:
    _, summary = demo_case
    hosts = summary["hosts"]
    assert hosts["total"] == 6  # api, partner, legacy + payments, auth, vault.internal over TLS
    assert hosts["tls_only"] == 3
    assert summary["identities"]["registered"] == 4
    assert summary["identities"]["unregistered"] == 2  # the notebook, the report bot's key
    assert summary["credentials"]["by_kind"] == {"api_key": 2, "basic": 1, "jwt": 3}
    for rule in PLANTED_RULES:
        assert summary["findings"]["by_rule"].get(rule, 0) >= 1, f"{rule} missing"
    assert summary["findings"]["by_rule"]["unregistered_identity"] == 2
    assert summary["findings"]["by_severity"].get("high", 0) >= 1


def test_summary_counts_what_the_specs_classify(demo_case: tuple[Path, dict[str, Any]]) -> None:
    _, summary = demo_case
    assert summary["hosts"]["with_spec"] == 2
    endpoints = summary["endpoints"]
    for status in ("documented", "shadow", "zombie", "orphan"):
        assert endpoints[status] >= 1, status
    assert endpoints["zombie"] == 1
    for rule in PLANTED_SPEC_RULES:
        assert summary["findings"]["by_rule"].get(rule, 0) >= 1, f"{rule} missing"


def test_endpoints_are_classified_as_planted(demo_case: tuple[Path, dict[str, Any]]) -> None:
    case, _ = demo_case
    rows = json.loads(run("--db", str(case), "endpoints", "--json").stdout)
    status = {(r["host"], r["method"], r["template"]): r["status"] for r in rows}
    api, partner = "api.acme.example", "partner.acme.example"
    assert status[(api, "GET", "/v1/reports/legacy")] == "zombie"
    assert status[(api, "GET", "/v1/internal/customers/export")] == "shadow"
    assert status[(api, "DELETE", "/v1/orders/{orderId}")] == "orphan"
    assert status[(api, "GET", "/v1/orders/{orderId}")] == "documented"
    assert status[(partner, "GET", "/partner/v2/orders/{orderId}")] == "documented"
    assert status[(partner, "GET", "/partner/v2/admin/keys")] == "shadow"
    assert status[(partner, "GET", "/partner/v2/webhooks")] == "orphan"
    assert all(s == "shadow" for (h, _, _), s in status.items() if h == "legacy.acme.example")
    # the scanner's probes answered 404 only: route probing, not endpoints
    assert not any(t in ("/.env", "/.git/config", "/wp-login.php") for (_, _, t) in status)


# The whole inventory of the demo scenario, as it was before templating decided from shape and
# structure (issue 19): the held-out scenario must give the same endpoints, statuses and counts.
DEMO_INVENTORY = [
    ("api.acme.example", "DELETE", "/v1/customers/{customerId}", "orphan", 0),
    ("api.acme.example", "DELETE", "/v1/orders/{orderId}", "orphan", 0),
    ("api.acme.example", "GET", "/healthz", "documented", 2),
    ("api.acme.example", "GET", "/v1/customers/{customerId}", "documented", 5),
    ("api.acme.example", "GET", "/v1/internal/customers/export", "shadow", 2),
    ("api.acme.example", "GET", "/v1/invoices/{invoiceId}", "documented", 6),
    ("api.acme.example", "GET", "/v1/orders", "documented", 4),
    ("api.acme.example", "GET", "/v1/orders/{orderId}", "documented", 10),
    ("api.acme.example", "GET", "/v1/products", "orphan", 0),
    ("api.acme.example", "GET", "/v1/products/{productId}", "orphan", 0),
    ("api.acme.example", "GET", "/v1/reports/legacy", "zombie", 3),
    ("api.acme.example", "GET", "/v1/users/me", "documented", 2),
    ("api.acme.example", "POST", "/v1/orders", "documented", 2),
    ("api.acme.example", "POST", "/v1/refunds", "orphan", 0),
    ("legacy.acme.example", "GET", "/export/customers.csv", "shadow", 2),
    ("legacy.acme.example", "GET", "/reports/daily", "shadow", 2),
    ("legacy.acme.example", "GET", "/reports/weekly", "shadow", 1),
    ("partner.acme.example", "GET", "/partner/v2/admin/keys", "shadow", 1),
    ("partner.acme.example", "GET", "/partner/v2/admin/partners", "documented", 1),
    ("partner.acme.example", "GET", "/partner/v2/catalog", "documented", 2),
    ("partner.acme.example", "GET", "/partner/v2/orders/{orderId}", "documented", 66),
    ("partner.acme.example", "GET", "/partner/v2/webhooks", "orphan", 0),
    ("partner.acme.example", "POST", "/partner/v2/orders", "documented", 1),
    ("partner.acme.example", "POST", "/partner/v2/webhooks", "orphan", 0),
]


def test_the_inventory_is_the_one_the_scenario_plants(
    demo_case: tuple[Path, dict[str, Any]],
) -> None:
    case, _ = demo_case
    rows = json.loads(run("--db", str(case), "endpoints", "--json").stdout)
    got = sorted((r["host"], r["method"], r["template"], r["status"], r["requests"]) for r in rows)
    assert got == DEMO_INVENTORY


def test_summary_text_and_rebuild_from_scratch(tmp_path: Path) -> None:
    case = tmp_path / "again.db"
    built = run("demo", "--no-tui", "--json", "--case", str(case))
    assert "replacing" not in built.stderr
    first = json.loads(built.stdout)
    again = run("demo", "--no-tui", "--case", str(case))  # rebuilt, not added to
    assert f"demo: warning: replacing the existing demo case {case}" in again.stderr
    text = again.stdout
    assert f"({first['exchanges']} exchanges)" in text
    assert "hosts: 6" in text
    assert "registered 4, unregistered 2" in text
    assert "object_enumeration" in text


def test_leaked_partner_key_is_found_from_two_sources(
    demo_case: tuple[Path, dict[str, Any]],
) -> None:
    import sys

    sys.path.insert(0, str(DEMO_DIR.parents[1] / "demo"))
    from make_capture import SEED, Secrets

    case, _ = demo_case
    leaked = Secrets(SEED).globex_partner_key
    result = CliRunner().invoke(
        cli, ["--db", str(case), "credentials", "find", "--stdin", "--json"], input=leaked + "\n"
    )
    assert result.exit_code == 0, result.output
    assert leaked not in result.output
    found = json.loads(result.stdout)
    assert found["found"] is True
    assert set(found["credential"]["sources"]) == {"127.0.1.20", "127.0.1.99"}
    assert found["credential"]["identity"]


def test_demo_case_holds_no_raw_secret(demo_case: tuple[Path, dict[str, Any]]) -> None:
    import sys

    sys.path.insert(0, str(DEMO_DIR.parents[1] / "demo"))
    from make_capture import SEED, Secrets

    case, _ = demo_case
    secrets = Secrets(SEED)
    data = case.read_bytes() + b"".join(
        p.read_bytes() for p in case.parent.iterdir() if p.name.startswith(case.name + "-")
    )
    for raw in (secrets.globex_partner_key, secrets.report_bot_key, secrets.batch_password):
        assert raw.encode() not in data


@pytest.mark.anyio
async def test_the_console_opens_headless_on_the_case_the_demo_builds(
    demo_case: tuple[Path, dict[str, Any]],
) -> None:
    """What ``make demo`` opens, without a terminal: the overview, then the leaked key's page
    from the command line, its second address among its sources."""
    from ir_console.tui.app import ConsoleApp
    from ir_console.tui.screens.story import StoryScreen
    from tests.ir_console.tui.conftest import settle
    from tests.ir_console.tui.screen_text import screen_text

    case, summary = demo_case
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert f"exchanges {summary['exchanges']}" in screen_text(app)
        for key in ("colon", *"cred globex", "enter"):
            await pilot.press("space" if key == " " else key)
            await settle(pilot)
        page = app.screen
        assert isinstance(page, StoryScreen) and page.story is not None
        assert page.story.source_count == 2
        assert "acme_pk_globex_" in screen_text(app)
