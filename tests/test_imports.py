"""Import contracts: the headless packages never load the UI, and commands load only what they use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from discovery.case.store import Store

pytestmark = pytest.mark.integration  # starts processes or servers

HEAVY = ("scapy", "mitmproxy", "textual", "networkx")


def loaded_modules(code: str) -> set[str]:
    script = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_headless_packages_do_not_load_textual() -> None:
    import pkgutil

    import discovery
    import runbooks

    names = ["discovery", "runbooks"]
    for package in (discovery, runbooks):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            names.append(info.name)
    modules = loaded_modules("\n".join(f"import {name}" for name in names))
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)
    assert not any(m.startswith("ir_console") for m in modules)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["endpoints", "--json"],
        ["credentials", "--json"],
        ["identities", "--json"],
        ["findings", "--json"],
        ["hosts", "--json"],
        ["search", "api", "--json"],
    ],
)
def test_read_commands_load_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    with Store.open(case):
        pass
    code = (
        "import sys\n"
        f"sys.argv = ['ir-console', '--db', {str(case)!r}, *{argv!r}]\n"
        "from ir_console.cli import cli\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    modules = loaded_modules(code)
    for heavy in HEAVY:
        assert heavy not in modules, f"{argv} imported {heavy}"


def test_ingest_without_a_spec_loads_no_spec_machinery(tmp_path: Path) -> None:
    """`$ref` resolution and spec validation (referencing, openapi-spec-validator: about 40 ms
    of every command's start) are loaded only when a spec is read."""
    capture = Path(__file__).parent / "fixtures" / "pcap" / "http_api.pcap"
    case = tmp_path / "case.db"
    code = (
        "import sys\n"
        f"sys.argv = ['ir-console', '--db', {str(case)!r}, 'ingest', {str(capture)!r}]\n"
        "from ir_console.cli import cli\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    modules = loaded_modules(code)
    with Store.open(case) as store:  # the ingest ran: its exchanges are in the case
        assert store.conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] > 0
    # nor YAML: the analysis reads no rules, register or spec file it was not given
    for library in ("referencing", "openapi_spec_validator", "jsonschema", "yaml"):
        assert library not in modules, f"ingest imported {library}"
