"""``re.fullmatch`` for the service model's patterns, in polynomial time.

Python's ``re`` backtracks, and botocore's own ``JobName`` pattern,
``[a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*``, lets each '-' be taken by ``-*`` or by the class:
a name that fails late (``a-b-c-...-x_``) costs 2^dashes steps, 5 s at 24 dashes and hours
at the 31 that 63 characters allow. A fake that hangs on a bad name tells a test nothing,
so the match here runs over ``re``'s own parse of the pattern (``sre_parse``, the parser
``re.compile`` uses: the same grammar) as a set of positions: every place each piece can
end, computed once per (piece, start), never a path at a time.

It covers what botocore's patterns use (literals, classes with ranges and ``\\d\\s\\S``,
``.``, groups, alternation, repeats, ``^`` and ``$``); a pattern with anything else
(look-arounds, back-references, flags) is handed to ``re.fullmatch`` itself.
"""

import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

with warnings.catch_warnings():  # deprecated as a public name since 3.11; re uses it still
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as sre
    import sre_parse


class UnsupportedPatternError(Exception):
    """A construct this matcher does not evaluate: ``re.fullmatch`` does."""


@dataclass(frozen=True, eq=False)  # identity hashing: nodes key the memo
class _Char:
    """One character: one of ``codes``, in one of ``ranges`` or of ``categories``; or,
    ``negated``, none of them."""

    codes: frozenset[int] = frozenset()
    ranges: tuple[tuple[int, int], ...] = ()
    categories: tuple[re.Pattern[str], ...] = ()
    negated: bool = False

    def accepts(self, char: str) -> bool:
        code = ord(char)
        found = (
            code in self.codes
            or any(low <= code <= high for low, high in self.ranges)
            or any(category.fullmatch(char) for category in self.categories)
        )
        return found != self.negated


@dataclass(frozen=True, eq=False)
class _At:
    where: str  # "start" or "end"


@dataclass(frozen=True, eq=False)
class _Seq:
    items: tuple["_Node", ...]


@dataclass(frozen=True, eq=False)
class _Alt:
    options: tuple[_Seq, ...]


@dataclass(frozen=True, eq=False)
class _Repeat:
    body: _Seq
    low: int
    high: int | None  # None: unbounded


_Node = _Char | _At | _Seq | _Alt | _Repeat

_CATEGORIES = {
    sre.CATEGORY_DIGIT: re.compile(r"\d"),
    sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre.CATEGORY_SPACE: re.compile(r"\s"),
    sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    sre.CATEGORY_WORD: re.compile(r"\w"),
    sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
}


def fullmatch(pattern: str, value: str) -> bool:
    """Whether ``re.fullmatch(pattern, value)`` matches. ``re.error`` for a pattern
    Python cannot compile (botocore has a few with ``\\p{L}``, a Java/ECMA class)."""
    re.compile(pattern)  # the same errors as re for a pattern re refuses
    try:
        tree = _compiled(pattern)
    except UnsupportedPatternError:
        return re.fullmatch(pattern, value) is not None
    return len(value) in _Run(value).ends(tree, 0)


@cache
def _compiled(pattern: str) -> _Seq:
    return _sequence(sre_parse.parse(pattern).data)


def _sequence(data: list[Any]) -> _Seq:
    return _Seq(tuple(_node(op, av) for op, av in data))


def _node(op: Any, av: Any) -> _Node:
    if op == sre.LITERAL:
        return _Char(codes=frozenset({av}))
    if op == sre.NOT_LITERAL:
        return _Char(codes=frozenset({av}), negated=True)
    if op == sre.ANY:  # no DOTALL: '.' refuses a newline, as in re
        return _Char(codes=frozenset({ord("\n")}), negated=True)
    if op == sre.IN:
        return _class(av)
    if op == sre.SUBPATTERN:
        _group, add_flags, del_flags, body = av
        if add_flags or del_flags:
            raise UnsupportedPatternError("inline flags")
        return _sequence(body.data)
    if op == sre.BRANCH:
        return _Alt(tuple(_sequence(option.data) for option in av[1]))
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):  # greedy or lazy: the same set of ends
        low, high, body = av
        return _Repeat(_sequence(body.data), low, None if high == sre.MAXREPEAT else high)
    if op == sre.AT and av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
        return _At("start")
    if op == sre.AT and av == sre.AT_END:
        return _At("end")
    raise UnsupportedPatternError(str(op))


def _class(items: list[Any]) -> _Char:
    """A ``[...]`` class: its literals, ranges and categories, perhaps negated."""
    negated = bool(items) and items[0][0] == sre.NEGATE
    codes: set[int] = set()
    ranges: list[tuple[int, int]] = []
    categories: list[re.Pattern[str]] = []
    for op, av in items[1:] if negated else items:
        if op == sre.LITERAL:
            codes.add(av)
        elif op == sre.RANGE:
            ranges.append(av)
        elif op == sre.CATEGORY and av in _CATEGORIES:
            categories.append(_CATEGORIES[av])
        else:
            raise UnsupportedPatternError(f"class item {op}")
    return _Char(frozenset(codes), tuple(ranges), tuple(categories), negated)


class _Run:
    """One value against one pattern: where each node, started at a position, can end."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._memo: dict[tuple[_Node, int], frozenset[int]] = {}

    def ends(self, node: _Node, start: int) -> frozenset[int]:
        key = (node, start)
        known = self._memo.get(key)
        if known is None:
            known = self._memo[key] = frozenset(self._ends(node, start))
        return known

    def _ends(self, node: _Node, start: int) -> set[int]:
        text = self.text
        if isinstance(node, _Char):
            return {start + 1} if start < len(text) and node.accepts(text[start]) else set()
        if isinstance(node, _At):
            if node.where == "start":
                return {start} if start == 0 else set()
            # '$' without MULTILINE: the end, or just before a final newline, as in re
            at_end = start == len(text) or (start == len(text) - 1 and text[start] == "\n")
            return {start} if at_end else set()
        if isinstance(node, _Seq):
            positions = {start}
            for item in node.items:
                positions = self._from_each(item, positions)
                if not positions:
                    break
            return positions
        if isinstance(node, _Alt):
            return set().union(*(self.ends(option, start) for option in node.options))
        return self._repeat(node, start)

    def _from_each(self, node: _Node, starts: set[int]) -> set[int]:
        return set().union(*(self.ends(node, position) for position in starts))

    def _repeat(self, node: _Repeat, start: int) -> set[int]:
        reached = {start} if node.low == 0 else set()
        frontier, count = {start}, 0
        while frontier and (node.high is None or count < node.high):
            frontier = self._from_each(node.body, frontier)
            count += 1
            if count >= node.low:
                if node.high is None:
                    # past the minimum an unbounded repeat goes on from a position the
                    # same way however it got there: each position is expanded once
                    frontier -= reached
                reached |= frontier
        return reached
