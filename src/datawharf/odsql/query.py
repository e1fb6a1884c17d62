"""The one call the Explore API makes: a request's ODSQL clauses in, DuckDB SQL and parameters out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, TypeVar

from datawharf.errors import ODSQLError
from datawharf.odsql import nodes as n
from datawharf.odsql.budget import Budget
from datawharf.odsql.dates import facet_range
from datawharf.odsql.errors import Code, fail
from datawharf.odsql.generator import FIELD_TYPES, Generator, Params, Typed, quote_ident
from datawharf.odsql.parser import parse_expression, parse_group_by, parse_order_by, parse_select
from datawharf.odsql.tokens import MAX_CLAUSE_LENGTH

Mode = Literal["records", "exports"]
RECORDS_DEFAULT_LIMIT = 10
RECORDS_MAX_LIMIT = 100
RECORDS_MAX_WINDOW = 10_000  # offset + limit on records; exports have no window
GROUPED_MAX_WINDOW = 20_000  # limit, and offset + limit, on records with a group_by (the reference's)
MAX_REFINES = 100
GLOB_FIELDS_PER_UNIT = 10  # a glob other than a name or a prefix costs 1 per 10 fields it is tried on


@dataclass(frozen=True)
class QueryRequest:
    """The Explore API query parameters, as received (strings are ODSQL text).

    ``where`` may be repeated (each one is and-ed); ``refine``/``exclude`` are ``field:value`` facet
    filters. ``limit=None`` means the mode's default: 10 on records, everything on exports (``-1`` also
    means everything on exports).
    """

    select: str | None = None
    where: str | Sequence[str] | None = None
    group_by: str | None = None
    order_by: str | None = None
    limit: int | None = None
    offset: int = 0
    refine: Sequence[str] = ()
    exclude: Sequence[str] = ()
    timezone: str = "UTC"


@dataclass(frozen=True)
class OutputColumn:
    """One result column: ``name`` is the SQL result column's name, ``type`` how to serialize it
    (a field type, or ``boolean`` for a selected condition)."""

    name: str
    type: str


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: list[Any]
    columns: list[OutputColumn]
    count_sql: str  # total_count: the number of rows (or groups) the query matches, before limit/offset
    count_params: list[Any]
    limit: int | None  # None: unlimited
    offset: int
    timezone: str
    aggregated: bool = field(default=False)


def compile_query(
    request: QueryRequest,
    schema: Mapping[str, str],
    *,
    source_sql: str,
    mode: Mode = "records",
) -> CompiledQuery:
    """Compile ``request`` against ``schema`` (field name -> one of FIELD_TYPES) reading from
    ``source_sql``, a trusted FROM expression chosen by the server (e.g. ``read_parquet([...])``).

    Raises ``ODSQLError`` (400) for anything wrong in the request, and ``query_too_complex`` for a
    request past the cost budget (``odsql.budget``); the SQL returned is safe to run with
    ``connection.execute(compiled.sql, compiled.params)``.
    """
    for name, ftype in schema.items():
        if ftype not in FIELD_TYPES:  # a server bug, not bad input
            raise ValueError(f"field {name!r} has unknown type {ftype!r}")
    zone = _zone(request.timezone if request.timezone is not None else "UTC")
    limit, offset = _window(request.limit, request.offset, mode, grouped=_given(request.group_by))

    wheres = _as_list(request.where)
    _check_length(request, wheres)
    where_nodes = [_clause("where", parse_expression, w) for w in wheres if w.strip()]
    groups = _clause("group_by", parse_group_by, request.group_by) if _given(request.group_by) else []
    parsed_select = _clause("select", parse_select, request.select) if _given(request.select) else []
    groups = _groups_by_select_alias(groups, parsed_select, schema)
    group_aliases = {g.alias: g.expr for g in groups if g.alias}
    grouped = frozenset(g.expr for g in groups)  # a set, built once: one lookup per selected node
    if parsed_select:
        selected = parsed_select
    elif groups:
        selected = groups
    else:
        selected = [n.SelectItem(n.Star())]
    # A group_by alias selected by name names its column (select=bucket, group_by=range(...) as bucket).
    selected = [
        n.SelectItem(
            _substitute(s.expr, group_aliases),
            s.alias
            or (s.expr.name if isinstance(s.expr, n.Field) and s.expr.name in group_aliases else None),
        )
        for s in selected
    ]
    orders = _clause("order_by", parse_order_by, request.order_by) if _given(request.order_by) else []
    orders = [n.OrderItem(_substitute(o.expr, group_aliases), o.descending) for o in orders]
    if len(request.refine) + len(request.exclude) > MAX_REFINES:
        fail(Code.INVALID_REFINE, f"at most {MAX_REFINES} refine and exclude filters are allowed")

    aggregated = bool(groups) or any(n.has_aggregate(s.expr) for s in selected)

    def filters(gen: Generator) -> tuple[list[str], list[str]]:
        gen.clause = "where"
        conds = [_in_clause("where", gen.condition, w).sql for w in where_nodes]
        conds += [_refine(gen, r, negate=False) for r in request.refine]
        conds += [_refine(gen, r, negate=True) for r in request.exclude]
        gen.clause = "group_by"
        group_sql = []
        for g in groups:
            typed = _in_clause("group_by", gen.expr, g.expr)
            gen.grouped[g.expr] = typed
            group_sql.append(typed.sql)
        return conds, group_sql

    params = Params()
    now = dt.datetime.now(dt.UTC)
    budget = Budget()
    gen = Generator(schema, params, zone, budget=budget, now=now)
    conds, group_sql = filters(gen)

    gen.clause = "select"
    columns: list[OutputColumn] = []
    names: set[str] = set()  # a set: a list scanned for each column was quadratic in a wide select
    select_sql: list[str] = []
    for item, name, expr in _expand_select(selected, schema, budget):
        if aggregated:
            _check_grouped(expr, grouped, "select")
        if isinstance(item.expr, n.Star | n.FieldPattern):
            with budget.free():
                typed = _in_clause("select", gen.expr, expr)
        else:
            typed = _in_clause("select", gen.expr, expr)
        if name in names:
            fail(
                Code.DUPLICATE_COLUMN,
                f'column "{name[:60]}" is selected twice; give one of them another name with `as`',
                clause="select",
                token=name[:60],
            )
        names.add(name)
        columns.append(OutputColumn(name, typed.type))
        select_sql.append(f"{typed.sql} AS {quote_ident(name)}")

    gen.clause = "order_by"
    gen.aliases = {c.name: Typed(quote_ident(c.name), c.type) for c in columns}
    order_sql = []
    for o in orders:
        is_alias = isinstance(o.expr, n.Field) and o.expr.name in gen.aliases
        if not is_alias:
            if aggregated:
                _check_grouped(o.expr, grouped, "order_by")
            elif n.has_aggregate(o.expr):
                fail(
                    Code.MISPLACED_AGGREGATE,
                    "order_by uses an aggregate but the query is not aggregated; add it to select "
                    "or add a group_by",
                    clause="order_by",
                    position=o.expr.pos,
                )
        typed = _in_clause("order_by", gen.expr, o.expr)
        _in_clause("order_by", gen.check_comparable_type, typed, o.expr, "order_by")
        if typed.type == "null":  # ordering by null changes nothing, and DuckDB refuses ORDER BY NULL
            continue
        order_sql.append(f"{typed.sql} {'DESC' if o.descending else 'ASC'}")

    sql = f"SELECT {', '.join(select_sql)} FROM {source_sql}" + _tail(conds, group_sql)
    if order_sql:
        sql += " ORDER BY " + ", ".join(order_sql)
    if limit is not None:
        sql += f" LIMIT {params.add(limit)}"
    if offset:
        sql += f" OFFSET {params.add(offset)}"

    count_params = Params()
    count_conds, count_groups = filters(Generator(schema, count_params, zone, now=now))
    if groups:
        count_sql = f"SELECT count(*) AS total_count FROM (SELECT 1 FROM {source_sql}" + _tail(
            count_conds, count_groups
        ) + ")"  # fmt: skip
    elif aggregated:
        count_sql, count_params = "SELECT CAST(1 AS BIGINT) AS total_count", Params()
    else:
        count_sql = f"SELECT count(*) AS total_count FROM {source_sql}" + _tail(count_conds, [])
    return CompiledQuery(
        sql=sql,
        params=params.values,
        columns=columns,
        count_sql=count_sql,
        count_params=count_params.values,
        limit=limit,
        offset=offset,
        timezone=zone.key,
        aggregated=aggregated,
    )


# -- helpers --------------------------------------------------------------------------------------------
R = TypeVar("R")


@contextmanager
def _naming(clause: str) -> Iterator[None]:
    """Say which clause an error is in: positions are offsets inside that clause's text."""
    try:
        yield
    except ODSQLError as exc:
        if "clause" not in exc.detail:
            exc.detail["clause"] = clause
            exc.message = f"{exc.message} (in {clause})"
            exc.args = (exc.message,)
        raise


