"""The console's endpoint screen on the captured gRPC case: a method's details name its service
and method and its outcomes by gRPC status name (codes sharing an HTTP status apart)."""

from __future__ import annotations

import pytest

from ir_console.tui.app import ConsoleApp
from tests.discovery.grpc.conftest import Captured
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_the_endpoint_screen_shows_a_methods_grpc_outcomes(captured: Captured) -> None:
    app = ConsoleApp(captured.case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")  # the endpoints
        await press(pilot, "slash")
        await type_text(pilot, "GetAccount")
        await press(pilot, "escape", "z")  # the list, then its details zoomed
        text = screen_text(app)
        assert "/lab.v1.Accounts/GetAccount" in text
        assert "gRPC service: lab.v1.Accounts" in text and "method: GetAccount" in text
        assert "OK: 2" in text
        assert "PERMISSION_DENIED: 1" in text and "UNAUTHENTICATED: 1" in text
        # three codes HTTP gives one status (500), each by its own name
        assert "INTERNAL: 1" in text and "DATA_LOSS: 1" in text and "UNKNOWN: 1" in text
        assert captured.lab.token not in text
