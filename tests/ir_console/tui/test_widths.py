"""Tables that use the width: columns give way by priority (long texts cut with "…", then
low-value columns dropped), ids never cut, nothing clipped at the right edge."""

from __future__ import annotations

from pathlib import Path

import pytest

from ir_console.tui.app import ConsoleApp
from ir_console.tui.rowlist import RowList
from ir_console.tui.widgets import PADDING, Column, VimTable, fit_columns
from tests.ir_console.tui.conftest import settle
from tests.ir_console.tui.democase import build_demo, leaked_credential

pytestmark = pytest.mark.anyio

COLUMNS = (
    Column("id"),
    Column("title", flex=True, least=10),
    Column("host", flex=True, least=8, drop=1),
    Column("last seen", drop=2),
    Column("count"),
)
NATURAL = (14, 40, 20, 16, 5)


def used(widths: list[int | None]) -> int:
    return sum(w + PADDING for w in widths if w is not None)


def test_everything_shown_whole_when_it_fits() -> None:
    assert fit_columns(COLUMNS, NATURAL, 200) == list(NATURAL)


def test_long_texts_are_cut_before_any_column_is_dropped() -> None:
    widths = fit_columns(COLUMNS, NATURAL, used(list(NATURAL)) - 20)
    assert None not in widths
    assert widths[0] == 14 and widths[3] == 16 and widths[4] == 5  # ids and counts whole
    assert used(widths) <= used(list(NATURAL)) - 20


def test_low_value_columns_drop_first_and_their_room_goes_back_to_the_texts() -> None:
    # cut to their least, the texts still need 63 cells: one column must go
    widths = fit_columns(COLUMNS, NATURAL, 55)
    assert widths[3] is None  # "last seen" (drop 2) went before "host" (drop 1)
    assert widths[2] == 8  # the lower-value text is cut first, to its least
    assert widths[1] == 20  # the title got back the room "last seen" left
    assert widths[0] == 14 and widths[4] == 5
    assert used(widths) == 55  # the room a dropped column left is used, not wasted
    narrow = fit_columns(COLUMNS, NATURAL, 40)
    assert narrow[2] is None and narrow[3] is None
    assert narrow[0] == 14 and narrow[4] == 5 and used(narrow) == 40


def test_an_id_is_never_cut_even_when_nothing_fits() -> None:
    widths = fit_columns(COLUMNS, NATURAL, 20)
    assert widths[0] == 14 and widths[4] == 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo-case.db")


@pytest.mark.parametrize("width", [80, 160])
async def test_no_table_is_clipped_at_the_right_edge(demo: Path, width: int) -> None:
    """On every list and on the leaked key's page, each table's shown columns fit its width,
    and the ids a responder copies are whole."""
    app = ConsoleApp(demo)
    leaked = leaked_credential(demo)
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot)
        for keys in (("2",), ("3",), ("4",), ("5",), ("8",), ("9",), ("1",)):
            for key in keys:
                await pilot.press(key)
            await settle(pilot)
            for table in app.screen.query(VimTable):
                if not table.row_count or not table.columns:
                    continue
                room = table.size.width
                widths = [c.get_render_width(table) for c in table.columns.values()]
                assert sum(widths) <= room, (type(app.screen).__name__, table.id, widths, room)
            for rows in app.screen.query(RowList):
                assert sum(rows.shown_widths) <= rows.size.width, (rows.id, rows.shown_widths)
        for key in ("colon", *"cred globex", "enter"):
            await pilot.press("space" if key == " " else key)
            await settle(pilot)
        for rows in app.screen.query(RowList):  # the page's lists fit too
            assert rows.row_count and sum(rows.shown_widths) <= rows.size.width, rows.id
        reach = app.screen.query_one("#story-reach", RowList)
        labels = reach.shown_labels
        assert {"endpoint", "requests", "refused"} <= set(labels)  # the counts stay
        if width == 80:
            assert "last seen" not in labels  # the lowest-value column made room
        shown = [i for i, label in enumerate(reach.shown_labels) if label == "endpoint"]
        assert shown and reach.shown_widths[shown[0]] - PADDING >= len("/partner/v2/admin/keys")
        found = [" ".join(str(c) for c in reach.cells_at(i)) for i in range(reach.row_count)]
        assert any("/partner/v2/admin/keys" in r for r in found)  # the admin route, whole
        await pilot.press("4")
        await settle(pilot)
        ids = [str(app.screen.query_one(VimTable).get_row_at(i)[0]) for i in range(6)]
        assert leaked in ids  # a credential id, never cut
