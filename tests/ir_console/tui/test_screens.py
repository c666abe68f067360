"""Pilot tests: every screen navigated, filtered and opened on a real case file."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Tree

from discovery.case import audit
from discovery.case.store import Store
from ir_console.tui.app import ConsoleApp
from ir_console.tui.modals import ConfirmModal, ErrorModal
from ir_console.tui.screens.help import HelpScreen
from ir_console.tui.screens.overview import OverviewScreen
from ir_console.tui.screens.story import StoryScreen
from ir_console.tui.widgets import VimTable
from tests.conftest import make_exchange
from tests.ir_console.tui.casebuilder import RAW_SECRETS
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio


def table_rows(app: ConsoleApp) -> list[str]:
    table = app.screen.query_one(VimTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def assert_no_secret(app: ConsoleApp) -> None:
    text = screen_text(app)
    for raw in RAW_SECRETS.values():
        assert raw not in text


async def test_overview_counts_and_jump_to_endpoint(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "endpoints 6" in text and "credentials 3" in text
        assert "Undocumented debug endpoint called" in text
        assert "ci-bot" in text  # unregistered identity
        assert app.first_paint_at is not None
        await press(pilot, "tab", "enter")  # shadow table: busiest shadow endpoint's page
        assert isinstance(app.screen, StoryScreen)
        assert app.screen.subject.type == "endpoint"
        assert app.screen.story is not None and app.screen.story.facts["status"] == "shadow"
        assert "Overview › Endpoint" in screen_text(app)  # the breadcrumb
        await press(pilot, "escape")  # back where it was opened
        assert isinstance(app.screen, OverviewScreen)


async def test_endpoints_filter_as_you_type_and_details(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        assert len(table_rows(app)) == 6
        await press(pilot, "slash")
        await type_text(pilot, "status:zombie")
        rows = table_rows(app)
        assert len(rows) == 1 and "/v0/export" in rows[0]
        await press(pilot, "ctrl+a", "ctrl+k")
        await type_text(pilot, "users")
        await press(pilot, "escape")  # back to the list
        assert len(table_rows(app)) == 1
        await press(pilot, "z")  # zoom the details
        text = screen_text(app)
        assert "Why this template" in text
        assert "{id}" in text and "parameter" in text and "integer id" in text
        assert "sk_live_…9fQ2" in text  # the caller, redacted
        assert "frames" in text  # sample evidence
        assert_no_secret(app)
        await press(pilot, "escape")
        assert app.screen.maximized is None


async def test_vim_keys_move_the_cursor(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        table = app.screen.query_one(VimTable)
        await press(pilot, "j", "j")
        assert table.cursor_row == 2
        await press(pilot, "k")
        assert table.cursor_row == 1
        await press(pilot, "G")
        assert table.cursor_row == table.row_count - 1
        await press(pilot, "g")
        assert table.cursor_row == 0


async def test_identities_unregistered_first_and_details(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "3")
        rows = table_rows(app)
        assert "NO" in rows[0] and "yes" in rows[-1]
        await press(pilot, "slash")
        await type_text(pilot, "ci-bot")
        await press(pilot, "escape")
        assert len(table_rows(app)) == 1
        text = screen_text(app)
        assert "UNREGISTERED" in text and "ghp_…1234" in text
        assert "/repos/{owner}/{repo}" in text


async def test_credentials_details_claims_and_lifetime(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "4")
        assert len(table_rows(app)) == 3
        await press(pilot, "slash")
        await type_text(pilot, "kind:github")
        await press(pilot, "escape", "z")
        text = screen_text(app)
        assert "ghp_…1234" in text
        assert '"login": "ci-bot"' in text
        assert "lifetime: 1y" in text  # 430 days
        assert "10.0.0.7" in text  # source
        assert "long_lived_token" in text
        assert_no_secret(app)


async def test_findings_by_severity_and_evidence(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "5")
        rows = table_rows(app)
        assert [r.split()[0] for r in rows] == ["critical", "high", "medium", "low"]
        await press(pilot, "slash")
        await type_text(pilot, "severity:medium")
        await press(pilot, "escape")
        assert len(table_rows(app)) == 1
        text = screen_text(app)
        assert "Evidence" in text and '"requests": 3' in text


async def test_graph_blast_radius_from_a_credential_and_what_if(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "4", "slash")
        await type_text(pilot, "sk_live")
        await press(pilot, "escape", "x")
        assert app.current_mode == "graph"
        text = screen_text(app)
        assert "blast radius of this credential" in text
        assert "service billing.example.com" in text
        assert "/invoices/{invoice}" in text and "10.0.0.5" in text
        # the identity view, then remove its only credential: nothing is reached any more
        await press(pilot, "slash")
        await type_text(pilot, "key:payments-svc")
        await press(pilot, "enter")
        tree = app.screen.query_one(Tree)
        labels = [str(n.label) for n in tree.root.children]
        assert labels[0].startswith("holds 1 credential")
        tree.move_cursor(tree.root.children[0].children[0])
        await press(pilot, "w")
        text = screen_text(app)
        assert "what-if" in text
        assert "no longer reached without" in text and "still reached: 0" in text


async def test_graph_exposure_of_an_endpoint(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "6", "slash")
        await type_text(pilot, "api.example.com GET /internal/debug/vars")
        await press(pilot, "enter")
        text = screen_text(app)
        assert "exposure: who reaches this endpoint" in text
        assert "pk_par…ZZZZ" in text


@pytest.mark.integration
async def test_live_capture_shows_exchanges_written_by_another_process(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "7")
        before = len(table_rows(app))
        with Store.open(case) as writer:  # a second connection, as a running capture would be
            writer.add_exchanges(
                [
                    make_exchange(
                        ts=1_790_100_000.0 + i,
                        host="live.example.com",
                        path=f"/stream/{i}",
                        raw_path=f"/stream/{i}",
                    )
                    for i in range(5)
                ]
            )
        await pilot.pause(1.2)
        await settle(pilot)
        rows = table_rows(app)
        assert len(rows) == before + 5
        assert "live.example.com" in rows[0] and "/stream/4" in rows[0]
        assert "5 arrived while watching" in screen_text(app)
        await press(pilot, "slash")
        await type_text(pilot, "stream/3")
        assert len(table_rows(app)) == 1


async def test_live_screen_shows_a_running_capture_and_its_loss_as_it_happens(
    case: Path,
) -> None:
    """The counters a capture writes every second (``Store.update_input_stats``, as ``capture
    live`` does) reach the Live screen: no loss, then loss, loudly."""
    app = ConsoleApp(case)
    with Store.open(case) as capture:  # a second connection, as a running capture would be
        input_id = capture.register_capture("live:eth0", "live")

        def counters(packets: int, received: int, dropped: int) -> dict[str, object]:
            return {
                "packets": packets,
                "received": received,
                "dropped": {"kernel": dropped, "queue": 0},
                "updated_at": time.time(),
            }

        capture.update_input_stats(input_id, counters(1000, 1000, 0), 0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await press(pilot, "7")
            await shown(pilot, app, "live:eth0 running: 1000 packets, 0 lost")
            capture.update_input_stats(input_id, counters(1500, 2000, 500), 500)
            await shown(pilot, app, "live:eth0 running: 1500 packets, 500 of 2000 LOST (25.0%)")


async def shown(pilot: Pilot[None], app: ConsoleApp, text: str, timeout: float = 20.0) -> None:
    """Wait until the screen shows ``text`` (the screen polls the case twice a second)."""
    deadline = time.monotonic() + timeout
    while text not in screen_text(app):
        assert time.monotonic() < deadline, f"{text!r} never shown: {screen_text(app)}"
        await pilot.pause(0.2)


def add_fresh_endpoint(case: Path) -> None:
    """Another process adds the endpoint ``GET new.example.com/fresh`` to the case."""
    conn = sqlite3.connect(case)
    conn.execute(
        "INSERT INTO endpoints(host, method, template, status, requests) "
        "VALUES ('new.example.com', 'GET', '/fresh', 'shadow', 1)"
    )
    conn.commit()
    conn.close()


async def test_screens_refresh_when_the_case_changes(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        assert len(table_rows(app)) == 6
        add_fresh_endpoint(case)
        # the poll runs every second; on a loaded machine its timer may fire late
        for _ in range(50):
            await pilot.pause(0.2)
            await settle(pilot)
            if any("/fresh" in r for r in table_rows(app)):
                break
        assert any("/fresh" in r for r in table_rows(app))
        assert app.case_version >= 1  # seen by the poll, not by a reload of our own


async def test_runbook_runs_and_steps(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "8")
        rows = table_rows(app)
        assert len(rows) == 1 and "revoke-leaked-credential" in rows[0]
        text = screen_text(app)
        assert "summary" in text and "block" in text and "revoke" in text


async def test_audit_timeline_and_verification(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "9")
        rows = table_rows(app)
        assert "unblock.credential" in rows[0] and "block.credential" in rows[1]
        await press(pilot, "v")
        assert not isinstance(app.screen, ErrorModal)
        # tamper with an entry: verification names it in an error modal
        conn = sqlite3.connect(case)
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
        conn.commit()
        conn.close()
        await press(pilot, "v")
        assert isinstance(app.screen, ErrorModal)
        assert "entry 1 was changed" in screen_text(app)


async def test_help_and_palette(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "READ-ONLY (the default)" in screen_text(app) or "Screens" in screen_text(app)
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)
        await press(pilot, "ctrl+p")
        await type_text(pilot, "Go to Findings")
        await press(pilot, "enter")
        await settle(pilot)
        assert app.current_mode == "findings"


async def test_badge_read_only_by_default_and_block_only_when_live(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "READ-ONLY" in screen_text(app)
        await press(pilot, "4", "b")  # refused in read-only
        await press(pilot, "M", "j")  # DRY-RUN
        await press(pilot, "enter")
        assert "DRY-RUN" in screen_text(app)
        await press(pilot, "b")  # planned only
        with Store.open(case) as store:
            assert store.conn.execute("SELECT COUNT(*) FROM blocklist").fetchone()[0] == 0
        await press(pilot, "M", "j", "j", "enter")
        assert isinstance(app.screen, ConfirmModal)
        await type_text(pilot, "LIVE")
        await press(pilot, "enter")
        assert app.safety == "live" and "LIVE" in screen_text(app)
        await press(pilot, "b")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "tab")  # from Cancel... focus the block button explicitly
        app.screen.query_one("#yes").press()
        await settle(pilot, 3)
        with Store.open(case) as store:
            blocked = store.conn.execute("SELECT kind, subject FROM blocklist").fetchall()
            assert len(blocked) == 1 and blocked[0][0] == "credential"
            assert audit.entries(store)[-1].action == "block.credential"
            assert audit.entries(store)[-1].actor == "console"


async def test_overview_new_since_window_is_chosen_with_n(case: Path) -> None:
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "new in the last 24h of traffic" in screen_text(app)
        day = app.screen.overview.since
        await press(pilot, "n")
        await settle(pilot)
        assert "new in the last 7d of traffic" in screen_text(app)
        assert app.screen.overview.since == pytest.approx(day - 6 * 86400)
        await press(pilot, "n", "n")
        await settle(pilot)
        assert "new in the last 1h of traffic" in screen_text(app)
        assert app.screen.overview.since == pytest.approx(day + 23 * 3600)


@pytest.mark.integration
async def test_a_proxy_started_from_the_live_screen_records_traffic(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c starts a real recording proxy (``capture proxy`` in a child process) on loopback; a
    request sent through it appears on the live screen; s stops it cleanly."""
    import socket
    import time

    import httpx

    from tests.discovery.proxyfixtures import upstream

    monkeypatch.setenv("HOME", str(tmp_path))  # mitmproxy's CA goes to ~/.mitmproxy
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = ConsoleApp(case)
    with upstream() as server:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await press(pilot, "7", "c")
            await press(pilot, *(["backspace"] * 20))
            await type_text(pilot, f"127.0.0.1:{port}")
            # from here a worker watches the proxy until it ends: no waiting for workers
            await pilot.press("enter")
            await pilot.pause(0.3)
            screen = app.screen
            assert screen.proxy is not None
            deadline = time.monotonic() + 60
            while True:  # the proxy is ready once it accepts connections
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the proxy never listened"
                    assert screen.proxy.poll() is None, "the proxy exited at start"
                    await pilot.pause(0.3)
            with httpx.Client(proxy=f"http://127.0.0.1:{port}") as client:
                assert client.get(server.url("/from-the-console/7")).status_code == 200
            deadline = time.monotonic() + 20
            while not any("/from-the-console/7" in r for r in table_rows(app)):
                assert time.monotonic() < deadline, "the exchange never reached the screen"
                await pilot.pause(0.3)
            proc = screen.proxy
            await pilot.press("s")
            proc.wait(20)
            await settle(pilot)
            assert proc.returncode in (0, -15)
            assert not isinstance(app.screen, ErrorModal)
    assert server.seen and server.seen[-1]["path"] == "/from-the-console/7"


