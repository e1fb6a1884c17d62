"""AST -> DuckDB SQL, type-checking as it goes. One ``match`` arm a node, one method a function.

Nothing the user wrote reaches the SQL text: values become ``$n`` parameters (interned, so the same
value in select and group_by is the same parameter and DuckDB sees the same expression), names are
checked against the schema and double-quoted. The only words the generator writes are its own.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from datawharf.extract.types import FIELD_TYPES as FIELD_TYPES  # one vocabulary: the extraction's
from datawharf.extract.types import FieldType as FieldType
from datawharf.odsql import geo
from datawharf.odsql import nodes as n
from datawharf.odsql.budget import Budget
from datawharf.odsql.dates import (
    facet_range,
    is_partial_date,
    java_to_strftime,
    now_with,
    parse_date_literal,
    to_instant,
)
from datawharf.odsql.errors import Code, fail
from datawharf.odsql.parser import DISTANCE_UNITS, TIME_UNITS

MAX_PARAMETERS = 5_000
_SQL_TYPES = {"text": "VARCHAR", "int": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
              "date": "DATE", "datetime": "TIMESTAMPTZ"}  # fmt: skip
_NUMERIC = {"int", "double"}
_TEMPORAL = {"date", "datetime"}
_ORDERABLE = {"text", "int", "double", "date", "datetime", "boolean"}
EARTH_RADIUS_M = geo.EARTH_RADIUS_M


def quote_ident(name: str) -> str:
    """DuckDB identifier quoting: the only way a name enters the SQL."""
    return '"' + name.replace('"', '""') + '"'


def _family(t: str) -> str:
    return "number" if t in _NUMERIC else "temporal" if t in _TEMPORAL else t


@dataclass(frozen=True, slots=True)
class Typed:
    sql: str
    type: str


@dataclass
class Params:
    values: list[Any] = field(default_factory=list)
    _index: dict[tuple[str, Any], int] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        key = (type(value).__name__, value)
        if key not in self._index:
            if len(self.values) >= MAX_PARAMETERS:
                fail(
                    Code.TOO_MANY_PARAMETERS,
                    f"ODSQL query uses more than {MAX_PARAMETERS} values; shorten the in (...) lists",
                )
            self.values.append(value)
            self._index[key] = len(self.values)
        return f"${self._index[key]}"


class Generator:
    """Generates expressions for one query; ``clause`` says where aggregates and range() may go."""

    def __init__(
        self,
        schema: Mapping[str, str],
        params: Params,
        zone: ZoneInfo,
        *,
        aliases: Mapping[str, Typed] | None = None,
        budget: Budget | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.schema = schema
        # charged as the SQL is written (odsql.budget); None for a second pass over clauses already paid
        self.budget = budget
        self.params = params
        self.zone = zone
        # the request's one "now": every now() of a request, and its count query, see the same instant
        self.now = now or dt.datetime.now(dt.UTC)
        self.aliases = aliases or {}
        self.clause = "where"
        self.in_aggregate = False
        # group_by expressions already generated: select and order_by reuse their SQL verbatim, so
        # DuckDB recognizes them as grouped (and range() is accepted there).
        self.grouped: dict[n.Node, Typed] = {}

    # -- values ---------------------------------------------------------------------------------------
    def value(self, value: Any, vtype: str) -> Typed:
        return Typed(f"CAST({self.params.add(value)} AS {_SQL_TYPES[vtype]})", vtype)

    def literal(self, node: n.Literal) -> Typed:
        v = node.value
        if v is None:
            return Typed("NULL", "null")
        if isinstance(v, str) and self.budget is not None:
            self.budget.text(len(v), self.clause)
        if isinstance(v, bool):
            return self.value(v, "boolean")
        if isinstance(v, int):
            if not -(2**63) < v < 2**63:
                fail(
                    Code.INVALID_NUMBER,
                    f"number at {node.pos} is out of the 64-bit range",
                    position=node.pos,
                    token=str(v)[:40],
                )
            return self.value(v, "int")
        if isinstance(v, float):
            if not math.isfinite(v):
                fail(Code.INVALID_NUMBER, f"number at {node.pos} is too large", position=node.pos)
            return self.value(v, "double")
        return self.value(v, "text")

    def temporal(self, raw: str, target: str, pos: int) -> Typed:
        """A date literal or string read as ``target`` (date or datetime)."""
        parsed = parse_date_literal(raw, position=pos)
        try:
            if target == "date":
                if isinstance(parsed, dt.datetime):
                    local = parsed if parsed.tzinfo is None else parsed.astimezone(self.zone)
                    parsed = local.date()
                return self.value(parsed, "date")
            return self.value(to_instant(parsed, self.zone).astimezone(dt.UTC), "datetime")
        except (OverflowError, ValueError):
            fail(Code.INVALID_DATE, f"date at {pos} is out of range", position=pos, token=raw[:40])

    def coerce(self, node: n.Node, target: str) -> Typed:
        """A literal converted to the type it is compared with (``code = 75001`` on a text field);
        any other expression generated as itself."""
        if isinstance(node, n.TypedLiteral) and node.kind == "date" and target in _TEMPORAL:
            return self.temporal(node.text, target, node.pos)
        if isinstance(node, n.Call) and node.name == "now" and target == "date":
            if self.budget is not None:
                self.budget.charge(1, "expression", self.clause)
            return self.value(self.now_of(node).date(), "date")
        if not isinstance(node, n.Literal) or node.value is None or isinstance(node.value, bool):
            return self.expr(node)
        v = node.value
        if target == "text" and not isinstance(v, str):
            return self.value(str(v), "text")
        if target in _NUMERIC and isinstance(v, str):
            try:
                number: int | float = int(v) if re.fullmatch(r"[+-]?\d{1,18}", v.strip()) else float(v)
            except ValueError:
                fail(
                    Code.TYPE_MISMATCH,
                    f'"{v[:40]}" at {node.pos} is not a number',
                    position=node.pos,
                    token=v[:40],
                )
            return self.literal(n.Literal(number, pos=node.pos))
        if target in _TEMPORAL and isinstance(v, str):
            return self.temporal(v, target, node.pos)
        if target in _TEMPORAL and isinstance(v, int):  # founded:[1950 TO 2000]: a number is a year
            return self.temporal(str(v), target, node.pos)
        return self.expr(node)

    # -- fields ---------------------------------------------------------------------------------------
    def field(self, node: n.Field) -> Typed:
        if node.name in self.aliases and self.clause == "order_by":
            return self.aliases[node.name]
        ftype = self.schema.get(node.name)
        if ftype is None:
            self.unknown_field(node)
        return Typed(quote_ident(node.name), ftype)

    def unknown_field(self, node: n.Field) -> NoReturn:
        available = list(self.schema)
        close = difflib.get_close_matches(node.name, available, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        fail(
            Code.UNKNOWN_FIELD,
            f'unknown field "{node.name[:60]}" at {node.pos}{hint}; available fields: {", ".join(available)}',
            position=node.pos,
            token=node.name[:60],
            available_fields=available,
        )

    # -- expressions ----------------------------------------------------------------------------------
    def expr(self, node: n.Node) -> Typed:
        if self.budget is not None:
            self.budget.charge(1, "expression", self.clause)
        if self.grouped and node in self.grouped:
            return self.grouped[node]
        match node:
            case n.Field():
                return self.field(node)
            case n.Literal():
                return self.literal(node)
            case n.TypedLiteral(kind="date", text=text):
                parsed = parse_date_literal(text, position=node.pos)
                return self.temporal(
                    text, "datetime" if isinstance(parsed, dt.datetime) else "date", node.pos
                )
            case n.TypedLiteral() | n.Distance():
                fail(
                    Code.INVALID_ARGUMENT,
                    f"{n.to_odsql(node)[:40]} at {node.pos} is only allowed as an argument of a geo function "
                    "(a geom, a distance) or of range() (an interval)",
                    position=node.pos,
                )
            case n.Star():
                fail(
                    Code.SYNTAX,
                    f'ODSQL syntax error at {node.pos}: unexpected "*" (only select * and count(*) take it)',
                    position=node.pos,
                    token="*",
                )
            case n.Neg(operand=operand):
                inner = self.numeric(operand, "-")
                if n.has_aggregate(operand):
                    return Typed(f"(-CAST({inner.sql} AS DOUBLE))", "double")
                return Typed(f"try(-{inner.sql})", inner.type)
            case n.Arith(op=op, left=left, right=right):
                return self.arith(node, op, self.numeric(left, op), self.numeric(right, op))
            case n.Compare(op=op, left=left, right=right):
                if op == n.MATCH_OP:
                    period = self.match_period(left, right)
                    if period is not None:
                        return period
                    op = "="
                a, b = self.comparable(left, right, op, node.pos)
                return Typed(f"({a.sql} {'<>' if op == '!=' else op} {b.sql})", "boolean")
            case n.And(items=items) | n.Or(items=items):
                joiner = " AND " if isinstance(node, n.And) else " OR "
                return Typed("(" + joiner.join(self.condition(i).sql for i in items) + ")", "boolean")
            case n.Not(operand=operand):
                return Typed(f"(NOT {self.condition(operand).sql})", "boolean")
            case n.IsNull(operand=operand, negated=negated):
                inner = self.expr(operand)
                return Typed(f"({inner.sql} IS {'NOT ' if negated else ''}NULL)", "boolean")
            case n.In(operand=operand, values=values, negated=negated):
                a = self.expr(operand)
                self.check_comparable_type(a, operand, "in")
                coerced = [self.coerce(v, a.type) for v in values]
                first = next((t for t in (a, *coerced) if t.type != "null"), a)
                for item, v in zip(coerced, values, strict=True):
                    self.check_comparable_type(item, v, "in")
                    self.check_same_family(first, item, v, "in")
                sql = f"({a.sql} {'NOT ' if negated else ''}IN ({', '.join(i.sql for i in coerced)}))"
                return Typed(sql, "boolean")
            case n.Range(operand=operand, low=low, high=high, low_inclusive=li, high_inclusive=hi):
                a = self.expr(operand)
                self.check_comparable_type(a, operand, "in [..]")
                bounds = []
                for bound, op in ((low, ">=" if li else ">"), (high, "<=" if hi else "<")):
                    b = self.coerce(bound, a.type)
                    self.check_comparable_type(b, bound, "in [..]")
                    self.check_same_family(a, b, bound, "in [..]")
                    bounds.append(f"{a.sql} {op} {b.sql}")
                return Typed(f"({bounds[0]} AND {bounds[1]})", "boolean")
            case n.FieldPattern():
                fail(
                    Code.SYNTAX,
                    f"ODSQL syntax error at {node.pos}: include() and exclude() are select items, alone "
                    "between commas",
                    position=node.pos,
                    token="exclude" if node.exclude else "include",
                )
            case n.Like(operand=operand, pattern=pattern, negated=negated):
                if isinstance(pattern, n.Literal) and isinstance(pattern.value, str):
                    # the reference's wildcard: "star*" is star followed by anything
                    pattern = n.Literal(pattern.value.replace("*", "%"), pos=pattern.pos)
                a, p = self.text(operand, "like"), self.text(pattern, "like")
                return Typed(f"({a.sql} {'NOT ' if negated else ''}ILIKE {p.sql})", "boolean")
            case n.Call():
                return self.call(node)
        raise TypeError(f"not an ODSQL node: {node!r}")  # pragma: no cover - a parser bug

    def match_period(self, left: n.Node, right: n.Node) -> Typed | None:
        """``field:value`` on a date or datetime field with a partial date: the period it names
        (``founded:2024`` is that year, ``founded:2024/05`` that month, as refine reads them); None when
        ``field:value`` is plain equality."""
        if not (
            isinstance(left, n.Field)
            and self.schema.get(left.name) in _TEMPORAL
            and isinstance(right, n.Literal)
            and isinstance(right.value, str | int)
            and not isinstance(right.value, bool)
            and is_partial_date(str(right.value))
        ):
            return None
        column = self.field(left)
        start, end = facet_range(str(right.value), position=right.pos)
        return Typed(self.period(column.sql, column.type, start, end), "boolean")

    def period(self, column_sql: str, ftype: str, start: dt.date, end: dt.date) -> str:
        """``[start, end)`` on a date or datetime column, a datetime's days read in the timezone."""
        if ftype == "date":
            lo, hi = self.value(start, "date").sql, self.value(end, "date").sql
        else:
            lo = self.value(to_instant(start, self.zone), "datetime").sql
            hi = self.value(to_instant(end, self.zone), "datetime").sql
        return f"({column_sql} >= {lo} AND {column_sql} < {hi})"

    def arith(self, node: n.Arith, op: str, a: Typed, b: Typed) -> Typed:
        """Overflow and division by zero give NULL, never a DuckDB error: integer arithmetic runs in
        ``try()``; DuckDB refuses aggregates inside ``try()``, so arithmetic over an aggregate runs in
        DOUBLE (which overflows to inf) with ``NULLIF`` guarding the divisor."""
        if n.has_aggregate(node):
            left, right = f"CAST({a.sql} AS DOUBLE)", f"CAST({b.sql} AS DOUBLE)"
            if op in ("/", "%"):
                right = f"NULLIF({right}, 0)"
            return Typed(f"({left} {op} {right})", "double")
        rtype = "int" if a.type == b.type == "int" and op != "/" else "double"
        return Typed(f"try({a.sql} {op} {b.sql})", rtype)

    def condition(self, node: n.Node) -> Typed:
        """A boolean position: bare text (``"paris"``, ``paris``, ``75001``) is a full-text search."""
        if (
            isinstance(node, n.Literal)
            and isinstance(node.value, str | int | float)
            and not isinstance(node.value, bool)
        ):
            return self.search_all(str(node.value), node.pos)
        if isinstance(node, n.Field) and not node.quoted and node.name not in self.schema:
            return self.search_all(node.name, node.pos)
        result = self.expr(node)
        if result.type not in ("boolean", "null"):
            fail(
                Code.TYPE_MISMATCH,
                f"{n.to_odsql(node)[:40]} at {node.pos} is a {result.type}, not a condition; compare it "
                "(e.g. = 'value') or use search()",
                position=node.pos,
            )
        return result

    # -- type checks ----------------------------------------------------------------------------------
    def numeric(self, node: n.Node, op: str) -> Typed:
        result = self.expr(node)
        if result.type not in _NUMERIC:
            fail(
                Code.TYPE_MISMATCH,
                f"{op} needs numbers; {n.to_odsql(node)[:40]} at {node.pos} is {result.type}",
                position=node.pos,
            )
        return result

    def text(self, node: n.Node, what: str) -> Typed:
        result = self.coerce(node, "text")
        if result.type not in ("text", "null"):
            fail(
                Code.TYPE_MISMATCH,
                f"{what} needs text; {n.to_odsql(node)[:40]} at {node.pos} is {result.type}",
                position=node.pos,
            )
        return result

    def comparable(self, left: n.Node, right: n.Node, op: str, pos: int) -> tuple[Typed, Typed]:
        literal_like = (n.Literal, n.TypedLiteral)
        if isinstance(left, literal_like) and not isinstance(right, literal_like):
            b = self.expr(right)
            a = self.coerce(left, b.type)
        else:
            a = self.expr(left)
            b = self.coerce(right, a.type)
        for t, node in ((a, left), (b, right)):
            if t.type == "null":
                fail(
                    Code.TYPE_MISMATCH,
                    f"{op} null at {pos} is never true; write `is null` or `is not null`",
                    position=pos,
                )
            self.check_comparable_type(t, node, op)
        self.check_same_family(a, b, right, op)
        return a, b

    def check_comparable_type(self, t: Typed, node: n.Node, op: str) -> None:
        if t.type not in _ORDERABLE and t.type != "null":
            fail(
                Code.TYPE_MISMATCH,
                f"{op} cannot compare {t.type} ({n.to_odsql(node)[:40]} at {node.pos}); use "
                "within_distance() or in_bbox() for geo fields",
                position=node.pos,
            )

    def check_same_family(self, a: Typed, b: Typed, node: n.Node, op: str) -> None:
        if "null" not in (a.type, b.type) and _family(a.type) != _family(b.type):
            fail(
                Code.TYPE_MISMATCH,
                f"{op} compares {a.type} with {b.type} ({n.to_odsql(node)[:40]} at {node.pos})",
                position=node.pos,
            )

    # -- functions ------------------------------------------------------------------------------------
    def call(self, node: n.Call) -> Typed:
        method = FUNCTIONS.get(node.name)
        if method is None and node.name in UNSUPPORTED_FUNCTIONS:
            fail(
                Code.UNSUPPORTED_FUNCTION,
                f"{node.name}() at {node.pos} is an ODSQL function datawharf does not support; "
                f"{UNSUPPORTED_FUNCTIONS[node.name]}",
                position=node.pos,
                token=node.name,
                function=node.name,
            )
        if method is None:
            fail(
                Code.UNKNOWN_FUNCTION,
                f'unknown function "{node.name[:40]}" at {node.pos}; available: '
                + ", ".join(sorted(FUNCTIONS)),
                position=node.pos,
                token=node.name[:40],
            )
        if node.distinct and node.name != "count":
            self.bad_args(node, "distinct is only allowed in count(distinct field)")
        if node.name in n.AGGREGATES:
            if self.clause in ("where", "group_by") or self.in_aggregate:
                where = "inside another aggregate" if self.in_aggregate else f"in {self.clause}"
                fail(
                    Code.MISPLACED_AGGREGATE,
                    f"{node.name}() at {node.pos} is an aggregate and cannot be used {where}",
                    position=node.pos,
                    token=node.name,
                )
            self.in_aggregate = True
            try:
                return method(self, node)
            finally:
                self.in_aggregate = False
        return method(self, node)

    def bad_args(self, node: n.Call, expected: str) -> NoReturn:
        fail(
            Code.INVALID_ARGUMENT,
            f"{node.name}() at {node.pos}: {expected}",
            position=node.pos,
            token=node.name,
        )

    def arity(self, node: n.Call, count: int, signature: str) -> None:
        if len(node.args) != count:
            self.bad_args(node, f"expected {signature}")

    def fn_count(self, node: n.Call) -> Typed:
        self.arity(node, 1, "count(*), count(field) or count(distinct field)")
        arg = node.args[0]
        if isinstance(arg, n.Star):
            if node.distinct:
                self.bad_args(node, "count(distinct *) is not supported; name a field")
            return Typed("count(*)", "int")
        inner = self.expr(arg)
        return Typed(f"count({'DISTINCT ' if node.distinct else ''}{inner.sql})", "int")

    def fn_sum(self, node: n.Call) -> Typed:
        self.arity(node, 1, "sum(number)")
        inner = self.numeric(node.args[0], "sum()")
        # sum of BIGINT is HUGEINT in DuckDB: it cannot overflow on any table we could hold
        return Typed(f"sum({inner.sql})", inner.type)

    def fn_avg(self, node: n.Call) -> Typed:
        self.arity(node, 1, "avg(number)")
        return Typed(f"avg({self.numeric(node.args[0], 'avg()').sql})", "double")

    def fn_min_max(self, node: n.Call) -> Typed:
        self.arity(node, 1, f"{node.name}(field)")
        inner = self.expr(node.args[0])
        self.check_comparable_type(inner, node.args[0], f"{node.name}()")
        return Typed(f"{node.name}({inner.sql})", inner.type)

    def temporal_arg(self, node: n.Call, signature: str) -> Typed:
        arg = self.expr(node.args[0])
        if arg.type == "datetime":  # stored as UTC instants; read the wall clock in the query's timezone
            return Typed(f"timezone({self.params.add(self.zone.key)}, {arg.sql})", "datetime")
        if arg.type != "date":
            self.bad_args(node, f"expected {signature} of a date or datetime, got {arg.type}")
        return arg

    def fn_date_part(self, node: n.Call) -> Typed:
        self.arity(node, 1, f"{node.name}(date)")
        return Typed(f"{node.name}({self.temporal_arg(node, node.name + '()').sql})", "int")

    def fn_date_format(self, node: n.Call) -> Typed:
        self.arity(node, 2, "date_format(date, 'pattern')")
        pattern = node.args[1]
        if not (isinstance(pattern, n.Literal) and isinstance(pattern.value, str)):
            self.bad_args(node, "the pattern must be a quoted string such as 'yyyy-MM'")
        fmt = java_to_strftime(pattern.value, position=pattern.pos)
        arg = self.temporal_arg(node, "date_format()")
        return Typed(f"strftime({arg.sql}, {self.params.add(fmt)})", "text")

    def fn_case(self, node: n.Call) -> Typed:
        self.arity(node, 1, f"{node.name}(text)")
        return Typed(f"{node.name}({self.text(node.args[0], node.name + '()').sql})", "text")

    def search_text(self, text: str, pos: int) -> list[str]:
        """The words of a search; a trailing ``*`` (the reference's ``"film*"``, a prefix) changes
        nothing, words already match as substrings."""
        words = text.split()
        if not words:
            fail(Code.INVALID_ARGUMENT, f"empty search text at {pos}", position=pos)
        return [w.rstrip("*") for w in words if w.rstrip("*")]

    def charge_search(self, words: list[str], fields: int) -> None:
        if self.budget is not None:
            self.budget.text(sum(len(w) for w in words), self.clause)
            self.budget.search(len(words), fields, self.clause)

    def matches(self, column_sql: str, word: str) -> str:
        p = self.params.add(word)
        return f"contains(strip_accents(lower({column_sql})), strip_accents(lower({p})))"

    def search_columns(self, columns: list[str], text: str, pos: int) -> Typed:
        """Every word in one of ``columns``, case- and accent-insensitively: the one full-text search,
        behind bare text, ``search('x')``, ``search(*, 'x')`` and ``search(f1, f2, 'x')``."""
        if not columns:
            return Typed("FALSE", "boolean")
        words = self.search_text(text, pos)
        if not words:  # only stars: "*" matches every record
            return Typed("TRUE", "boolean")
        self.charge_search(words, len(columns))
        per_word = ["(" + " OR ".join(self.matches(c, w) for c in columns) + ")" for w in words]
        return Typed("(" + " AND ".join(per_word) + ")", "boolean")

    def search_all(self, text: str, pos: int) -> Typed:
        """Every word in some text field."""
        columns = [quote_ident(name) for name, t in self.schema.items() if t == "text"]
        return self.search_columns(columns, text, pos)

    def fn_search(self, node: n.Call) -> Typed:
        *targets, query = node.args or (None,)
        if not (isinstance(query, n.Literal) and isinstance(query.value, str)):
            self.bad_args(node, "expected search('text'), search(*, 'text') or search(field, ..., 'text')")
        if not targets or (len(targets) == 1 and isinstance(targets[0], n.Star)):
            return self.search_all(query.value, query.pos)
        columns = [self.text(t, "search()").sql for t in targets]
        return self.search_columns(columns, query.value, query.pos)

    def fn_suggest(self, node: n.Call) -> Typed:
        """The reference's ``suggest([field, ...,] 'text')``: records with a term beginning with the text
        (Opendatasoft's JavaScript client sends it as ``textSuggest()``). Search words match as
        substrings here, which every such term contains: it is the same full-text search."""
        return self.fn_search(node)

    def fn_startswith(self, node: n.Call) -> Typed:
        self.arity(node, 2, "startswith(field, 'prefix')")
        column, prefix = self.text(node.args[0], "startswith()"), self.text(node.args[1], "startswith()")
        return Typed(f"starts_with(lower({column.sql}), lower({prefix.sql}))", "boolean")

    def geo_field(
        self,
        node: n.Call,
        arg: n.Node | None = None,
        allowed: tuple[str, ...] = ("geo_point_2d", "geo_shape"),
    ) -> Typed:
        t = self.expr(node.args[0] if arg is None else arg)
        if t.type not in allowed:
            self.bad_args(node, f"the first argument must be a {' or '.join(allowed)} field, got {t.type}")
        return t

    def geo_point(self, node: n.Call) -> tuple[str, str]:
        return lat_lon(self.geo_field(node, allowed=("geo_point_2d",)).sql)

    def geometry_literal(self, node: n.Call, arg: n.Node) -> str:
        """A ``geom'…'`` argument as a WKT parameter, validated; its text charged like quoted text."""
        if not (isinstance(arg, n.TypedLiteral) and arg.kind == "geom"):
            self.bad_args(node, "the geometry must be a literal such as geom'POLYGON((lon lat, …))'")
        if self.budget is not None:
            self.budget.text(len(arg.text), self.clause)
        return self.params.add(geo.to_wkt(geo.parse_geometry(arg.text, arg.pos)))

    def relation(
        self,
        node: n.Call,
        field: n.Node,
        geometry: n.Node,
        relation: str,
        allowed: tuple[str, ...] = ("geo_point_2d", "geo_shape"),
    ) -> Typed:
        """``field`` intersects / lies within / is disjoint from the query's geometry (``odsql.geo``)."""
        t = self.geo_field(node, field, allowed)
        wkt, rel = self.geometry_literal(node, geometry), self.params.add(relation)
        if t.type == "geo_point_2d":
            lat, lon = lat_lon(t.sql)
            return Typed(f"{geo.POINTS_FUNCTION}({rel}, {lon}, {lat}, {wkt})", "boolean")
        return Typed(f"{geo.SHAPES_FUNCTION}({rel}, {t.sql}, {wkt})", "boolean")

    def fn_relation(self, node: n.Call) -> Typed:
        self.arity(node, 2, f"{node.name}(geo_field, geom'POLYGON((lon lat, …))')")
        return self.relation(node, node.args[0], node.args[1], node.name)

    def fn_polygon(self, node: n.Call) -> Typed:
        """The v2.0 ``polygon(geo_point_field, geom)``: the points within the polygon."""
        self.arity(node, 2, "polygon(geo_point_field, geom'POLYGON((lon lat, …))')")
        return self.relation(node, node.args[0], node.args[1], "within", allowed=("geo_point_2d",))

    def fn_geometry(self, node: n.Call) -> Typed:
        """The v2.0 ``geometry(field, geom, INTERSECTS | DISJOINT | WITHIN)``."""
        self.arity(node, 3, "geometry(geo_field, geom'…', INTERSECTS), DISJOINT or WITHIN")
        mode = node.args[2]
        if not (isinstance(mode, n.Field) and mode.name.lower() in geo.RELATIONS):
            self.bad_args(node, "the mode must be INTERSECTS, DISJOINT or WITHIN")
        return self.relation(node, node.args[0], node.args[1], mode.name.lower())

    def fn_within_distance(self, node: n.Call) -> Typed:
        self.arity(node, 3, "within_distance(geo_field, geom'POINT(lon lat)', 10km)")
        t = self.geo_field(node)
        center, radius = node.args[1], node.args[2]
        if not (isinstance(center, n.TypedLiteral) and center.kind == "geom"):
            self.bad_args(node, "the second argument must be a point such as geom'POINT(2.35 48.85)'")
        lon0, lat0 = parse_point(center.text, center.pos)
        if isinstance(radius, n.Distance) and radius.unit.lower() in DISTANCE_UNITS:
            meters = radius.amount * DISTANCE_UNITS[radius.unit.lower()]
        elif (
            isinstance(radius, n.Literal)
            and isinstance(radius.value, int | float)
            and not isinstance(radius.value, bool)
        ):
            meters = float(radius.value)
        else:
            self.bad_args(node, "the third argument must be a distance such as 500m or 10km")
        if not math.isfinite(meters) or meters < 0:
            self.bad_args(node, "the distance must be a finite, non-negative number")
        la0, lo0 = self.params.add(lat0), self.params.add(lon0)
        r = self.params.add(meters)
        if t.type == "geo_shape":
            return Typed(f"({geo.SHAPE_DISTANCE_FUNCTION}({t.sql}, {lo0}, {la0}) <= {r})", "boolean")
        lat, lon = lat_lon(t.sql)
        # Haversine in plain SQL (no spatial extension); least() keeps asin's argument in its domain.
        sql = (
            f"(2 * {EARTH_RADIUS_M} * asin(least(1.0, sqrt("
            f"pow(sin(radians({lat} - {la0}) / 2), 2) + cos(radians({la0})) * cos(radians({lat})) * "
            f"pow(sin(radians({lon} - {lo0}) / 2), 2)))) <= {r})"
        )
        return Typed(sql, "boolean")

    def fn_in_bbox(self, node: n.Call) -> Typed:
        self.arity(node, 5, "in_bbox(geo_field, lat1, lon1, lat2, lon2)")
        t = self.geo_field(node)
        lat1, lon1, lat2, lon2 = (self.constant_number(node, a) for a in node.args[1:])
        if t.type == "geo_shape":  # a shape in the box: one that intersects it
            box = geo.to_wkt(geo.box(min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2)))
            return Typed(
                f"{geo.SHAPES_FUNCTION}({self.params.add('intersects')}, {t.sql}, {self.params.add(box)})",
                "boolean",
            )
        lat, lon = lat_lon(t.sql)
        lo_lat, hi_lat = self.params.add(min(lat1, lat2)), self.params.add(max(lat1, lat2))
        lo_lon, hi_lon = self.params.add(min(lon1, lon2)), self.params.add(max(lon1, lon2))
        return Typed(
            f"({lat} BETWEEN {lo_lat} AND {hi_lat} AND {lon} BETWEEN {lo_lon} AND {hi_lon})", "boolean"
        )

    def fn_envelope(self, node: n.Call) -> Typed:
        """The convex hull of a group's points, as a GeoJSON geometry (a Point or LineString when the
        points are one or aligned)."""
        self.arity(node, 1, "envelope(geo_point_field)")
        lat, lon = self.geo_point(node)
        return Typed(f"{geo.HULL_FUNCTION}(list({lon}), list({lat}))", "geo_shape")

    def fn_median(self, node: n.Call) -> Typed:
        self.arity(node, 1, "median(number)")
        inner = self.numeric(node.args[0], "median()")
        return Typed(f"quantile_cont(CAST({inner.sql} AS DOUBLE), 0.5)", "double")

    def fn_percentile(self, node: n.Call) -> Typed:
        self.arity(node, 2, "percentile(number, 0..100)")
        inner = self.numeric(node.args[0], "percentile()")
        p = self.constant_number(node, node.args[1])
        if not 0 <= p <= 100:
            self.bad_args(node, "the percentile must be between 0 and 100")
        return Typed(f"quantile_cont(CAST({inner.sql} AS DOUBLE), {self.params.add(p / 100)})", "double")

    def fn_length(self, node: n.Call) -> Typed:
        self.arity(node, 1, "length(text)")
        return Typed(f"length({self.text(node.args[0], 'length()').sql})", "int")

    def now_of(self, node: n.Call) -> dt.datetime:
        """The request's now, in its timezone, set or shifted by the named arguments."""
        changes: dict[str, int] = {}
        if self.budget is not None:
            self.budget.charge(len(node.args), "expression", self.clause)
        for arg in node.args:
            if not (isinstance(arg, n.Compare) and arg.op == "=" and isinstance(arg.left, n.Field)):
                self.bad_args(node, "arguments are named: now(days=-7), now(year=2024, month=1)")
            value = self.constant_number(node, arg.right)
            if not value.is_integer():
                self.bad_args(node, f"{arg.left.name} must be an integer")
            changes[arg.left.name.lower()] = int(value)
        moment = now_with(self.now.astimezone(self.zone), changes)
        if isinstance(moment, str):
            self.bad_args(node, moment)
        return moment

    def fn_now(self, node: n.Call) -> Typed:
        return self.value(self.now_of(node).astimezone(dt.UTC), "datetime")

    def constant_number(self, node: n.Call, arg: n.Node) -> float:
        sign = 1.0
        while isinstance(arg, n.Neg):
            sign, arg = -sign, arg.operand
        if (
            isinstance(arg, n.Literal)
            and isinstance(arg.value, int | float)
            and not isinstance(arg.value, bool)
        ):
            value = sign * float(arg.value)
            if math.isfinite(value):
                return value
        self.bad_args(node, f"argument at {arg.pos} must be a number")
        raise AssertionError  # unreachable

    def fn_range(self, node: n.Call) -> Typed:
        if self.clause != "group_by":
            fail(
                Code.INVALID_ARGUMENT,
                f"range() at {node.pos} is only allowed in group_by",
                position=node.pos,
                token="range",
            )
        self.arity(node, 2, "range(number_field, step) or range(date_field, 1 day)")
        if isinstance(node.args[1], n.Distance):
            return self.date_histogram(node, node.args[1])
        value = self.numeric(node.args[0], "range()")
        step = self.constant_number(node, node.args[1])
        if step <= 0:
            self.bad_args(node, "the step must be greater than 0")
        is_int = value.type == "int" and step.is_integer() and abs(step) < 2**62
        p = self.params.add(int(step) if is_int else step)
        if is_int:
            return Typed(f"try(CAST(floor({value.sql} / {p}) AS BIGINT) * {p})", "int")
        return Typed(f"try(floor({value.sql} / {p}) * {p})", "double")

    def date_histogram(self, node: n.Call, interval: n.Distance) -> Typed:
        """``range(date, 1 day)``: each value's bucket start, buckets of equal width read in the request's
        timezone; week, month, quarter and year buckets are calendar ones, one unit wide (the reference
        supports no more)."""
        width = TIME_UNITS.get(interval.unit)
        amount = interval.amount
        if width is None or not (amount.is_integer() and 1 <= amount <= 1_000_000):
            self.bad_args(
                node, "the interval must be a whole number of ms, s, m, h, d, w, M, q or y: 1 day, 6h"
            )
        if width in _CALENDAR_UNITS and amount != 1:
            self.bad_args(node, f"{width} buckets are one {width[:-1]} wide: write 1 {width[:-1]}")
        value = self.temporal_arg(node, "range()")  # a datetime comes back as the wall clock in timezone
        if width in _CALENDAR_UNITS:
            bucket = f"date_trunc('{width[:-1]}', {value.sql})"
        else:
            bucket = f"time_bucket(to_{width}(CAST({self.params.add(int(amount))} AS BIGINT)), {value.sql})"
        if value.type == "datetime":  # the local bucket start, back to an instant
            return Typed(
                f"timezone({self.params.add(self.zone.key)}, CAST({bucket} AS TIMESTAMP))", "datetime"
            )
        if width in ("milliseconds", "seconds", "minutes", "hours"):
            self.bad_args(node, "a date field takes buckets of days or more: 1 day, 1 week, 1 month")
        return Typed(f"CAST({bucket} AS DATE)", "date")


