"""The Textual console application."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from discovery import queries
from discovery.store import Store
from ir_console.sanitize import clean


class ConsoleApp(App[None]):
    """ir-console's terminal UI over one case file."""

    TITLE = "ir-console"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, case_path: Path) -> None:
        super().__init__()
        self.case_path = case_path

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary", markup=False)
        yield DataTable(id="findings")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.case_path)
        with Store.open(self.case_path, create=False) as store:
            counts = {
                "hosts": len(queries.hosts(store)),
                "endpoints": len(queries.endpoints(store)),
                "credentials": len(queries.credentials(store)),
                "findings": len(found := queries.findings(store)),
            }
        self.query_one("#summary", Static).update(
            "  ".join(f"{name}: {count}" for name, count in counts.items())
        )
        table = self.query_one("#findings", DataTable)
        table.add_columns("severity", "rule", "title")
        for row in found[:100]:
            table.add_row(*(Text(clean(row[k])) for k in ("severity", "rule", "title")))