async def test_an_empty_case_says_how_to_start_until_traffic_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    empty = Path("fresh case.db")  # named as a responder names it, relative to where they are
    Store.open(empty, create=True).close()
    app = ConsoleApp(empty)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "This case holds no traffic yet" in text
        # the commands name this case (quoted for a shell: its name has a space)
        assert f"ir-console --db '{empty}' ingest capture.pcap" in text
        assert "ir-console demo" in text
        with Store.open(empty, create=False) as store:  # another process ingests
            store.add_exchanges([make_exchange()])
        for _ in range(50):  # the case poll runs every second; late on a loaded machine
            await pilot.pause(0.2)
            await settle(pilot)
            if "no traffic yet" not in screen_text(app):
                break
        assert "no traffic yet" not in screen_text(app)
        assert "exchanges 1" in screen_text(app)


async def test_a_screen_shown_again_reads_what_changed_while_it_was_hidden(case: Path) -> None:
    """The case changes while a page covers the endpoints list (the poll tells only the page on
    top): back on the list, it reads the case again and shows the new endpoint."""
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        listed = app.screen
        assert len(table_rows(app)) == 6
        await press(pilot, "enter")
        assert isinstance(app.screen, StoryScreen)
        add_fresh_endpoint(case)
        version = app.case_version
        for _ in range(50):  # the poll runs every second; on a loaded machine it may fire late
            await pilot.pause(0.2)
            if app.case_version > version:
                break
        assert app.case_version > version and isinstance(app.screen, StoryScreen)
        await press(pilot, "escape")
        assert app.screen is listed
        for _ in range(25):
            await settle(pilot)
            if any("/fresh" in r for r in table_rows(app)):
                break
            await pilot.pause(0.2)
        assert any("/fresh" in r for r in table_rows(app))


async def test_a_page_opened_over_a_list_is_laid_out_again_only_when_its_size_changes(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual tells a pushed screen its size after its first layout, then lays it out again
    and the screens under it too, at the sizes they have: the console skips those layouts
    (``CaseScreen.on_resize``), and still follows the terminal when it is resized. Counted
    through Textual's private ``_refresh_layout``: an upgrade that changes this fails here
    instead of slowing every page quietly."""
    layouts: Counter[str] = Counter()
    original = Screen._refresh_layout

    def counted(screen: Screen[Any], size: Any = None, scroll: bool = False) -> None:
        layouts[type(screen).__name__] += 1
        original(screen, size, scroll)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    app = ConsoleApp(case)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        layouts.clear()
        await press(pilot, "enter")
        assert isinstance(app.screen, StoryScreen)
        assert layouts["EndpointsScreen"] == 0 and layouts["StoryScreen"] <= 2, layouts
        await pilot.resize_terminal(100, 30)
        for _ in range(25):
            await settle(pilot)
            if app.screen.outer_size == (100, 30):
                break
            await pilot.pause(0.1)
        assert app.screen.outer_size == (100, 30)
        await press(pilot, "escape")
        assert app.screen.outer_size == (100, 30)  # the list under it, laid out as it returns