_CALENDAR_UNITS = ("weeks", "months", "quarters", "years")
_WKT_POINT = re.compile(r"^\s*POINT\s*\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\)\s*$", re.IGNORECASE)


def lat_lon(point_sql: str) -> tuple[str, str]:
    """The SQL of a geo_point_2d's latitude and longitude."""
    return f"struct_extract({point_sql}, 'lat')", f"struct_extract({point_sql}, 'lon')"


def parse_point(text: str, pos: int) -> tuple[float, float]:
    """``POINT(lon lat)`` (WKT) or a GeoJSON Point, as (lon, lat)."""
    lon = lat = None
    try:
        m = _WKT_POINT.match(text)
        if m:
            lon, lat = float(m.group(1)), float(m.group(2))
        elif text.lstrip().startswith("{") and len(text) < 1000:
            geo = json.loads(text)
            if isinstance(geo, dict) and geo.get("type") == "Point":
                coords = geo.get("coordinates")
                if isinstance(coords, list) and len(coords) == 2:
                    lon, lat = float(coords[0]), float(coords[1])
    except (ValueError, TypeError):
        lon = lat = None
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        fail(
            Code.INVALID_GEOMETRY,
            f"geom at {pos} must be a point such as geom'POINT(2.35 48.85)' (longitude latitude)",
            position=pos,
            token=text[:40],
        )
    return lon, lat


