"""The console shows OAuth token lineage: an opaque bearer token's detail names the client that
obtained it, and the client identity's detail counts the tokens issued to it (a real Authlib
server on loopback, captured with tcpdump, ingested by the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ir_console.tui.app import ConsoleApp
from tests.discovery.analyse.oauth_lineage import capture_and_ingest
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.integration]  # tcpdump and the CLI


async def test_token_detail_names_the_client_that_obtained_it(tmp_path: Path) -> None:
    case, got, port = capture_and_ingest(tmp_path)
    client = f"client:127.0.0.1:{port}|svc-reports"
    app = ConsoleApp(case)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await press(pilot, "4")  # credentials
        await press(pilot, "slash")
        await type_text(pilot, "kind:bearer svc-reports")
        await press(pilot, "escape", "z")  # zoom the details (enter opens the story page)
        text = screen_text(app)
        assert f"issued by: {client}" in text
        await press(pilot, "3")  # identities
        await press(pilot, "slash")
        await type_text(pilot, "svc-reports")
        await press(pilot, "escape", "z")  # zoom the details (enter opens the story page)
        text = screen_text(app)
        assert "tokens issued to it (OAuth token endpoint): 1" in text
        assert f"issued to {client}" in text
        for secret in got.values():
            assert secret not in text
