"""One read side: the CLI, the console and the runbooks hold no SQL (docs/architecture.md).

Read from the code itself: a call of ``execute``/``executemany``/``executescript`` or a use of a
store's ``conn`` in ``ir_console/`` or ``runbooks/`` bypasses ``discovery.views``. The only
modules allowed are the runbook engine's own run tables (``runstore``, and ``runs``, which reads
them back for ``runbook status``/``log``) and the evidence bundle, which copies the whole case
with SQLite's backup API.
"""

from __future__ import annotations

import ast

import pytest

from tests.paths import ROOT

SQL_CALLS = {"execute", "executemany", "executescript"}
ALLOWED = {
    "runbooks/runstore.py",  # the engine's run and step rows
    "runbooks/runs.py",  # `runbook status` / `log`: the engine's rows read back (issue 16)
    "runbooks/actions/evidence_bundle.py",  # store.conn.backup(copy): the whole case, copied
}


def sql_uses(source: str) -> list[int]:
    """Lines that run SQL or reach for a raw connection."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and (node.attr in SQL_CALLS or node.attr == "conn"):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_no_sql_outside_discovery() -> None:
    found = {}
    for package in ("ir_console", "runbooks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name in ALLOWED:
                continue
            lines = sql_uses(path.read_text(encoding="utf-8"))
            if lines:
                found[name] = lines
    assert not found, f"SQL past discovery.views (file: lines): {found}"


@pytest.mark.parametrize(
    "code",
    [
        "store.conn.execute('SELECT 1')",
        "rows = ctx.store.conn.execute(sql).fetchall()",
        "with store.transaction() as c:\n    c.executemany('INSERT', rows)",
        "conn = store.conn",
    ],
)
def test_the_scan_finds_sql(code: str) -> None:
    assert sql_uses(code)


def test_the_scan_leaves_other_code_alone() -> None:
    assert sql_uses("queries.endpoint_page(store, text='x')\nself.data.endpoints(text)") == []
