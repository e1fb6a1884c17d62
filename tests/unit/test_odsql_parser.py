"""Tokenizer, parser and generator, piece by piece: tokens, trees and SQL text for each construct."""

from __future__ import annotations

import datetime as dt

import pytest

from datawharf.errors import ODSQLError
from datawharf.odsql import (
    QueryRequest,
    TokenType,
    compile_query,
    parse_expression,
    parse_group_by,
    parse_order_by,
    parse_select,
    to_odsql,
    tokenize,
)
from datawharf.odsql import nodes as n
from datawharf.odsql.dates import java_to_strftime, parse_date_literal

T = TokenType


def kinds(text: str) -> list[tuple[TokenType, str]]:
    return [(t.type, t.value) for t in tokenize(text)][:-1]


# -- tokenizer ------------------------------------------------------------------------------------------
def test_tokens_of_a_where_clause() -> None:
    assert kinds("population>=1e3 AND `my field`!='it''s' or x<>\"a\\\"b\"") == [
        (T.IDENT, "population"), (T.GTE, ">="), (T.NUMBER, "1e3"), (T.AND, "AND"),
        (T.QUOTED_IDENT, "my field"), (T.NEQ, "!="), (T.STRING, "it's"), (T.OR, "or"),
        (T.IDENT, "x"), (T.NEQ, "<>"), (T.STRING, 'a"b'),
    ]  # fmt: skip


def test_token_positions_and_keywords_case_insensitively() -> None:
    tokens = tokenize("  Not a IS nUll")
    assert [(t.type, t.pos, t.end) for t in tokens] == [
        (T.NOT, 2, 5), (T.IDENT, 6, 7), (T.IS, 8, 10), (T.NULL, 11, 15), (T.EOF, 15, 15),
    ]  # fmt: skip


def test_backslash_escapes_are_literal_and_there_are_no_unicode_escapes() -> None:
    assert kinds(r"'\u0027'") == [(T.STRING, "u0027")]
    assert kinds(r"'a\\b'") == [(T.STRING, "a\\b")]
    assert kinds("'\\''") == [(T.STRING, "'")]


def test_numbers_and_distances() -> None:
    assert kinds("10km 1.5 .5 007") == [
        (T.NUMBER, "10"), (T.IDENT, "km"), (T.NUMBER, "1.5"), (T.NUMBER, ".5"), (T.NUMBER, "007"),
    ]  # fmt: skip
    with pytest.raises(ODSQLError):  # non-ASCII digits are never numbers (nor names)
        tokenize("١٢")


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("name = 'abc", 7, "unterminated string"),
        ("`abc", 0, "unterminated `quoted` field name"),
        ("a ; b", 2, "unexpected character ';'"),
        ("a = \x00", 4, "unexpected character U+0000"),
        ("``", 0, "must be non-empty"),
    ],
)
def test_tokenizer_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(ODSQLError) as err:
        tokenize(text)
    assert err.value.error_code == "odsql_syntax_error"
    assert err.value.detail["position"] == position and message in err.value.message


# -- parser ---------------------------------------------------------------------------------------------
F, L = n.Field, n.Literal


def test_precedence_not_and_or() -> None:
    assert parse_expression("a or b and not c") == n.Or((F("a"), n.And((F("b"), n.Not(F("c"))))))
    assert parse_expression("(a or b) and c") == n.And((n.Or((F("a"), F("b"))), F("c")))
    assert parse_expression("not a = 1") == n.Not(n.Compare("=", F("a"), L(1)))


def test_and_or_chains_are_flat() -> None:
    tree = parse_expression(" or ".join(f"a = {i}" for i in range(500)))
    assert isinstance(tree, n.Or) and len(tree.items) == 500 and n.depth(tree) == 3


def test_arithmetic_precedence_and_associativity() -> None:
    assert parse_expression("1 + 2 * 3 - 4") == n.Arith(
        "-", n.Arith("+", L(1), n.Arith("*", L(2), L(3))), L(4)
    )
    assert parse_expression("a - b - c") == n.Arith("-", n.Arith("-", F("a"), F("b")), F("c"))
    assert parse_expression("-a * b") == n.Arith("*", n.Neg(F("a")), F("b"))
    assert parse_expression("a % 2 = 0") == n.Compare("=", n.Arith("%", F("a"), L(2)), L(0))