FUNCTIONS: dict[str, Callable[[Generator, n.Call], Typed]] = {
    "count": Generator.fn_count,
    "sum": Generator.fn_sum,
    "avg": Generator.fn_avg,
    "min": Generator.fn_min_max,
    "max": Generator.fn_min_max,
    "year": Generator.fn_date_part,
    "month": Generator.fn_date_part,
    "day": Generator.fn_date_part,
    "hour": Generator.fn_date_part,
    "minute": Generator.fn_date_part,
    "second": Generator.fn_date_part,
    "quarter": Generator.fn_date_part,
    "now": Generator.fn_now,
    "length": Generator.fn_length,
    "median": Generator.fn_median,
    "percentile": Generator.fn_percentile,
    "envelope": Generator.fn_envelope,
    "intersects": Generator.fn_relation,
    "within": Generator.fn_relation,
    "disjoint": Generator.fn_relation,
    "geometry": Generator.fn_geometry,
    "polygon": Generator.fn_polygon,
    "distance": Generator.fn_within_distance,
    "date_format": Generator.fn_date_format,
    "lower": Generator.fn_case,
    "upper": Generator.fn_case,
    "search": Generator.fn_search,
    "suggest": Generator.fn_suggest,
    "startswith": Generator.fn_startswith,
    "within_distance": Generator.fn_within_distance,
    "in_bbox": Generator.fn_in_bbox,
    "range": Generator.fn_range,
}

# Functions the reference names that datawharf does not compute, with what to use instead: a specific
# error, not "unknown function", so a client learns it is a known gap.
UNSUPPORTED_FUNCTIONS: dict[str, str] = {
    "geo_cluster": "use range() of a numeric field in group_by, or select the points and cluster them in "
    "the client",
    "convex_hull": "use the envelope(geo_point_field) aggregate, which returns the convex hull",
    "dayofweek": "use date_format(field, 'EEEE') for the weekday's name",
    "millisecond": "use date_format(field, 'SSS')",
}