def _clause(clause: str, parse: Callable[[str], R], text: str) -> R:
    with _naming(clause):
        return parse(text)


def _in_clause(clause: str, func: Callable[..., R], *args: Any) -> R:
    with _naming(clause):
        return func(*args)


def _given(text: str | None) -> TypeGuard[str]:
    return text is not None and text.strip() != ""


def _as_list(where: str | Sequence[str] | None) -> list[str]:
    if where is None:
        return []
    return [where] if isinstance(where, str) else list(where)


def _check_length(request: QueryRequest, wheres: list[str]) -> None:
    """All clauses together within one clause's limit: repeating ``where`` must not multiply it. (One
    clause past it alone is left to the tokenizer, whose error names the clause.)"""
    texts = [*wheres, request.select, request.group_by, request.order_by, *request.refine, *request.exclude]
    lengths = [len(t) for t in texts if t]
    total = sum(lengths)
    if total > MAX_CLAUSE_LENGTH and max(lengths) <= MAX_CLAUSE_LENGTH:
        fail(
            Code.QUERY_TOO_LONG,
            f"the query's clauses are {total} characters long in all; the limit is {MAX_CLAUSE_LENGTH}. "
            "Use fewer or shorter where, select, order_by, refine and exclude parameters.",
            length=total,
        )


