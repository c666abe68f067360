"""Whether a text holds a match of an alternation of many regexes, in one pass over the text:
the literal characters each alternative begins with (its heads) are found together by an
Aho-Corasick automaton over ASCII, and each place a head begins is confirmed by the regex
itself, anchored there.

Python's ``re`` tries the branches of an alternation at every position of a text: for the
hundred-odd documented key prefixes that costs 150-300 ns a character, milliseconds for a
large body and tens of microseconds for a small one, and almost every text holds none. The
automaton reads each character once (one table look-up). A regex can match at a place only
where one of its alternatives' heads begins, so ``HeadScan.search`` answers exactly what
``regex.search`` answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import FunctionType
from typing import Final

_WIDTH: Final = 128  # ASCII: heads are ASCII; any other character leaves every head unmatched
_MAX_HEADS: Final = 64  # spelled alternatives per fragment, at most (a longer head is only faster)
_ATOM = re.compile(r"(\\.|\[[^\]\\]*\]|\(\?:[^()]*\)|.)(\{\d+(?:,\d*)?\}|[?*+])?", re.DOTALL)
_SPECIAL = frozenset(".^$*+?{}[]()|\\")
_SMALL_CLASS: Final = 8  # a class of up to this many listed characters is spelled out


def _choices(atom: str) -> list[str] | None:
    """The literal strings ``atom`` (one regex atom, unquantified) matches, or None when it is
    not a short list of literals (a range, a character type, a nested group...)."""
    if atom in _SPECIAL:
        return None
    if atom.startswith("\\"):
        return None if atom[1].isalnum() else [atom[1]]
    if atom.startswith("["):
        inner = atom[1:-1]
        if not inner or inner[0] == "^" or "-" in inner or len(inner) > _SMALL_CLASS:
            return None
        return list(dict.fromkeys(inner))
    if atom.startswith("(?:"):
        words = atom[3:-1].split("|")
        if any(not word or _SPECIAL.intersection(word) for word in words):
            return None
        return words
    return [atom]


def _spelled(atoms: list[tuple[str, str]]) -> list[str]:
    """The literal beginnings of one alternative (atoms and their quantifiers)."""
    heads = [""]
    for atom, quantifier in atoms:
        choices = _choices(atom)
        if choices is None or quantifier not in ("", "?"):
            break
        if quantifier == "?":
            choices = [*choices, ""]
        longer = [head + choice for head in heads for choice in choices]
        if len(longer) > _MAX_HEADS:
            break
        heads = longer
    return heads


def literal_heads(fragment: str) -> list[str]:
    """The literal beginnings of everything ``fragment`` (a regex without flags) matches: its
    leading literals, with short classes, alternative groups and optional atoms spelled out
    (``gh[ps]_`` -> ``ghp_``, ``ghs_``), for each of its top-level alternatives. Every match
    of ``fragment`` begins with one of them; an empty string in the list means it may begin
    with anything. (A bar inside a nested group counts as a top-level one: more heads, the
    same guarantee.)"""
    alternatives: list[list[tuple[str, str]]] = [[]]
    position = 0
    while position < len(fragment):
        found = _ATOM.match(fragment, position)
        if found is None:  # cannot happen: the last branch takes any one character
            return [""]
        if found.group(1) == "|":
            alternatives.append([])
        else:
            alternatives[-1].append((found.group(1), found.group(2) or ""))
        position = found.end()
    heads = [head for atoms in alternatives for head in _spelled(atoms)]
    return list(dict.fromkeys(heads))


# Whether this module runs compiled: mypyc makes its functions built-in ones (the group is
# compiled whole or not at all; discovery.compiled.in_use would import the wire layer to ask).
_COMPILED: Final = not isinstance(literal_heads, FunctionType)


class HeadScan:
    """``regex.search(text) is not None``, answered in one pass over ``text``. ``fragments``
    are the alternatives ``regex`` is the alternation of (in any grouping).

    The pass pays off compiled; run as Python its loop is slower than ``re``'s, so by default
    (``one_pass`` None) it runs only where the compiled build is in use, and the regex
    searches otherwise."""

    def __init__(
        self, regex: re.Pattern[str], fragments: Sequence[str], one_pass: bool | None = None
    ) -> None:
        self.regex = regex
        heads = sorted({head for fragment in fragments for head in literal_heads(fragment)})
        # a head that may begin anywhere, or with a character past ASCII: the regex searches
        self.whole = any(not head or not head.isascii() for head in heads)
        if one_pass is None:
            one_pass = _COMPILED
        self.one_pass = one_pass and not self.whole
        goto: list[dict[int, int]] = [{}]
        ends: list[list[int]] = [[]]
        for head in heads if self.one_pass else []:
            state = 0
            for char in head:
                code = ord(char)
                if code not in goto[state]:
                    goto.append({})
                    ends.append([])
                    goto[state][code] = len(goto) - 1
                state = goto[state][code]
            ends[state].append(len(head))
        # breadth first: each state's failure link, and the table of every state's moves
        delta = [0] * (len(goto) * _WIDTH)
        fail = [0] * len(goto)
        queue = []
        for code, child in goto[0].items():
            delta[code] = child
            queue.append(child)
        for state in queue:  # grows while it is read: breadth-first order
            for code in range(_WIDTH):
                step = goto[state].get(code)
                if step is None:
                    delta[state * _WIDTH + code] = delta[fail[state] * _WIDTH + code]
                    continue
                fail[step] = delta[fail[state] * _WIDTH + code]
                ends[step] = ends[step] + ends[fail[step]]
                delta[state * _WIDTH + code] = step
                queue.append(step)
        self.delta = delta
        self.ends = [sorted(set(lengths), reverse=True) for lengths in ends]
        self.hit = [bool(lengths) for lengths in ends]

    def search(self, text: str) -> bool:
        """Whether ``self.regex`` matches somewhere in ``text``."""
        if not self.one_pass:
            return self.regex.search(text) is not None
        delta = self.delta
        hit = self.hit
        state = 0
        # one byte per character ('?' for any past ASCII, which begins no head)
        data = text.encode("ascii", "replace")
        for index in range(len(data)):
            state = delta[state * _WIDTH + data[index]]
            if hit[state]:
                for length in self.ends[state]:
                    if self.regex.match(text, index + 1 - length) is not None:
                        return True
        return False
