"""Bombs: small files that stand for enormous work. A 1.4 KB YAML alias bomb in a spec (with and
without validation) or an identity register, a runbook whose template Jinja would fold into
gigabytes while compiling, templates that multiply, exponentiate, pad, format, range, loop and
print without bound, and a runbook file of that kind among the user's runbooks. Each runs in a
process capped at 1 GiB of address space: the bomb is refused with one line naming the file (or
fails its step, the run ending ``failed``), the other runbooks stay usable."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import FIXTURES

pytestmark = pytest.mark.integration  # runs the CLI in memory-capped processes

LIMIT = 1 << 30


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def limited(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """A command in a process that cannot use more than ``LIMIT`` bytes of address space."""
    return subprocess.run(
        [sys.executable, *map(str, argv)],
        preexec_fn=_cap,
        capture_output=True,
        text=True,
        timeout=300,
    )


def cli(case: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return limited("-m", "ir_console", "--db", case, *args)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [
        ln for ln in proc.stderr.splitlines() if not ln.startswith("WARNING discovery.compiled")
    ]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """A billion laughs: each level a list of ``width`` aliases of the level below."""
    lines = ["lol0: &lol0 " + json.dumps(["lol"] * width)]
    for i in range(1, levels):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def spec_bomb() -> str:
    bomb = alias_bomb().replace("lol", "x-lol")
    return (
        "openapi: 3.0.3\ninfo: {title: bomb, version: '1'}\n"
        f"servers: [{{url: 'https://api.example.com'}}]\n{bomb}paths: {{}}\n"
    )


@pytest.mark.parametrize("validate", [True, False], ids=["validated", "no-validate"])
def test_a_spec_alias_bomb_is_refused(tmp_path: Path, validate: bool) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(spec_bomb())
    assert len(spec.read_bytes()) < 1500
    extra = [] if validate else ["--no-validate"]
    proc = cli(tmp_path / "case.db", "spec", "import", spec, *extra)
    one_line_error(proc, str(spec), "alias")


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "loop.yaml"
    spec.write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-loop: &l [*l]\npaths: {}\n")
    one_line_error(cli(tmp_path / "case.db", "spec", "import", spec), str(spec), "contains it")


def test_a_register_alias_bomb_is_refused(tmp_path: Path) -> None:
    register = tmp_path / "register.yaml"
    register.write_text(alias_bomb() + "identities: [{id: svc, matchers: [*lol8]}]\n")
    proc = cli(tmp_path / "case.db", "inventory", "import", register)
    one_line_error(proc, str(register), "alias")


def test_the_corpus_and_fixture_specs_are_within_the_bounds(tmp_path: Path) -> None:
    """The bound leaves real YAML alone (anchors included)."""
    from discovery import boundedyaml

    anchored = "base: &b {type: object, properties: {id: {type: string}}}\nuse: [*b, *b, *b]\n"
    assert boundedyaml.safe_load(anchored)["use"][2]["properties"]["id"] == {"type": "string"}
    for path in sorted((FIXTURES / "specs").glob("*.yaml")):
        assert boundedyaml.safe_load(path.read_text()) is not None, path


# ---------------------------------------------------------------------------- runbooks

RUNBOOK = """\
id: {rid}
title: Bomb
applies_to: host
steps:
  - id: bomb
    action: command
    with:
      argv: ["true", "{template}"]
"""

TEMPLATES = {
    "folded multiplication": "{{{{ 'a' * 10**10 }}}}",
    "folded padding": "{{{{ 'a' | center(5000000000) }}}}",
    "power": "{{{{ 2 ** 1000000000 }}}}",  # (Jinja: ** is left-associative)
    "percent width": "{{{{ '%999999999d' % 1 }}}}",
    "brace width": "{{{{ '{{:>999999999}}'.format(1) }}}}",
    "string method": "{{{{ 'a'.ljust(999999999) }}}}",
    "range": "{{{{ range(10**8) | list | length }}}}",
    "output": "{{% for i in range(10000) %}}{{{{ 'x' * 1000 }}}}{{% endfor %}}",
    "time": "{{% for i in range(10000) %}}{{% for j in range(10000) %}}{{% endfor %}}{{% endfor %}}",
}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bombs") / "case.db"
    proc = cli(path, "ingest", FIXTURES / "pcap" / "http_api.pcap")
    assert proc.returncode == 0, proc.stderr
    return path


def write_runbook(folder: Path, rid: str, template: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{rid}.yaml"
    path.write_text(RUNBOOK.format(rid=rid, template=template.replace('"', '\\"')))
    return path


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_template_bomb_fails_its_step_and_ends_the_run(
    case: Path, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "runbooks"
    path = write_runbook(folder, "bomb", TEMPLATES[name].format())
    validated = limited("-m", "ir_console", "runbook", "validate", path)
    assert validated.returncode == 0, validated.stderr[-2000:]  # compiling computes nothing
    proc = cli(
        case,
        "runbook",
        "--runbooks",
        folder,
        "run",
        "bomb",
        "--target",
        "127.0.0.1:40521",
        "--json",
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    failed = [e for e in events if e.get("event") == "step_failed"]
    assert failed and "template" in failed[0]["error"], events
    assert len(failed[0]["error"]) < 500
    status = cli(case, "runbook", "status", events[-1]["run_id"], "--json")
    assert json.loads(status.stdout)["state"] == "failed"  # never left "running"


def test_one_bad_runbook_file_leaves_the_others_usable(case: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runbooks"
    write_runbook(folder, "good", "{{ target.id }}")
    (folder / "bomb.yaml").write_text(alias_bomb() + "id: bomb\ntitle: b\n")
    (folder / "broken.yaml").write_text("id: [unclosed\n")
    listed = cli(case, "runbook", "--runbooks", folder, "list", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "good" in {r["id"] for r in json.loads(listed.stdout)}
    assert "bomb.yaml" in listed.stderr and "alias" in listed.stderr
    assert "broken.yaml" in listed.stderr
    dry = cli(
        case,
        "runbook",
        "--runbooks",
        folder,
        "run",
        "good",
        "--target",
        "127.0.0.1:40521",
        "--dry-run",
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    missing = cli(case, "runbook", "--runbooks", folder, "show", "bomb")
    assert missing.returncode == 2 and "could not be loaded" in missing.stderr
    one_line_error(
        limited("-m", "ir_console", "runbook", "validate", folder / "bomb.yaml"), "alias"
    )
