"""The demo case (``ir-console demo``'s scenario: the leaked partner key used from a second
address) built the demo's way from its bundled capture, specs and register, with a fixed case
key and the capture named by its file name, so credential ids and paths (hence snapshots) are
the same on every machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from discovery.redact.secrets import key_path_for
from ir_console.commands.demo import DEMO_CAPTURE, DEMO_REGISTER, DEMO_SPECS, demo_inputs

LEAKED_IDENTITY = "reg:partner-globex"


def build_demo(path: Path) -> Path:
    """The demo case at ``path`` (its inputs copied beside it)."""
    from discovery.analyse.register import import_register
    from discovery.analyse.specs import import_spec_file
    from discovery.case.store import Store
    from discovery.ingest.files import ingest_files

    folder = path.parent
    with demo_inputs() as bundled:
        for name in (*DEMO_SPECS, DEMO_REGISTER, DEMO_CAPTURE):
            shutil.copyfile(bundled / name, folder / name)
    key_path_for(path).write_text("00" * 32)
    key_path_for(path).chmod(0o600)
    here = Path.cwd()
    os.chdir(folder)  # the capture is recorded as "demo.pcap", wherever the test runs
    try:
        with Store.open(path, create=True) as store:
            for name in DEMO_SPECS:
                import_spec_file(store, Path(name), analyse=False)
            import_register(store, Path(DEMO_REGISTER))
            ingest_files(store, [Path(DEMO_CAPTURE)])
    finally:
        os.chdir(here)
    return path


def leaked_credential(path: Path) -> str:
    """The id of the demo's leaked partner key."""
    from discovery.case.store import Store
    from discovery.views.queries import credential_page

    with Store.open(path, create=False) as store:
        return next(r.id for r in credential_page(store).rows if r.identity == LEAKED_IDENTITY)
