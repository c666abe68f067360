"""Jinja2's sandbox with the work a template can cause bounded: no constant folding, bounded
arithmetic, ranges and padding, bounded output and a render deadline.

Jinja folds constant expressions while compiling (``{{ 'a' * 10**10 }}`` is computed by
``runbook validate``, before anything runs): here the optimizer is off and output is never folded,
so nothing of a template runs at compile time. At run time, ``*``, ``**`` and ``%`` are checked
before they compute (a result longer than ``MAX_LENGTH`` items or wider than ``MAX_BITS`` bits is
refused), ``range`` gives at most ``MAX_RANGE`` items, padding and format widths are bounded, a
render stops after ``MAX_OUTPUT`` characters and after ``DEADLINE`` seconds of work in the
template's own code (a trace on the template's frames only: loops over data count too). Every
refusal is a ``TemplateLimit``.
"""

from __future__ import annotations

import re
import string
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Final

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_LENGTH: Final = 1_000_000  # characters or items a single operation may produce
MAX_BITS: Final = 1 << 16  # an integer of 65,536 bits (~19,700 digits)
MAX_RANGE: Final = 10_000
MAX_OUTPUT: Final = 1 << 20  # characters one template may render
DEADLINE: Final = 2.0  # seconds of template code per render
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_TEXT = (str, bytes, list, tuple)


class TemplateLimit(SecurityError):
    """A template refused for the work it would cause."""


class _NoFolding(CodeGenerator):
    """Jinja's code generator, never computing an output expression while compiling."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if isinstance(node, nodes.TemplateData):
            return super()._output_child_to_const(node, frame, finalize)
        raise nodes.Impossible()


def _size(value: object) -> int | None:
    return len(value) if isinstance(value, _TEXT) else None


def _bits(value: object) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` when its result would be too large to compute."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if _bits(left) > 1 and _bits(left) * right > MAX_BITS:
            raise TemplateLimit(f"{operator}: the result would exceed {MAX_BITS} bits")
    elif operator == "*":
        for seq, count in ((left, right), (right, left)):
            size = _size(seq)
            if size is not None and isinstance(count, int) and size * count > MAX_LENGTH:
                raise TemplateLimit(f"*: the result would exceed {MAX_LENGTH} items")
        if _bits(left) + _bits(right) > MAX_BITS:
            raise TemplateLimit(f"*: the result would exceed {MAX_BITS} bits")
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left)


def check_percent_format(text: str) -> None:
    """Refuse a ``%`` format whose width or precision is unbounded or too large."""
    for match in _PERCENT.finditer(text):
        for part in match.groups():
            if part == "*" or (part is not None and int(part) > MAX_LENGTH):
                raise TemplateLimit(f"format width {part} is larger than {MAX_LENGTH}")


def check_brace_format(text: str) -> bool:
    """Refuse a ``str.format`` pattern with a width or precision that is too large; True when
    a width comes from an argument (``{0:>{1}}``: the arguments are checked at the call)."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return False  # the call itself reports it
    nested = False
    for _literal, _name, spec, _conversion in fields:
        nested = nested or "{" in (spec or "")
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > MAX_LENGTH:
                raise TemplateLimit(f"format width {number} is larger than {MAX_LENGTH}")
    return nested


def bounded_range(*args: int) -> range:
    """``range`` of at most ``MAX_RANGE`` items."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimit(f"range of {len(rng)} items is larger than {MAX_RANGE}")
    return rng


def _padding(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose integer arguments (widths) are bounded."""

    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and value > MAX_LENGTH:
                raise TemplateLimit(f"{name}: {value} is larger than {MAX_LENGTH}")
        if name == "format" and args and isinstance(args[0], str):
            check_percent_format(args[0])
        return filter_(*args, **kwargs)

    return bounded


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with the bounds of this module."""

    code_generator_class = _NoFolding
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.globals["range"] = bounded_range
        for name in ("center", "indent", "format", "truncate", "wordwrap"):
            if name in self.filters:
                self.filters[name] = _padding(name, self.filters[name])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # Jinja's own signature (a template may pass "self")
        __context: Any,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):  # padding methods: center, ljust, zfill, ...
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and value > MAX_LENGTH:
                    raise TemplateLimit(f"{value} is larger than {MAX_LENGTH}")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map`` (wrapped by the sandbox when they are looked up),
        refused when their pattern asks for a width or precision that is too large."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        nested = check_brace_format(value.__self__)
        if not nested:
            return wrapped
        inner = wrapped

        def bounded(*args: Any, **kwargs: Any) -> str:  # widths given as arguments
            values = [*args, *kwargs.values()]
            if len(args) == 1 and isinstance(args[0], dict):
                values += list(args[0].values())  # format_map
            for arg in values:
                if isinstance(arg, int) and arg > MAX_LENGTH:
                    raise TemplateLimit(f"format width {arg} is larger than {MAX_LENGTH}")
            return inner(*args, **kwargs)

        return bounded


def joined(chunks: Iterator[str]) -> str:
    """A render's output, stopped at ``MAX_OUTPUT`` characters."""
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT:
            raise TemplateLimit(f"the template renders more than {MAX_OUTPUT} characters")
        out.append(chunk)
    return "".join(out)


@contextmanager
def deadline(seconds: float = DEADLINE) -> Iterator[None]:
    """Stop a render that runs the template's code for more than ``seconds`` (only frames of
    compiled templates are traced; the previous trace function is restored)."""
    end = time.monotonic() + seconds

    def line(frame: FrameType, event: str, arg: object) -> Any:
        if time.monotonic() > end:
            raise TemplateLimit(f"the template ran for more than {seconds:g} s")
        return line

    def calls(frame: FrameType, event: str, arg: object) -> Any:
        return line if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        yield
    finally:
        sys.settrace(previous)
