"""The exchange page's text: what the request and its answer held, as counted kinds."""

from __future__ import annotations

from pathlib import Path

from discovery.case.store import Store
from discovery.views.exchange import exchange_detail
from ir_console.tui.screens.exchange import exchange_text
from tests.ir_console.tui.casebuilder import (
    add_graphql_call,
    add_grpc_call,
    add_proxied_exchange,
)


def _page(case_path: Path, exchange_id: int) -> str:
    with Store.open(case_path, create=False) as store:
        detail = exchange_detail(store, exchange_id)
    assert detail is not None
    return exchange_text(detail, None).plain


def test_the_page_shows_the_sensitive_data_of_the_request_beside_the_response(
    case_path: Path,
) -> None:
    text = _page(case_path, add_grpc_call(case_path))
    assert "sensitive data in the response: email×2" in text
    assert "sensitive data in the request: email×1" in text
    assert "alice@example.com" not in text and "bob@example.org" not in text


def test_the_page_shows_the_sensitive_data_of_graphql_variables(case_path: Path) -> None:
    text = _page(case_path, add_graphql_call(case_path))
    assert "sensitive data in the response: none found" in text
    assert "sensitive data in the request: email×1" in text
    assert "dave@example.com" not in text


def test_a_request_never_scanned_says_nothing_of_its_sensitive_data(case_path: Path) -> None:
    text = _page(case_path, add_proxied_exchange(case_path))
    assert "sensitive data in the response: none found" in text
    assert "sensitive data in the request" not in text