def test_predicates() -> None:
    assert parse_expression("a not in (1, 'x')") == n.In(F("a"), (L(1), L("x")), negated=True)
    assert parse_expression("a like 'x%'") == n.Like(F("a"), L("x%"))
    assert parse_expression("a not like 'x%'") == n.Like(F("a"), L("x%"), negated=True)
    assert parse_expression("a is not null") == n.IsNull(F("a"), negated=True)
    assert parse_expression("true and false or null is null") == n.Or(
        (n.And((L(True), L(False))), n.IsNull(L(None)))
    )


def test_literals_and_calls() -> None:
    assert parse_expression("d >= date'2024-01-01'") == n.Compare(
        ">=", F("d"), n.TypedLiteral("date", "2024-01-01")
    )
    assert parse_expression("within_distance(g, GEOM'POINT(1 2)', 10 KM)") == n.Call(
        "within_distance", (F("g"), n.TypedLiteral("geom", "POINT(1 2)"), n.Distance(10.0, "km"))
    )
    assert parse_expression("COUNT(distinct x)") == n.Call("count", (F("x"),), distinct=True)
    assert parse_expression("count(*)") == n.Call("count", (n.Star(),))
    assert parse_expression("date = 1") == n.Compare("=", F("date"), L(1))  # `date` alone is a field
    tree = parse_expression("`in` = 1")
    assert tree == n.Compare("=", F("in"), L(1)) and tree.left.quoted  # type: ignore[attr-defined]


def test_positions_point_at_the_token() -> None:
    tree = parse_expression("a = 1 and  bb > 2")
    assert isinstance(tree, n.And)
    assert tree.items[1].pos == 14 and tree.items[1].left.pos == 11  # type: ignore[attr-defined]


def test_select_group_order_clauses() -> None:
    assert parse_select("*, a as b, count(*) as `n n`") == [
        n.SelectItem(n.Star()), n.SelectItem(F("a"), "b"), n.SelectItem(n.Call("count", (n.Star(),)), "n n"),
    ]  # fmt: skip
    assert parse_group_by("a, range(b, 10) as r") == [
        n.SelectItem(F("a")), n.SelectItem(n.Call("range", (F("b"), L(10))), "r"),
    ]  # fmt: skip
    assert parse_order_by("a desc, b asc, c") == [
        n.OrderItem(F("a"), True), n.OrderItem(F("b"), False), n.OrderItem(F("c"), False),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("a = ", 4, ""),
        ("a b", 2, "b"),
        ("a = = 1", 4, "="),
        ("f(a", 3, ""),
        ("(a", 2, ""),
        ("a in 1", 5, "1"),
        ("a is 1", 5, "1"),
        ("a not b", 2, "not"),
        ("*", 0, "*"),
    ],
)
def test_syntax_errors_carry_position_and_token(text: str, position: int, token: str) -> None:
    with pytest.raises(ODSQLError) as err:
        parse_expression(text)
    assert err.value.error_code == "odsql_syntax_error"
    assert (err.value.detail["position"], err.value.detail["token"]) == (position, token)
    assert err.value.message.startswith(f"ODSQL syntax error at {position}: unexpected ")


@pytest.mark.parametrize(
    "text",
    [
        "a = 1 and (b > 2 or not c) and d in (1, 2)",
        "-(a + b) * c / (d - e) % 2 > 0",
        "a - (b - c) = a - b - c",
        "(a = 1) = (b = 2)",
        "search(name, 'x') or startswith(`select`, 'a') or 'free text'",
        "x not like 'a' and y is not null and not (z in (1))",
        "within_distance(g, geom'POINT(2.35 48.85)', 10km) and in_bbox(g, 1, 2, 3, -4)",
        "date_format(d, 'yyyy-MM') = '2024-01' and year(d) >= 2000",
    ],
)
def test_to_odsql_round_trips(text: str) -> None:
    tree = parse_expression(text)
    assert parse_expression(to_odsql(tree)) == tree