def _tail(conds: list[str], group_sql: list[str]) -> str:
    sql = " WHERE " + " AND ".join(conds) if conds else ""
    return sql + (" GROUP BY " + ", ".join(group_sql) if group_sql else "")


@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(name: str) -> zoneinfo.ZoneInfo:
    if name not in _zones() and name != "UTC":
        fail(
            Code.INVALID_TIMEZONE,
            f'unknown timezone "{name[:60]}"; use an IANA name such as "UTC" or "Europe/Paris"',
            clause="timezone",
            token=name[:60],
        )
    return zoneinfo.ZoneInfo(name)


def _window(limit: int | None, offset: int, mode: Mode, *, grouped: bool = False) -> tuple[int | None, int]:
    if isinstance(limit, bool) or isinstance(offset, bool):
        raise TypeError("limit and offset are integers")
    if offset is None:
        offset = 0
    if offset < 0:
        fail(Code.INVALID_OFFSET, f"offset must be 0 or more, got {offset}", clause="offset")
    if mode == "exports":
        if limit is None or limit == -1:
            return None, offset
        if limit < 0:
            fail(
                Code.INVALID_LIMIT, f"limit must be -1 (everything) or 0 or more, got {limit}", clause="limit"
            )
        return limit, offset
    if limit is None:
        limit = RECORDS_DEFAULT_LIMIT
    max_limit, window = (
        (GROUPED_MAX_WINDOW, GROUPED_MAX_WINDOW) if grouped else (RECORDS_MAX_LIMIT, RECORDS_MAX_WINDOW)
    )
    if not 0 <= limit <= max_limit:
        fail(
            Code.INVALID_LIMIT,
            f"limit must be between 0 and {max_limit} on records{' with a group_by' if grouped else ''}, got "
            f"{limit}; page with offset or use the exports endpoint for everything",
            clause="limit",
        )
    if offset + limit > window:
        fail(
            Code.INVALID_OFFSET,
            f"offset + limit must be at most {window} on records, got {offset + limit}; "
            "narrow the query with where or use the exports endpoint",
            clause="offset",
        )
    return limit, offset


