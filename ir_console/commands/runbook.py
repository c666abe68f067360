"""``ir-console runbook``: list, show, validate, run, resume, status and log of runbook runs.

The engine is headless and yields events; this module only renders them (plain lines, or JSON
Lines with ``--json``) and maps the run's end to the exit code: 0 succeeded (or planned),
1 failed, 3 stopped at an approval gate, 4 ended with containment partial or unverified (the
outcome says what was done and what was not).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ir_console.cli import CaseContext
from ir_console.output import emit_json, emit_json_line, emit_table, message
from ir_console.sanitize import clean

EXIT_FOR_STATE = {
    "succeeded": 0,
    "planned": 0,
    "failed": 1,
    "waiting": 3,
    "partial": 4,
    "unverified": 4,
}


@click.group()
@click.option(
    "--runbooks",
    "runbooks_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="IR_CONSOLE_RUNBOOKS",
    help="A folder of your own runbooks (beside the built-in ones). Env: IR_CONSOLE_RUNBOOKS.",
)
@click.pass_context
def runbook(ctx: click.Context, runbooks_dir: Path | None) -> None:
    """Containment runbooks: list, show, validate, run, resume, status, log."""
    ctx.meta["runbooks_dir"] = runbooks_dir


def _dir(ctx: click.Context) -> Path | None:
    value: Path | None = ctx.meta.get("runbooks_dir")
    return value


@runbook.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The runbooks available: built-in and your own (a file that cannot be loaded is named
    on stderr and left out; the others stay usable)."""
    from runbooks import loader

    problems: list[str] = []
    found = loader.load_all(_dir(ctx), problems)
    for problem in problems:
        message(f"left out: {problem}")
    rows: list[dict[str, Any]] = [
        {
            "id": rid,
            "title": lr.runbook.title,
            "applies_to": lr.runbook.applies_to,
            "source": lr.source,
            "path": lr.path,
            "steps": len(lr.runbook.steps),
        }
        for rid, lr in sorted(found.items())
    ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["id", "applies to", "steps", "source", "title"],
        [[r["id"], ",".join(r["applies_to"]), r["steps"], r["source"], r["title"]] for r in rows],
    )


