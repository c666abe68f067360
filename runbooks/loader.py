"""Load runbooks: YAML (``safe_load`` only) validated into models, with errors that name the file,
the step, the field and the YAML line.

Built-in runbooks ship in ``runbooks/builtin``; user runbooks come from a folder (``--runbooks``
or ``IR_CONSOLE_RUNBOOKS``) and may replace a built-in one of the same id.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from discovery import boundedyaml
from runbooks import templating
from runbooks.errors import RunbookFormatError, RunbookNotFound
from runbooks.model import Runbook

log = logging.getLogger(__name__)

ENV_DIR = "IR_CONSOLE_RUNBOOKS"
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class LoadedRunbook:
    """A validated runbook with where it came from and the hash of its text."""

    runbook: Runbook
    source: str  # "built-in" | "user"
    path: str
    text: str
    sha256: str


def parse(text: str, name: str) -> Runbook:
    """Validate a runbook's YAML text; ``name`` (a path) is used in error messages."""
    try:
        data, root = boundedyaml.load_with_node(text)  # an alias bomb is refused, not expanded
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc).split())
        raise RunbookFormatError(f"{name}{line}: not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        raise RunbookFormatError(
            f"{name}: not valid YAML: character {exc.character!r} at offset {exc.position} "
            "is not allowed"
        ) from None
    except yaml.YAMLError as exc:
        raise RunbookFormatError(f"{name}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise RunbookFormatError(f"{name}:1: a runbook is a mapping (id, title, steps, …)")
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        raise RunbookFormatError(_describe(exc, data, root, name)) from None
    _check_templates(runbook, data, root, name)
    _check_arguments(runbook, data, root, name)
    return runbook


def _check_arguments(
    runbook: Runbook, data: dict[str, Any], root: yaml.Node | None, name: str
) -> None:
    """Unknown or missing ``with:`` arguments are caught at load time, with their line."""
    from runbooks import actions

    for index, step in enumerate(runbook.steps):
        calls: list[tuple[list[Any], str, dict[str, Any]]] = []
        if step.action is not None:
            calls.append((["steps", index, "with"], step.action, step.with_))
        if step.rollback is not None:
            calls.append(
                (["steps", index, "rollback", "with"], step.rollback.action, step.rollback.with_)
            )
        for loc, action_name, given in calls:
            fields = actions.get(action_name).args.model_fields
            known = {field for field in fields} | {i.alias for i in fields.values() if i.alias}
            for key in given:
                if key not in known:
                    raise RunbookFormatError(
                        _message(
                            name,
                            root,
                            data,
                            [*loc, key],
                            f"{action_name} has no argument {key!r} (its arguments: "
                            f"{', '.join(sorted(known))})",
                        )
                    )
            missing = sorted(
                (info.alias or field)
                for field, info in fields.items()
                if info.is_required() and field not in given and (info.alias or field) not in given
            )
            if missing:
                raise RunbookFormatError(
                    _message(
                        name,
                        root,
                        data,
                        loc[:-1],
                        f"{action_name} needs the argument(s) {', '.join(missing)} under 'with'",
                    )
                )


def _describe(exc: ValidationError, data: dict[str, Any], root: yaml.Node | None, name: str) -> str:
    first = exc.errors()[0]
    loc = [p for p in first["loc"] if not (isinstance(p, str) and "[" in p)]
    return _message(name, root, data, list(loc), str(first["msg"]).removeprefix("Value error, "))


def _message(
    name: str, root: yaml.Node | None, data: dict[str, Any], loc: list[Any], msg: str
) -> str:
    line = _line_of(root, loc)
    where = f"{name}:{line}" if line else name
    step = ""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") or []
        raw = steps[loc[1]] if loc[1] < len(steps) else None
        sid = raw.get("id") if isinstance(raw, dict) else None
        step = f" step {sid!r} (#{loc[1] + 1})" if sid else f" step #{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc)
    field_part = f" field {field!r}:" if field else (":" if step else "")
    return f"{where}:{step}{field_part} {msg}"


def _line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the deepest YAML node along ``loc`` (walks mappings and sequences)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value in (part, f"{part}".rstrip("_")):
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _check_templates(
    runbook: Runbook, data: dict[str, Any], root: yaml.Node | None, name: str
) -> None:
    """Catch template syntax errors at load time, not in the middle of a containment."""
    for index, step in enumerate(runbook.steps):
        checks: list[tuple[list[Any], str]] = []
        for field_name in ("when", "verify"):
            expr = getattr(step, field_name)
            if expr is not None:
                checks.append(([field_name], "{{" + _strip(expr) + "}}"))
        for key, value in _strings(step.with_, ["with"]):
            checks.append((key, value))
        if step.rollback is not None:
            for key, value in _strings(step.rollback.with_, ["rollback", "with"]):
                checks.append((key, value))
        for key, text in checks:
            problem = templating.check_syntax(text)
            if problem:
                raise RunbookFormatError(
                    _message(name, root, data, ["steps", index, *key], f"bad template: {problem}")
                )


def _strip(expr: str) -> str:
    text = expr.strip()
    if text.startswith("{{") and text.endswith("}}"):
        return text[2:-2]
    return text


def _strings(value: Any, path: list[Any]) -> list[tuple[list[Any], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _strings(v, [*path, k])]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings(v, [*path, i])]
    return []


def load_file(path: Path, source: str = "user") -> LoadedRunbook:
    """Read and validate one runbook file."""
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise RunbookFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise RunbookFormatError(f"{path}: larger than {MAX_BYTES} bytes: not a runbook")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunbookFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return from_text(text, str(path), source)


def from_text(text: str, path: str, source: str) -> LoadedRunbook:
    """A LoadedRunbook from its text (used for files and for the copy kept with a run)."""
    try:
        runbook = parse(text, path)
    except RecursionError:
        raise RunbookFormatError(f"{path}: nested too deeply to be a runbook") from None
    return LoadedRunbook(runbook, source, path, text, hashlib.sha256(text.encode()).hexdigest())


def builtin() -> list[LoadedRunbook]:
    """The runbooks shipped with the package."""
    folder = resources.files("runbooks") / "builtin"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.append(from_text(entry.read_text("utf-8"), f"built-in/{entry.name}", "built-in"))
    return out


def user_dir(explicit: Path | None = None) -> Path | None:
    """The user runbook folder: ``--runbooks DIR`` or ``IR_CONSOLE_RUNBOOKS``, or None."""
    if explicit is not None:
        return explicit
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else None


def load_all(
    folder: Path | None = None, problems: list[str] | None = None
) -> dict[str, LoadedRunbook]:
    """Built-in runbooks, then the user's (which replace a built-in of the same id).

    Each user file is loaded on its own: one that cannot be used (bad YAML, an alias bomb, a
    bad template, an id another file has) is left out, logged and added to ``problems``, and
    every other runbook stays usable.
    """
    found = {loaded.runbook.id: loaded for loaded in builtin()}
    folder = user_dir(folder)
    if folder is None:
        return found
    if not folder.is_dir():
        raise RunbookFormatError(f"{folder}: runbook folder does not exist")
    user: dict[str, LoadedRunbook] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            loaded = load_file(path)
            rid = loaded.runbook.id
            if rid in user:
                raise RunbookFormatError(
                    f"{path}: runbook id {rid!r} is also used by {user[rid].path}"
                )
        except RunbookFormatError as exc:
            log.warning("runbook left out: %s", exc)
            if problems is not None:
                problems.append(str(exc))
            continue
        if rid in found:
            log.warning("%s replaces the built-in runbook %s", path, rid)
        user[rid] = loaded
    found.update(user)
    return found


def find(runbook_id: str, folder: Path | None = None) -> LoadedRunbook:
    """One runbook by id (RunbookNotFound naming the known ids)."""
    problems: list[str] = []
    known = load_all(folder, problems)
    if runbook_id not in known:
        broken = f"; {len(problems)} file(s) could not be loaded: {problems[0]}" if problems else ""
        raise RunbookNotFound(
            f"no runbook {runbook_id!r} (known: {', '.join(sorted(known)) or 'none'}){broken}"
        )
    return known[runbook_id]