# -- dates ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("java", "strftime"),
    [
        ("yyyy-MM", "%Y-%m"),
        ("dd/MM/yy", "%d/%m/%y"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", "%Y-%m-%dT%H:%M:%S.%g"),
        ("EEEE d MMMM yyyy, h a", "%A %-d %B %Y, %-I %p"),
        ("'week' ww", "week %V"),
        ("yyyy '100%'", "%Y 100%%"),
        ("HH'h'mm ''", "%Hh%M '"),
    ],
)
def test_java_patterns_translate_to_strftime(java: str, strftime: str) -> None:
    assert java_to_strftime(java) == strftime


def test_date_literals() -> None:
    assert parse_date_literal("2024") == dt.date(2024, 1, 1)
    assert parse_date_literal("2024/05") == dt.date(2024, 5, 1)
    assert parse_date_literal("2024-05-17") == dt.date(2024, 5, 17)
    assert parse_date_literal("2024-05-17T10:00:00Z") == dt.datetime(2024, 5, 17, 10, tzinfo=dt.UTC)
    assert parse_date_literal("2024-05-17 10:00") == dt.datetime(2024, 5, 17, 10)


# -- generator: the SQL text ----------------------------------------------------------------------------
SCHEMA = {"name": "text", "n": "int", "d": "date", "t": "datetime", "g": "geo_point_2d"}


def compiled_sql(**request: object) -> tuple[str, list[object]]:
    c = compile_query(QueryRequest(**request), SCHEMA, source_sql="src", mode="exports")  # type: ignore[arg-type]
    return c.sql, c.params


def test_sql_is_parameterized_and_quoted() -> None:
    sql, params = compiled_sql(
        select="name, n + 1 as m", where="name = 'x' and n in (1, 2)", order_by="m desc"
    )
    assert sql == (
        'SELECT "name" AS "name", try("n" + CAST($2 AS BIGINT)) AS "m" FROM src '
        'WHERE (("name" = CAST($1 AS VARCHAR)) AND ("n" IN (CAST($2 AS BIGINT), CAST($3 AS BIGINT)))) '
        'ORDER BY "m" DESC'
    )
    assert params == ["x", 1, 2]


def test_same_value_reuses_the_parameter_so_group_by_matches_select() -> None:
    sql, params = compiled_sql(
        select="date_format(d, 'yyyy') as y, count(*)", group_by="date_format(d, 'yyyy') as y"
    )
    assert sql == (
        'SELECT strftime("d", $1) AS "y", count(*) AS "count(*)" FROM src GROUP BY strftime("d", $1)'
    )
    assert params == ["%Y"]


def test_literals_are_coerced_to_the_compared_field_type() -> None:
    _, params = compiled_sql(where="name = 75001 and n = '42' and d > '2024-02' and t < date'2024-01-01'",
                             timezone="Europe/Paris")  # fmt: skip
    paris = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert params == ["75001", 42, dt.date(2024, 2, 1), paris.astimezone(dt.UTC)]


def test_datetime_functions_convert_to_the_timezone() -> None:
    sql, params = compiled_sql(select="year(t), year(d)", timezone="Asia/Tokyo")
    assert sql.startswith('SELECT year(timezone($1, "t")) AS "year(t)", year("d") AS "year(d)"')
    assert params == ["Asia/Tokyo"]


def test_count_sql() -> None:
    c = compile_query(QueryRequest(where="n > 1", group_by="name", limit=5), SCHEMA, source_sql="src")
    assert c.count_sql == (
        "SELECT count(*) AS total_count FROM "
        '(SELECT 1 FROM src WHERE ("n" > CAST($1 AS BIGINT)) GROUP BY "name")'
    )
    assert c.count_params == [1] and c.params == [1, 5]
    assert c.sql.endswith("LIMIT $2")


def test_order_by_null_is_dropped() -> None:
    sql, _ = compiled_sql(select="name", order_by="null, name desc")
    assert sql.endswith('ORDER BY "name" DESC')