def _expand(item: n.SelectItem, schema: Mapping[str, str], budget: Budget) -> Iterator[tuple[str, n.Node]]:
    if isinstance(item.expr, n.Star):
        for name in schema:
            yield name, n.Field(name)
    elif isinstance(item.expr, n.FieldPattern):
        budget.charge(len(schema) // GLOB_FIELDS_PER_UNIT + 1, "pattern", "select")  # a scan of the fields
        matches = _pattern_matcher(item.expr.patterns, len(schema), budget)
        for name in schema:
            if matches(name):
                yield name, n.Field(name)
    else:
        name = item.alias or (item.expr.name if isinstance(item.expr, n.Field) else n.to_odsql(item.expr))
        yield name, item.expr


def _expand_select(
    selected: list[n.SelectItem], schema: Mapping[str, str], budget: Budget
) -> Iterator[tuple[n.SelectItem, str, n.Node]]:
    """Every result column: ``*`` and ``include(pattern)`` expand to fields in schema order, then the
    fields ``exclude(pattern)`` names leave the result (alone, excludes apply to ``*``)."""
    excluded = [i.expr for i in selected if isinstance(i.expr, n.FieldPattern) and i.expr.exclude]
    kept = [i for i in selected if not (isinstance(i.expr, n.FieldPattern) and i.expr.exclude)]
    if not excluded:
        for item in kept:
            for name, expr in _expand(item, schema, budget):
                yield item, name, expr
        return
    drop = _pattern_matcher(tuple(p for e in excluded for p in e.patterns), len(schema), budget)
    for item in kept or [n.SelectItem(n.Star())]:
        for name, expr in _expand(item, schema, budget):
            if not (isinstance(expr, n.Field) and drop(expr.name)):
                yield item, name, expr


def _pattern_matcher(patterns: tuple[str, ...], fields: int, budget: Budget) -> Callable[[str], bool]:
    """Field name globs where ``*`` is any run (the reference's only wildcard). Hand-written rather than
    fnmatch or a regular expression: those give ``?`` and ``[...]`` meanings the reference has not, and
    a backtracking ``.*a.*a.*a...`` is exponential on a hostile pattern. Names and prefixes (``pop*``)
    are set lookups, a name's length of them whatever their number; any other glob is a leftmost search
    of each piece in turn, linear, tried on every field: it is charged to the budget as such."""
    exact = {p for p in patterns if "*" not in p}
    prefixes = {p[:-1] for p in patterns if p.endswith("*") and "*" not in p[:-1]}
    globs = [p.split("*") for p in patterns if "*" in p and not (p.endswith("*") and "*" not in p[:-1])]
    budget.charge(len(globs) * (fields // GLOB_FIELDS_PER_UNIT + 1), "pattern", "select")

    def glob(name: str, parts: list[str]) -> bool:
        first, *middle, last = parts
        if len(name) < len(first) + len(last) or not (name.startswith(first) and name.endswith(last)):
            return False
        at, end = len(first), len(name) - len(last)
        for piece in middle:
            found = name.find(piece, at, end)
            if found < 0:
                return False
            at = found + len(piece)
        return True

    def matches(name: str) -> bool:
        return (
            name in exact
            or any(name[:k] in prefixes for k in range(len(name) + 1))
            or any(glob(name, parts) for parts in globs)
        )

    return matches


def _groups_by_select_alias(
    groups: list[n.SelectItem], selected: list[n.SelectItem], schema: Mapping[str, str]
) -> list[n.SelectItem]:
    """``select=year(date) as y&group_by=y``: a group_by name that is a select alias, not a field,
    groups by the aliased expression (and keeps the alias)."""
    by_alias = {s.alias: s.expr for s in selected if s.alias}
    return [
        n.SelectItem(by_alias[g.expr.name], g.alias or g.expr.name)
        if isinstance(g.expr, n.Field) and g.expr.name in by_alias and g.expr.name not in schema
        else g
        for g in groups
    ]


def _ungrouped(node: n.Node, groups: frozenset[n.Node]) -> n.Field | None:
    """The first field outside any aggregate and outside every group_by expression."""
    if node in groups or (isinstance(node, n.Call) and node.name in n.AGGREGATES):
        return None
    if isinstance(node, n.Field):
        return node
    for child in node.children():
        found = _ungrouped(child, groups)
        if found is not None:
            return found
    return None


def _check_grouped(node: n.Node, groups: frozenset[n.Node], clause: str) -> None:
    found = _ungrouped(node, groups)
    if found is not None:
        fail(
            Code.NOT_GROUPED,
            f'field "{found.name[:60]}" at {found.pos} must appear in group_by or inside an aggregate '
            "such as count(), sum(), min()",
            clause=clause,
            position=found.pos,
            token=found.name[:60],
        )


def _substitute(node: n.Node, aliases: Mapping[str, n.Node]) -> n.Node:
    """Replace references to group_by aliases by the aliased expression."""
    if not aliases:
        return node
    if isinstance(node, n.Field) and node.name in aliases:
        return aliases[node.name]
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, n.Node):
            changes[f.name] = _substitute(value, aliases)
        elif isinstance(value, tuple) and value and isinstance(value[0], n.Node):
            changes[f.name] = tuple(_substitute(v, aliases) for v in value)
    return dataclasses.replace(node, **changes) if changes else node


def _refine(gen: Generator, facet: str, *, negate: bool) -> str:
    """``field:value`` -> an equality (a date range for dates); exclude keeps rows without a value."""
    kind = "exclude" if negate else "refine"
    name, sep, value = facet.partition(":")
    name = name.strip().strip("`")
    if not sep or not name:
        fail(
            Code.INVALID_REFINE,
            f'{kind} "{facet[:60]}" must be field:value, e.g. city:Paris',
            clause=kind,
            token=facet[:60],
        )
    ftype = gen.schema.get(name)
    if ftype is None:
        with _naming(kind):
            gen.unknown_field(n.Field(name))
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    column = quote_ident(name)
    with _naming(kind):
        if ftype in ("date", "datetime"):
            cond = gen.period(column, ftype, *facet_range(value))
        elif ftype in ("text", "int", "double"):
            cond = f"({column} = {gen.coerce(n.Literal(value), ftype).sql})"
        else:
            fail(
                Code.INVALID_REFINE,
                f'{kind} on "{name}": {ftype} fields cannot be refined; use '
                "within_distance() or in_bbox() in where",
                token=name,
            )
    return f"(NOT coalesce({cond}, FALSE))" if negate else cond