@runbook.command()
@click.argument("runbook_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def show(ctx: click.Context, runbook_id: str, as_json: bool) -> None:
    """A runbook's inputs and steps."""
    from runbooks import loader

    loaded = loader.find(runbook_id, _dir(ctx))
    rb = loaded.runbook
    if as_json:
        emit_json(
            {
                **rb.model_dump(mode="json", by_alias=True, exclude_defaults=True),
                "source": loaded.source,
                "path": loaded.path,
                "sha256": loaded.sha256,
            }
        )
        return
    out = [
        f"{rb.id}: {rb.title}  ({loaded.source}, {loaded.path})",
        f"applies to: {', '.join(rb.applies_to)}",
        "",
    ]
    if rb.description:
        out += [rb.description.strip(), ""]
    if rb.inputs:
        out.append("inputs:")
        for name, spec in rb.inputs.items():
            flags = (
                [spec.type]
                + (["secret"] if spec.secret else [])
                + (["required"] if spec.required else [])
            )
            default = f" default={spec.default!r}" if spec.default not in (None, "") else ""
            env = f" env=${spec.env}" if spec.env else ""
            out.append(f"  {name} ({', '.join(flags)}){default}{env}  {spec.description}".rstrip())
        out.append("")
    out.append("steps:")
    for i, step in enumerate(rb.steps, 1):
        what = step.action if step.kind == "action" else step.kind
        marks = [
            m
            for m, on in (
                ("irreversible", step.irreversible),
                ("when", step.when),
                ("rollback", step.rollback),
                ("retry", step.retry.attempts > 1),
            )
            if on
        ]
        extra = f"  [{', '.join(marks)}]" if marks else ""
        out.append(f"  {i:2}. {step.id}: {what}{extra}  {step.title}".rstrip())
    click.echo(clean("\n".join(out), single_line=False))


@runbook.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def validate(path: Path) -> None:
    """Check a runbook file; errors name the file, line, step and field (exit 2)."""
    from runbooks import loader

    loaded = loader.load_file(path)
    message(f"{path}: ok: runbook {loaded.runbook.id} ({len(loaded.runbook.steps)} steps)")


def _params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected K=V, got {item!r}", param_hint="--param")
        params[key.strip()] = value
    return params


def _secrets(names: tuple[str, ...]) -> dict[str, str]:
    """Secret inputs read from stdin, one line each, in the order named."""
    out: dict[str, str] = {}
    for name in names:
        line = sys.stdin.readline()
        if not line:
            raise click.BadParameter(
                f"stdin ended before the secret {name!r}", param_hint="--secret-stdin"
            )
        out[name] = line.rstrip("\r\n")
    return out


def _interactive(as_json: bool) -> Any:
    """A confirm callback when a person is at a terminal (never with --json or piped input)."""
    if as_json or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def confirm(step: Any, gate: str, prompt: str) -> bool:
        message(f"[{gate}] {step.id}: {prompt}")
        if gate == "irreversible":
            typed = click.prompt(
                f"type the step id ({step.id}) to approve this irreversible "
                "step, anything else to stop",
                default="",
                show_default=False,
                err=True,
            )
            return bool(typed.strip() == step.id)
        return bool(click.confirm("go on?", default=False, err=True))

    return confirm


run_options = [
    click.option("--yes", is_flag=True, help="Grant ordinary approval gates and manual steps."),
    click.option(
        "--approve",
        "approve",
        multiple=True,
        metavar="STEP",
        help="Approve this step (needed for each irreversible step). Repeatable.",
    ),
    click.option(
        "--secret-stdin",
        "secret_names",
        multiple=True,
        metavar="NAME",
        help="Read this secret input from stdin (one line each). Repeatable.",
    ),
    click.option("--json", "as_json", is_flag=True, help="JSON Lines: one event per line."),
]


def _with_run_options(func: Any) -> Any:
    for option in reversed(run_options):
        func = option(func)
    return func


@runbook.command()
@click.argument("runbook_id")
@click.option(
    "--target",
    required=True,
    help='Credential id, identity, "HOST METHOD TEMPLATE", host or client address.',
)
@click.option("--param", "param", multiple=True, metavar="K=V", help="An input value. Repeatable.")
@click.option("--dry-run", is_flag=True, help="Plan every step and call nothing.")
@_with_run_options
@click.pass_context
def run(
    ctx: click.Context,
    runbook_id: str,
    target: str,
    param: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    approve: tuple[str, ...],
    secret_names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run a runbook on a target (exit 3 when it stops at an approval gate)."""
    from runbooks import loader

    loaded = loader.find(runbook_id, _dir(ctx))
    params = _params(param)
    secrets = _secrets(secret_names)
    case: CaseContext = ctx.obj
    with case.open(create=False) as store:
        engine = _engine(store, yes, approve, secrets, as_json)
        state = _render(engine.start(loaded, target, params, dry_run=dry_run), as_json)
    ctx.exit(EXIT_FOR_STATE.get(state, 1))


@runbook.command()
@click.argument("run_id")
@_with_run_options
@click.pass_context
def resume(
    ctx: click.Context,
    run_id: str,
    yes: bool,
    approve: tuple[str, ...],
    secret_names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Continue a stopped or killed run; completed steps are never repeated."""
    secrets = _secrets(secret_names)
    case: CaseContext = ctx.obj
    with case.open(create=False) as store:
        engine = _engine(store, yes, approve, secrets, as_json)
        state = _render(engine.resume(run_id), as_json)
    ctx.exit(EXIT_FOR_STATE.get(state, 1))


def _engine(
    store: Any, yes: bool, approve: tuple[str, ...], secrets: dict[str, str], as_json: bool
) -> Any:
    from runbooks.engine import Approvals, Engine

    approvals = Approvals(yes=yes, steps=frozenset(approve), confirm=_interactive(as_json))
    return Engine(store, approvals=approvals, secrets=secrets)


def _render(events: Any, as_json: bool) -> str:
    """Write each event as it comes; return the run's final state."""
    state = "failed"
    for event in events:
        data = event.to_json()
        if data["event"] == "run_finished":
            state = data["state"]
        if as_json:
            emit_json_line(data)
        else:
            _human(data)
    return state


def _human(e: dict[str, Any]) -> None:
    kind = e["event"]
    if kind == "run_started":
        verb = "resumed" if e["resumed"] else ("dry run" if e["dry_run"] else "started")
        line = f"run {e['run_id']} {verb}: {e['runbook']} on {e['target']['type']} {e['target']['label']}"
    elif kind == "step_planned":
        line = f"  plan  {e['step']}: {e['plan']}"
    elif kind == "step_started":
        line = f"  run   {e['step']} (try {e['attempt']})"
    elif kind == "step_succeeded":
        line = f"  done  {e['step']}"
    elif kind == "step_skipped":
        line = f"  skip  {e['step']}: {e['reason']}"
    elif kind == "step_failed":
        retry = f"; retrying in {e['retry_in']:g}s" if e["retry_in"] is not None else ""
        line = f"  FAIL  {e['step']}: {e['error']}{retry}"
    elif kind == "gate_reached":
        line = f"  GATE  {e['step']} ({e['gate']}): {e['prompt']}\n        to go on: {e['how']}"
    elif kind == "gate_passed":
        line = f"  ok    {e['step']} ({e['gate']}) by {e['by']}"
    elif kind == "rollback_step":
        line = f"  undo  {e['step']} with {e['action']}: " + (
            "ok" if e["ok"] else f"FAILED: {e['error']}"
        )
    elif kind == "run_finished":
        line = f"run {e['run_id']} {e['state']}: {e['outcome']}"
    else:
        line = json.dumps(e)
    click.echo(clean(line, single_line=False))


@runbook.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def status(case: CaseContext, run_id: str, as_json: bool) -> None:
    """A run's state and each step's state."""
    from runbooks.runs import run_status

    with case.open(create=False) as store:
        data = run_status(store, run_id)
    if as_json:
        emit_json(data)
        return
    click.echo(
        clean(
            f"run {data['id']}: {data['runbook']} on {data['target']}: {data['state']}"
            + (" (dry run)" if data["dry_run"] else "")
            + (f": {data['outcome']}" if data["outcome"] else "")
        )
    )
    emit_table(
        ["step", "state", "attempts", "error"],
        [[s["step"], s["state"], s["attempts"], s["error"] or ""] for s in data["steps"]],
    )


@runbook.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def log(case: CaseContext, run_id: str, as_json: bool) -> None:
    """The audit entries of a run, in order."""
    from runbooks.runs import run_log

    with case.open(create=False) as store:
        entries = run_log(store, run_id)
    if as_json:
        emit_json(entries)
        return
    emit_table(
        ["seq", "time", "actor", "action", "step", "details"],
        [
            [
                e["seq"],
                e["ts"],
                e["actor"],
                e["action"],
                e["details"].get("step", ""),
                json.dumps(
                    {k: v for k, v in e["details"].items() if k not in ("run", "step")},
                    sort_keys=True,
                ),
            ]
            for e in entries
        ],
        empty=f"no audit entries for run {run_id}",
    )


@runbook.group()
def vault() -> None:
    """The opt-in secret vault beside the case (Fernet, key in $IR_CONSOLE_VAULT_KEY)."""


@vault.command("key")
def vault_key() -> None:
    """Print a new vault key (keep it outside the case, e.g. in a password manager)."""
    from runbooks.secretvault import new_key

    click.echo(new_key())


def _open_vault(store: Any) -> Any:
    from runbooks.secretvault import ENV_KEY, SecretVault

    opened = SecretVault.from_env(store)
    if opened is None:
        raise click.UsageError(f"set ${ENV_KEY} (make a key with `ir-console runbook vault key`)")
    return opened


@vault.command("add")
@click.argument("credential_id")
@click.pass_obj
def vault_add(case: CaseContext, credential_id: str) -> None:
    """Keep CREDENTIAL_ID's raw secret (read from stdin; it must match the case's fingerprint)."""
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError("give the secret on stdin")
    with case.open(create=False) as store:
        _open_vault(store).put(credential_id, secret)
    message(f"kept the secret of {credential_id} in the vault (encrypted)")


@vault.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_obj
def vault_list(case: CaseContext, as_json: bool) -> None:
    """The credentials whose secret is kept (nothing is decrypted)."""
    with case.open(create=False) as store:
        ids = _open_vault(store).credentials()
    if as_json:
        emit_json(ids)
        return
    emit_table(["credential"], [[cid] for cid in ids], empty="the vault is empty")
