"""Pilot tests of the investigation pages on the demo case: a credential's story (its second
address, its admin routes, its timeline), one exchange (copy its id and the command extracting
its frames), the ``:`` command line, escape back through the breadcrumb, sorting."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from discovery.case import blocklist
from discovery.case.store import Store
from ir_console.tui.app import ConsoleApp
from ir_console.tui.commandline import CommandError, parse
from ir_console.tui.modals import ChoiceModal
from ir_console.tui.rowlist import RowList
from ir_console.tui.screens.exchange import ExchangeScreen
from ir_console.tui.screens.help import HelpScreen
from ir_console.tui.screens.identities import CredentialsScreen
from ir_console.tui.screens.overview import OverviewScreen
from ir_console.tui.screens.story import StoryScreen
from ir_console.tui.widgets import VimTable
from tests.conftest import require_tool
from tests.ir_console.tui.casebuilder import add_proxied_exchange
from tests.ir_console.tui.conftest import press, settle, type_text
from tests.ir_console.tui.democase import build_demo, leaked_credential
from tests.ir_console.tui.screen_text import screen_text

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo-case.db")


@pytest.fixture
def demo(demo_built: Path, tmp_path: Path) -> Path:
    """A copy a test may write to (a block)."""
    for name in ("demo-case.db", "demo-case.db.key", "demo.pcap"):
        shutil.copyfile(demo_built.parent / name, tmp_path / name)
    return tmp_path / "demo-case.db"


async def command(pilot: object, text: str) -> None:
    await press(pilot, "colon")  # type: ignore[arg-type]
    await type_text(pilot, text)  # type: ignore[arg-type]
    await press(pilot, "enter")  # type: ignore[arg-type]
    await settle(pilot, 3)  # type: ignore[arg-type]


def rows(app: ConsoleApp, table_id: str) -> list[str]:
    table = app.screen.query_one(f"#{table_id}")
    if isinstance(table, RowList):
        return [" ".join(str(c) for c in table.cells_at(i)) for i in range(table.row_count)]
    assert isinstance(table, VimTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_the_leaked_key_page_tells_its_story(demo: Path) -> None:
    leaked = leaked_credential(demo)
    app = ConsoleApp(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, "cred globex")
        page = app.screen
        assert isinstance(page, StoryScreen) and page.subject.id == leaked
        text = screen_text(app)
        assert "Overview › Credential api_key acme_pk_globex_…PD6N" in text  # the breadcrumb
        assert "requests: 71" in text and "refused: 3" in text
        sources = rows(app, "story-sources")
        assert len(sources) == 2
        assert sources[0].startswith("127.0.1.99 67 64 3")  # the second address: busiest
        assert "+2.39 s" in sources[0] and "first" in sources[1]  # 2.4 s after the partner
        assert "globex-orders/5.1 curl" in sources[1]  # the partner's own client
        reach = rows(app, "story-reach")
        assert sum("privileged" in r for r in reach) == 2  # its two admin routes
        assert any(r.startswith("shadow privileged GET") for r in reach)
        # the timeline: the partner's lane starts at the left, the second address later
        lines = text.splitlines()
        partner = next(line for line in lines if line.strip().startswith("127.0.1.20 "))
        other = next(line for line in lines if line.strip().startswith("127.0.1.99 "))
        bars = slice(partner.index("127.0.1.20") + 17, None)
        assert partner[bars][0] != " " and other[bars][0] == " "
        first_bar = len(other[bars]) - len(other[bars].lstrip())
        assert first_bar > 10  # the second address starts well after the partner
        assert "3 refused" in text
        assert "object_enumeration" in text and "credential_multiple_sources" in text


async def test_an_admin_request_opens_and_its_id_and_frames_are_copied(demo: Path) -> None:
    app = ConsoleApp(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, "cred globex")
        await press(pilot, "slash")
        await type_text(pilot, "path:admin")
        await press(pilot, "enter")  # back to the exchanges
        found = rows(app, "story-exchanges")
        assert len(found) == 2 and all("/admin/" in r for r in found)
        await press(pilot, "enter")
        await settle(pilot, 2)
        view = app.screen
        assert isinstance(view, ExchangeScreen) and view.detail is not None
        text = screen_text(app)
        assert "GET partner.acme.example/partner/v2/admin/partners  → 200" in text
        assert "X-API-Key: acme_pk_globex_…PD6N" in text  # redacted in its place
        assert "127.0.1.99" in text and "frames" in text
        assert "Credential api_key acme_pk_globex_…PD6N › exchange" in text
        await press(pilot, "y")
        assert app.clipboard == str(view.exchange_id)
        await press(pilot, "c")
        argv = shlex.split(app.clipboard)
        assert argv[:3] == ["tshark", "-r", "demo.pcap"] and "-Y" in argv
        assert f"exchange-{view.exchange_id}.pcap" == argv[-1]
        await press(pilot, "C")
        assert shlex.split(app.clipboard)[0] == "editcap"
        await press(pilot, "escape")  # back to the page, the list focused where it was
        assert isinstance(app.screen, StoryScreen)
        assert app.focused is app.screen.query_one("#story-exchanges")
        await press(pilot, "escape")
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.integration  # runs tshark
async def test_the_copied_command_extracts_exactly_the_exchange_frames(
    demo: Path, tmp_path: Path
) -> None:
    """The copied command run for real: the new capture holds the request's frames only."""
    tshark = require_tool("tshark")
    app = ConsoleApp(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, "x 61")
        view = app.screen
        assert isinstance(view, ExchangeScreen) and view.detail is not None
        await press(pilot, "c")
        copied = app.clipboard
    argv = shlex.split(copied)
    out = tmp_path / "one.pcap"
    argv[argv.index("-r") + 1] = str(demo.parent / "demo.pcap")
    argv[-1] = str(out)
    assert argv[0] == "tshark"
    subprocess.run([tshark, *argv[1:]], check=True, capture_output=True, timeout=60)
    listed = subprocess.run(
        [tshark, "-r", str(out), "-T", "fields", "-e", "http.request.uri", "-e", "tcp.srcport"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    uris = {line.split("\t")[0] for line in listed.splitlines() if line.split("\t")[0]}
    assert uris == {view.detail.raw_path}
    ports = {int(line.split("\t")[1]) for line in listed.splitlines()}
    assert ports <= {view.detail.client_port, view.detail.server_port}


async def test_the_command_line_offers_choices_and_suggests(demo: Path) -> None:
    app = ConsoleApp(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await command(pilot, "endpoint /v2/admin")  # two admin routes: which one?
        assert isinstance(app.screen, ChoiceModal)
        assert len(app.screen.options) == 2
        await press(pilot, "enter")
        await settle(pilot, 2)
        assert isinstance(app.screen, StoryScreen) and app.screen.subject.type == "endpoint"
        assert "/admin/" in app.screen.subject.id
        await command(pilot, "client 127.0.1.99")
        page = app.screen
        assert isinstance(page, StoryScreen) and page.story is not None
        assert page.story.sources[0].requests == 67  # the credential it presented
        await command(pilot, "credentials")
        assert isinstance(app.screen, CredentialsScreen)
    with pytest.raises(CommandError, match='did you mean "cred"'):
        parse("crd globex")


async def test_sorting_a_list_by_keys_and_header_clicks(demo: Path) -> None:
    app = ConsoleApp(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "4")

        def counts() -> list[int]:
            return [int(str(c)) for c in app.screen.query_one(VimTable).get_column_at(4)]

        await press(pilot, "s")  # requests, ascending
        assert counts() == sorted(counts()) and counts()[0] < counts()[-1]
        await press(pilot, "s")  # then descending
        assert counts() == sorted(counts(), reverse=True)
        assert "sorted by requests ↓" in screen_text(app)
        await pilot.click("#table", offset=(4, 0))  # the "id" header
        await settle(pilot)
        ids = [str(c) for c in app.screen.query_one(VimTable).get_column_at(0)]
        assert ids == sorted(ids)


async def test_a_block_is_marked_on_the_timeline(demo: Path) -> None:
    leaked = leaked_credential(demo)
    with Store.open(demo, create=False) as store:
        blocklist.block_credential(store, leaked, "leaked")
    app = ConsoleApp(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, f"cred {leaked}")
        text = screen_text(app)
        assert "BLOCKED since" in text
        assert "▲ block" in text and "(after the last request)" in text


async def test_back_returns_to_the_row_you_were_on_even_after_the_case_changed(
    demo: Path,
) -> None:
    """Each screen keeps its own stack: escape from an exchange returns to the key's page
    with the same exchange highlighted, also when the case changed meanwhile (the page is
    read again, the cursor stays on its row); escape again returns to the overview."""
    app = ConsoleApp(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await command(pilot, "cred globex")
        page = app.screen
        assert isinstance(page, StoryScreen)
        table = page.query_one("#story-exchanges", RowList)
        for _ in range(5):
            await press(pilot, "j")
        chosen = table.cursor_key
        assert table.cursor_row == 5
        await press(pilot, "enter")
        assert isinstance(app.screen, ExchangeScreen) and str(app.screen.exchange_id) == chosen
        with Store.open(demo, create=False) as store:  # another process writes meanwhile
            blocklist.block_credential(store, leaked_credential(demo), "leaked")
        await press(pilot, "escape")
        for _ in range(30):  # the poll sees the change; the page reads itself again
            await pilot.pause(0.2)
            await settle(pilot)
            if page.story is not None and page.story.facts.get("blocked_at"):
                break
        assert app.screen is page and page.story is not None
        assert page.story.facts.get("blocked_at")  # it was read again
        assert table.cursor_key == chosen
        await press(pilot, "escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_the_exchange_page_says_where_a_request_really_went(tmp_path: Path) -> None:
    """A request sent through a proxy to one address while its Host names another: the page
    shows the real destination and the contradiction (converted by the pipeline's redaction)."""
    case = tmp_path / "case.db"
    exchange_id = add_proxied_exchange(case)
    app = ConsoleApp(case)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, f"x {exchange_id}")
        assert isinstance(app.screen, ExchangeScreen)
        text = screen_text(app)
        assert "went to: 10.9.9.9:8080" in text
        assert "MISMATCH Host 10.0.0.1:8080 sent to 10.9.9.9:8080" in text


async def test_a_page_is_first_shown_with_its_story(demo: Path) -> None:
    """No "loading…" draw first: the page appears once its story is read, drawn with it."""
    from ir_console.tui.messages import OpenStory, SubjectRef

    app = ConsoleApp(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.post_message(OpenStory(SubjectRef("credential", leaked_credential(demo))))
        for _ in range(500):
            if isinstance(app.screen, StoryScreen):
                break
            await pilot.pause(0.002)
        page = app.screen
        assert isinstance(page, StoryScreen)
        assert page.story is not None  # it came with the page: never shown "loading…"
        await settle(pilot)
        assert "requests: 71" in screen_text(app)


async def test_the_exchange_list_takes_keys_mouse_and_sorts(demo: Path) -> None:
    """The page's exchange list: vim keys move the cursor, y copies its exchange id, a click
    on a header sorts by that column, a click moves the cursor and a second click opens."""
    app = ConsoleApp(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await command(pilot, "cred globex")
        page = app.screen
        assert isinstance(page, StoryScreen)
        exchanges = page.query_one("#story-exchanges", RowList)
        assert app.focused is exchanges and exchanges.row_count == 71
        await press(pilot, "G")
        assert exchanges.cursor_row == 70
        await press(pilot, "g", "j", "j", "j")
        assert exchanges.cursor_row == 3
        await press(pilot, "y")
        assert app.clipboard == exchanges.key_at(3)
        # a click on the "status" header: sorted by status, ascending then descending
        labels = exchanges.shown_labels
        x = sum(exchanges.shown_widths[: labels.index("status")]) + 2
        await pilot.click("#story-exchanges", offset=(x, 0))
        await settle(pilot)
        assert page.SORTS[page.sort_index][0] == "status" and not page.descending
        statuses = [str(exchanges.cells_at(i)[5]) for i in range(exchanges.row_count)]
        assert statuses == sorted(statuses) and statuses[0] != statuses[-1]
        assert "sorted by status" in screen_text(app)
        await pilot.click("#story-exchanges", offset=(x, 0))
        await settle(pilot)
        assert page.descending
        statuses = [str(exchanges.cells_at(i)[5]) for i in range(exchanges.row_count)]
        assert statuses == sorted(statuses, reverse=True)
        await press(pilot, "s")  # s goes on to the next order: client
        assert page.SORTS[page.sort_index][0] == "client"
        # a click on the third row moves the cursor there; a second click opens it
        await press(pilot, "g")
        await pilot.click("#story-exchanges", offset=(4, 3))
        await settle(pilot)
        assert exchanges.cursor_row == 2 and isinstance(app.screen, StoryScreen)
        chosen = exchanges.key_at(2)
        await pilot.click("#story-exchanges", offset=(4, 3))
        await settle(pilot, 3)
        assert isinstance(app.screen, ExchangeScreen) and str(app.screen.exchange_id) == chosen


async def test_the_exchange_list_at_80_columns_keeps_ids_whole(demo: Path) -> None:
    """At 80 columns the list drops its low-value columns (the client first; the evidence
    cut), never the exchange id, and shows every id in full."""
    app = ConsoleApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await command(pilot, "cred globex")
        exchanges = app.screen.query_one("#story-exchanges", RowList)
        labels = exchanges.shown_labels
        assert "client" not in labels and {"time", "id", "path", "status"} <= set(labels)
        assert sum(exchanges.shown_widths) <= exchanges.size.width
        width = exchanges.shown_widths[labels.index("id")] - 2
        assert width >= max(len(exchanges.key_at(i) or "") for i in range(exchanges.row_count))


async def test_the_footer_names_the_keys_in_force_and_a_click_presses_one(demo: Path) -> None:
    app = ConsoleApp(demo)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, "cred globex")
        footer = screen_text(app).splitlines()[-1]
        assert " esc Back " in footer and " / Filter exchanges " in footer
        assert footer.rstrip().endswith("^p palette")
        await pilot.click("KeyFooter", offset=(footer.index(" ? Help") + 1, 0))
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
