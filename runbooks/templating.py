"""Templating of step arguments and conditions with Jinja2's sandboxed environment.

Templates come only from the runbook file; values from the case (which came from traffic) are
passed in as data and are never rendered again as templates, never code, never a shell string.
A string that is exactly one ``{{ expression }}`` keeps the expression's type (list, bool, …).
The environment is ``runbooks.sandbox``'s: nothing is computed while compiling, and arithmetic,
ranges, output and time are bounded; any failure of a template is a ``TemplateFailure``.

Secret inputs taint what is rendered from them: ``render_tainted`` renders the same template again
with each secret replaced by a different value of the same length and shape, and every part of
the result that changes is derived from a secret (whatever filter, slice or concatenation made
it: ``upper``, ``reverse``, ``[:8]``, ``urlencode``, ``~``). The engine redacts those parts
wherever it stores or prints anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from difflib import SequenceMatcher
from typing import Any

from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from runbooks import sandbox
from runbooks.errors import RunbookError

# what rendering a template may raise (Jinja's errors, the sandbox's limits, and the errors of
# the operations it allows: arithmetic, conversions, lookups): each fails the step, never the run
_FAILURES = (
    TemplateError,
    ArithmeticError,
    MemoryError,
    RecursionError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
)
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)


class TemplateFailure(RunbookError):
    """A template could not be rendered (unknown name, sandbox violation, syntax)."""


class PlanUndefined(Undefined):
    """In a dry run, a value not known yet (an earlier step's output) renders as a marker."""

    def __str__(self) -> str:
        return f"<unknown: {self._undefined_name or '?'}>"

    def __eq__(self, other: object) -> Any:  # a comparison with an unknown is unknown
        return self

    def __ne__(self, other: object) -> Any:
        return self

    __lt__ = __le__ = __gt__ = __ge__ = __eq__

    def __hash__(self) -> int:
        return id(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return PlanUndefined(name=f"{self._undefined_name}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return PlanUndefined(name=f"{self._undefined_name}.{key}")


def provider_for(kind: object) -> str:
    """The provider that can revoke a credential of this kind ("" when none is known)."""
    text = str(kind or "").lower()
    for needle, provider in (
        ("aws", "aws"),
        ("github", "github"),
        ("slack", "slack"),
        ("vault", "vault"),
        ("jwt", "oauth"),
        ("bearer", "oauth"),
        ("oauth", "oauth"),
    ):
        if needle in text:
            return provider
    return ""


def _environment(undefined: type[Undefined]) -> SandboxedEnvironment:
    env = sandbox.BoundedSandbox(undefined=undefined, autoescape=False, keep_trailing_newline=True)
    env.globals["provider_for"] = provider_for
    return env


_STRICT = _environment(StrictUndefined)
_PLAN = _environment(PlanUndefined)


def render(value: Any, context: Mapping[str, Any], *, plan: bool = False) -> Any:
    """Render every string inside ``value`` (dicts and lists walked) against ``context``."""
    if isinstance(value, str):
        return _render_str(value, context, plan)
    if isinstance(value, dict):
        return {k: render(v, context, plan=plan) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context, plan=plan) for v in value]
    return value


def _render_str(text: str, context: Mapping[str, Any], plan: bool) -> Any:
    if "{" not in text:
        return text
    env = _PLAN if plan else _STRICT
    try:
        with sandbox.deadline():
            single = _SINGLE.match(text)
            if single and "{{" not in single["expr"] and "}}" not in single["expr"]:
                result = env.compile_expression(single["expr"], undefined_to_none=False)(**context)
                return str(result) if isinstance(result, Undefined) else _plain(result)
            return sandbox.joined(env.from_string(text).generate(**context))
    except _FAILURES as exc:
        raise TemplateFailure(f"template {text[:80]!r}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """One line for a template's failure."""
    if isinstance(exc, TemplateError):
        return " ".join(str(exc).split())
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def evaluate(expression: str, context: Mapping[str, Any], *, plan: bool = False) -> Any:
    """Evaluate a bare expression (``when``, ``verify``); ``{{ }}`` around it is allowed."""
    single = _SINGLE.match(expression)
    expr = single["expr"] if single else expression
    env = _PLAN if plan else _STRICT
    try:
        with sandbox.deadline():
            result = env.compile_expression(expr, undefined_to_none=False)(**context)
    except _FAILURES as exc:
        raise TemplateFailure(f"expression {expression[:80]!r}: {_reason(exc)}") from None
    if isinstance(result, Undefined):
        if plan:
            return result
        raise TemplateFailure(f"expression {expression[:80]!r}: undefined value")
    return result


def is_unknown(value: Any) -> bool:
    """Whether a dry-run value depends on something not known until the run."""
    if isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return "<unknown: " in value
    return False


def _plain(value: Any) -> Any:
    """Turn Jinja's lazy containers into plain JSON-shaped values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def check_syntax(text: str) -> str | None:
    """A one-line syntax error of a template or expression, or None."""
    try:
        single = _SINGLE.match(text)
        if single:
            _STRICT.compile_expression(single["expr"])
        elif "{" in text:
            _STRICT.from_string(text)
    except TemplateError as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None


# Shorter derived fragments are not redacted on their own (they would erase common text such
# as "ghp" everywhere, and reveal at most three characters of a secret).
MIN_DERIVED = 4


def render_tainted(
    value: Any,
    context: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    plan: bool = False,
) -> tuple[Any, set[str]]:
    """``render(value, context)``, and the parts of it derived from the secret inputs
    ``secrets`` (input name -> value) that are at least ``MIN_DERIVED`` characters long."""
    real = render(value, context, plan=plan)
    if not secrets or not _mentions_inputs(value):
        return real, set()
    found: set[str] = set()
    for shift in (1, 2):
        inputs = dict(context.get("inputs") or {})
        for name, secret in secrets.items():
            inputs[name] = _other(secret, shift)
        try:
            other = render(value, {**context, "inputs": inputs}, plan=plan)
        except TemplateFailure:  # the template depends on the secret's very content
            found.update(_strings(real))
            continue
        _differences(real, other, found)
    return real, {part for part in found if len(part) >= MIN_DERIVED}


def _mentions_inputs(value: Any) -> bool:
    if isinstance(value, str):
        return "inputs" in value
    if isinstance(value, dict):
        return any(_mentions_inputs(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_inputs(v) for v in value)
    return False


def _other(secret: str, shift: int) -> str:
    """A value as long as ``secret``, different at every character: letters and digits shifted
    (keeping case), anything else replaced by a letter."""
    out = []
    for char in secret:
        if "0" <= char <= "9":
            out.append(chr((ord(char) - 48 + shift) % 10 + 48))
        elif "a" <= char <= "z":
            out.append(chr((ord(char) - 97 + shift) % 26 + 97))
        elif "A" <= char <= "Z":
            out.append(chr((ord(char) - 65 + shift) % 26 + 65))
        else:
            out.append("xq"[shift % 2])
    return "".join(out)


def _differences(real: Any, other: Any, found: set[str]) -> None:
    """Add to ``found`` each string of ``real`` that differs from ``other``: the span from its
    first to its last changed character (by position when the lengths agree)."""
    if isinstance(real, str) and isinstance(other, str):
        if real == other:
            return
        if len(real) == len(other):  # character for character (upper, slices, reverse, ...)
            changed = [i for i, (a, b) in enumerate(zip(real, other, strict=True)) if a != b]
            found.add(real[changed[0] : changed[-1] + 1])
            return
        spans = [
            (j1, j2)
            for tag, _, _, j1, j2 in SequenceMatcher(
                None, other, real, autojunk=False
            ).get_opcodes()
            if tag != "equal" and j2 > j1
        ]
        found.add(real[spans[0][0] : spans[-1][1]] if spans else real)
        return
    if isinstance(real, dict) and isinstance(other, dict) and real.keys() == other.keys():
        for key in real:
            _differences(real[key], other[key], found)
        return
    if isinstance(real, list) and isinstance(other, list) and len(real) == len(other):
        for a, b in zip(real, other, strict=True):
            _differences(a, b, found)
        return
    if real != other:  # the shape itself depends on the secret
        found.update(_strings(real))
        if not isinstance(real, dict | list):
            found.add(str(real))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
