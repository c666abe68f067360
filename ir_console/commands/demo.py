"""``ir-console demo``: build the bundled demo case (specs, register, capture) and open the console."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, message

DEMO_CASE = Path("demo-case.db")
DEMO_CAPTURE = "demo.pcap"
DEMO_SPECS = ("acme-api.openapi.yaml", "partner-api.openapi.yaml")
DEMO_REGISTER = "register.yaml"


@contextmanager
def demo_inputs() -> Iterator[Path]:
    """The folder of the bundled demo inputs, as a real path (also from a zipped install)."""
    with ExitStack() as stack:
        folder = resources.files("ir_console") / "demo"
        yield Path(stack.enter_context(resources.as_file(folder)))


def _remove_case(case_path: Path) -> None:
    from discovery.redact.secrets import key_path_for

    for stale in (
        case_path,
        key_path_for(case_path),
        Path(f"{case_path}-wal"),
        Path(f"{case_path}-shm"),
    ):
        stale.unlink(missing_ok=True)


def build_demo_case(case_path: Path) -> dict[str, Any]:
    """Build a fresh demo case at ``case_path`` and return its summary."""
    from discovery.analyse.register import import_register
    from discovery.analyse.specs import import_spec_file
    from discovery.case.store import Store
    from discovery.ingest.files import ingest_files
    from discovery.timeutil import iso

    if case_path.exists():
        message(
            f"demo: warning: replacing the existing demo case {case_path} (built "
            f"{iso(case_path.stat().st_mtime)}); --case PATH builds it elsewhere"
        )
    _remove_case(case_path)
    with demo_inputs() as folder, Store.open(case_path, create=True) as store:
        for name in DEMO_SPECS:
            message(f"demo: importing spec {name}")
            import_spec_file(store, folder / name, analyse=False)
        message(f"demo: importing identity register {DEMO_REGISTER}")
        import_register(store, folder / DEMO_REGISTER)
        message(f"demo: ingesting {DEMO_CAPTURE}")
        ingest_files(store, [folder / DEMO_CAPTURE])  # analyses once, over all of it
        return summarize(store)


def copy_inputs(folder: Path) -> list[Path]:
    """Copy the bundled inputs into ``folder`` (created), to replay the demo step by step."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    with demo_inputs() as source:
        for name in (DEMO_CAPTURE, *DEMO_SPECS, DEMO_REGISTER):
            copied.append(Path(shutil.copyfile(source / name, folder / name)))
    message(f"demo: inputs copied to {folder}: {', '.join(p.name for p in copied)}")
    return copied


def summarize(store: Any) -> dict[str, Any]:
    """Counts a responder reads first: hosts, endpoints, credentials, identities, findings."""
    from discovery.severity import SEVERITIES
    from discovery.views import queries
    from discovery.views.traffic import traffic

    hosts = queries.host_rows(store)
    endpoints = queries.endpoint_page(store, callers=False).rows
    creds = queries.credential_page(store, reach=False).rows
    idents = queries.identity_page(store).rows
    found = queries.finding_page(store).rows
    by_severity = Counter(f.severity for f in found)
    return {
        "exchanges": traffic(store).exchanges,
        "hosts": {
            "total": len(hosts),
            "tls_only": sum(1 for h in hosts if h.tls and h.requests == 0),
            "with_spec": sum(1 for h in hosts if h.spec),
        },
        "endpoints": {
            "total": len(endpoints),
            **{s: sum(1 for e in endpoints if e.status == s) for s in queries.ENDPOINT_STATUSES},
        },
        "credentials": {
            "total": len(creds),
            "by_kind": dict(sorted(Counter(c.kind for c in creds).items())),
        },
        "identities": {
            "total": len(idents),
            "registered": sum(1 for i in idents if i.registered),
            "unregistered": sum(1 for i in idents if not i.registered),
        },
        "findings": {
            "total": len(found),
            "by_severity": {s: by_severity[s] for s in SEVERITIES if by_severity[s]},
            "by_rule": dict(sorted(Counter(f.rule for f in found).items())),
        },
    }


def print_summary(case_path: Path, summary: dict[str, Any]) -> None:
    """The summary as plain text on stdout."""
    h, e, c, i, f = (
        summary[k] for k in ("hosts", "endpoints", "credentials", "identities", "findings")
    )
    lines = [
        f"demo case: {case_path} ({summary['exchanges']} exchanges)",
        f"hosts: {h['total']} ({h['with_spec']} documented by a spec, "
        f"{h['tls_only']} known only from TLS)",
        f"endpoints: {e['total']} ("
        + ", ".join(f"{s} {e[s]}" for s in ("documented", "shadow", "zombie", "orphan"))
        + ")",
        f"credentials: {c['total']} ("
        + ", ".join(f"{k} {n}" for k, n in c["by_kind"].items())
        + ")",
        f"identities: {i['total']} (registered {i['registered']}, "
        f"unregistered {i['unregistered']})",
        f"findings: {f['total']} ("
        + ", ".join(f"{s} {n}" for s, n in f["by_severity"].items())
        + ")",
    ]
    lines += [f"  {rule}: {count}" for rule, count in f["by_rule"].items()]
    click.echo("\n".join(lines))


@click.command()
@click.option("--no-tui", is_flag=True, help="Build the case and print a summary; no console.")
@click.option("--json", "as_json", is_flag=True, help="With --no-tui: the summary as JSON.")
@click.option(
    "--case",
    "case_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEMO_CASE,
    show_default=True,
    help="Where to build the demo case (rebuilt from scratch).",
)
@click.option(
    "--copy-inputs",
    "copy_to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also copy the bundled inputs (capture, specs, register) into this folder.",
)
@click.pass_obj
def demo(
    case: CaseContext, no_tui: bool, as_json: bool, case_path: Path, copy_to: Path | None
) -> None:
    """Build a fresh demo case from the bundled capture, specs and register; open the console.

    The demo is a recorded afternoon at a fictional company: a leaked partner key used from a
    second address, a year-long service token, a zombie and a shadow endpoint, a scanner, and
    more. Explore it with the other commands: ``ir-console --db demo-case.db findings``.
    """
    summary = build_demo_case(case_path)
    if copy_to is not None:
        copy_inputs(copy_to)
    if as_json:
        emit_json({"case": str(case_path), **summary})
    elif no_tui:
        print_summary(case_path, summary)
    if no_tui or as_json:
        return
    from ir_console.tui.app import ConsoleApp

    ConsoleApp(case_path).run()
