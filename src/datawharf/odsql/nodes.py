"""The ODSQL syntax tree: frozen dataclasses, compared by value, positions left out of equality.

Positions (0-based offsets in the clause text) ride along so the generator can point at the token a
semantic error is about (`unknown field "popu" at 7`). ``to_odsql`` renders a tree back to text; the
property tests check that parsing that text gives the same tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

ARITH_OPS = ("+", "-", "*", "/", "%")
COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
MATCH_OP = ":"  # field:value: equality, or the period a partial date names (founded:2024)


@dataclass(frozen=True, slots=True)
class Node:
    pos: int = field(default=0, compare=False, kw_only=True)

    def children(self) -> Iterator[Node]:
        return iter(())


@dataclass(frozen=True, slots=True)
class Field(Node):
    name: str
    quoted: bool = field(default=False, compare=False)  # `backticked`: never read as full-text search


@dataclass(frozen=True, slots=True)
class Star(Node):
    """``*``: in select, every field; in ``count(*)``, every row."""


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class TypedLiteral(Node):
    """``date'2024-01-01'`` or ``geom'POINT(2.35 48.85)'``: checked by the generator, not the parser."""

    kind: str  # "date" | "geom"
    text: str


@dataclass(frozen=True, slots=True)
class Distance(Node):
    """``10km`` (within_distance's third argument) or ``1 day`` (range()'s interval): ``unit`` lowercased, but
    a time unit as written (``M`` month, ``m`` minute)."""

    amount: float
    unit: str


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # one of ARITH_OPS
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # one of COMPARE_OPS, or MATCH_OP (field:value)
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True, slots=True)
class And(Node):
    """n-ary, so ``a or b or ... z`` stays one level deep whatever its length."""

    items: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        yield from self.items


@dataclass(frozen=True, slots=True)
class Or(Node):
    items: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        yield from self.items


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True, slots=True)
class In(Node):
    operand: Node
    values: tuple[Node, ...]
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand
        yield from self.values


@dataclass(frozen=True, slots=True)
class Range(Node):
    """``field in [low..high]`` (``field:[low TO high]``): a reversed bracket excludes its bound, as in
    ``]1..10[``."""

    operand: Node
    low: Node
    high: Node
    low_inclusive: bool = True
    high_inclusive: bool = True

    def children(self) -> Iterator[Node]:
        yield self.operand
        yield self.low
        yield self.high


@dataclass(frozen=True, slots=True)
class FieldPattern(Node):
    """``include(pop*)`` / ``exclude(pop*)`` in select: field names, ``*`` matching any run."""

    patterns: tuple[str, ...]
    exclude: bool = False


@dataclass(frozen=True, slots=True)
class Like(Node):
    operand: Node
    pattern: Node
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand
        yield self.pattern


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str  # lowercased
    args: tuple[Node, ...]
    distinct: bool = False

    def children(self) -> Iterator[Node]:
        yield from self.args


@dataclass(frozen=True, slots=True)
class SelectItem:
    expr: Node
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class OrderItem:
    expr: Node
    descending: bool = False


def depth(node: Node) -> int:
    """Tree depth without recursion: ``1+1+...+1`` parsed iteratively is left-deep, and must be measured
    before anything recursive (the generator) walks it."""
    best, stack = 0, [(node, 1)]
    while stack:
        current, d = stack.pop()
        best = max(best, d)
        stack.extend((child, d + 1) for child in current.children())
    return best


AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "median", "percentile", "envelope"})


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children())


def has_aggregate(node: Node) -> bool:
    return any(isinstance(x, Call) and x.name in AGGREGATES for x in walk(node))


_PREC = {Or: 1, And: 2, Not: 3, Compare: 4, In: 4, Range: 4, Like: 4, IsNull: 4, Neg: 7}
_ARITH_PREC = {"+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def _prec(node: Node) -> int:
    if isinstance(node, Arith):
        return _ARITH_PREC[node.op]
    return _PREC.get(type(node), 9)


def quote_name(name: str) -> str:
    if name.isidentifier() and name.isascii() and name.lower() not in _RESERVED:
        return name
    return f"`{name}`"


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_RESERVED = {
    "and", "or", "not", "in", "like", "is", "null", "true", "false", "as", "asc", "desc", "distinct",
}  # fmt: skip


def to_odsql(node: Node) -> str:
    """ODSQL text that parses back to ``node``; parenthesizes only where precedence needs it."""

    def sub(child: Node, min_prec: int) -> str:
        text = to_odsql(child)
        return f"({text})" if _prec(child) < min_prec else text

    match node:
        case Field(name=name):
            return quote_name(name)
        case Star():
            return "*"
        case Literal(value=None):
            return "null"
        case Literal(value=bool() as b):
            return "true" if b else "false"
        case Literal(value=str() as s):
            return quote_string(s)
        case Literal(value=v):
            return repr(v)
        case TypedLiteral(kind=kind, text=text):
            return kind + quote_string(text)
        case Distance(amount=amount, unit=unit):
            return f"{amount!r}{unit}"
        case Neg(operand=operand):
            return "-" + sub(operand, 8)
        case Arith(op=op, left=left, right=right):
            p = _ARITH_PREC[op]
            return f"{sub(left, p)} {op} {sub(right, p + 1)}"
        case Compare(op=":", left=left, right=Literal(value=str() as s)):  # a bare word: quote it
            return f"{sub(left, 5)}:{quote_string(s)}"
        case Compare(op=op, left=left, right=right):
            return f"{sub(left, 5)} {op} {sub(right, 5)}"
        case And(items=items):
            return " and ".join(sub(i, 3) for i in items)
        case Or(items=items):
            return " or ".join(sub(i, 2) for i in items)
        case Not(operand=operand):
            return "not " + sub(operand, 3)
        case In(operand=operand, values=values, negated=negated):
            return f"{sub(operand, 5)} {'not in' if negated else 'in'} ({', '.join(map(to_odsql, values))})"
        case Range(operand=operand, low=low, high=high, low_inclusive=li, high_inclusive=hi):
            opening, closing = "[" if li else "]", "]" if hi else "["
            return f"{sub(operand, 5)} in {opening}{sub(low, 5)}..{sub(high, 5)}{closing}"
        case FieldPattern(patterns=patterns, exclude=exclude):
            return f"{'exclude' if exclude else 'include'}({', '.join(patterns)})"
        case Like(operand=operand, pattern=pattern, negated=negated):
            return f"{sub(operand, 5)} {'not like' if negated else 'like'} {sub(pattern, 5)}"
        case IsNull(operand=operand, negated=negated):
            return f"{sub(operand, 5)} is {'not null' if negated else 'null'}"
        case Call(name=name, args=args, distinct=distinct):
            return f"{name}({'distinct ' if distinct else ''}{', '.join(map(to_odsql, args))})"
    raise TypeError(f"not an ODSQL node: {node!r}")  # pragma: no cover - a bug, not user input
