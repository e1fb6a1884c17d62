"""A Pratt parser: one loop climbs binding powers taken from the tables below.

Recursion happens only for prefixes, parentheses and right operands, and every entry counts against
``MAX_DEPTH``: 10,000 opening parentheses end in an ``odsql_too_deep`` error after 64 levels, never in
a RecursionError. ``and``/``or`` chains are gathered into one n-ary node, so a long list of conditions
stays flat; a left-deep chain (``1+1+...``) built by the loop is measured with ``nodes.depth`` and held
to the same limit before the (recursive) generator sees it.
"""

from __future__ import annotations

import re

from datawharf.odsql import nodes as n
from datawharf.odsql.errors import Code, fail
from datawharf.odsql.tokens import Token, TokenType, tokenize

MAX_DEPTH = 64

T = TokenType

# One table a precedence level: token -> what it builds. Higher binds tighter.
OR_LEVEL = 1
AND_LEVEL = 2
NOT_LEVEL = 3  # prefix `not` parses its operand above this
COMPARE_LEVEL = 4
COMPARISONS: dict[TokenType, str] = {T.EQ: "=", T.NEQ: "!=", T.LT: "<", T.LTE: "<=", T.GT: ">", T.GTE: ">="}
PREDICATES = {T.IN, T.LIKE, T.IS, T.NOT}  # x [not] in (...), x [not] like y, x is [not] null
ADD_LEVEL = 5
ADDITIVE: dict[TokenType, str] = {T.PLUS: "+", T.MINUS: "-"}
MUL_LEVEL = 6
MULTIPLICATIVE: dict[TokenType, str] = {T.STAR: "*", T.SLASH: "/", T.PERCENT: "%"}

_WRITTEN_DATE = re.compile(r"\d{4}[-/]\d{1,2}(?:[-/]\d{1,2})?")

# range(date, 1 day)'s interval units, as the reference spells them (case matters: M month, m minute),
# each with the DuckDB interval function of its width and, for calendar units, the date_trunc part.
TIME_UNITS: dict[str, str] = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), "milliseconds"),
    **dict.fromkeys(("s", "second", "seconds"), "seconds"),
    **dict.fromkeys(("m", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hour", "hours"), "hours"),
    **dict.fromkeys(("d", "day", "days"), "days"),
    **dict.fromkeys(("w", "week", "weeks"), "weeks"),
    **dict.fromkeys(("M", "month", "months"), "months"),
    **dict.fromkeys(("q", "quarter", "quarters"), "quarters"),
    **dict.fromkeys(("y", "year", "years"), "years"),
}

# A keyword before a quoted string makes a typed literal: date'2024-05-17', geom'POINT(2.35 48.85)'.
TYPED_LITERALS = {"date": "date", "geom": "geom", "geometry": "geom"}

DISTANCE_UNITS: dict[str, float] = {
    "mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344,
}  # fmt: skip


def _left_power(tokens: list[Token], i: int) -> int:
    ttype = tokens[i].type
    if ttype is T.OR:
        return OR_LEVEL
    if ttype is T.AND:
        return AND_LEVEL
    if ttype in COMPARISONS or ttype is T.COLON:
        return COMPARE_LEVEL
    if ttype in PREDICATES:
        if ttype is T.NOT and tokens[i + 1].type not in (T.IN, T.LIKE):
            return 0
        return COMPARE_LEVEL
    if ttype in ADDITIVE:
        return ADD_LEVEL
    if ttype in MULTIPLICATIVE:
        return MUL_LEVEL
    return 0


def _describe(tok: Token) -> str:
    return "end of input" if tok.type is T.EOF else f'"{tok.text[:40]}"'


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.level = 0

    # -- token plumbing -------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.type is not T.EOF:
            self.i += 1
        return tok

    def accept(self, ttype: TokenType) -> Token | None:
        return self.advance() if self.peek().type is ttype else None

    def expect(self, ttype: TokenType, what: str) -> Token:
        if self.peek().type is not ttype:
            self.error(f"expected {what}")
        return self.advance()

    def error(self, hint: str | None = None, tok: Token | None = None) -> None:
        tok = tok or self.peek()
        message = f"ODSQL syntax error at {tok.pos}: unexpected {_describe(tok)}"
        fail(Code.SYNTAX, f"{message} ({hint})" if hint else message, position=tok.pos, token=tok.text)

    def done(self) -> None:
        if self.peek().type is not T.EOF:
            self.error("expected the end of the clause")

    # -- clauses --------------------------------------------------------------------------------------
    def select_list(self) -> list[n.SelectItem]:
        items = []
        while True:
            tok = self.peek()
            if tok.type is T.STAR and self.peek(1).type in (T.COMMA, T.EOF):
                self.advance()
                items.append(n.SelectItem(n.Star(pos=tok.pos)))
            elif (
                tok.type is T.IDENT
                and tok.value.lower() in ("include", "exclude")
                and self.peek(1).type is T.LPAREN
            ):
                items.append(n.SelectItem(self.field_patterns()))
            else:
                items.append(n.SelectItem(self.expression(), self.alias()))
            if not self.accept(T.COMMA):
                break
        self.done()
        return items

    def field_patterns(self) -> n.FieldPattern:
        """``include(pop*, name)``: field names in which ``*`` matches any run; a pattern is a run of
        names and stars written together (``pop*``, ``*_2024``, `` `my field`* ``)."""
        name = self.advance()
        self.expect(T.LPAREN, "(")
        patterns: list[str] = []
        while True:
            start, pattern = self.peek(), ""
            while (tok := self.peek()).type in (T.IDENT, T.QUOTED_IDENT, T.STAR) and (
                not pattern or tok.pos == self.tokens[self.i - 1].end
            ):
                pattern += "*" if tok.type is T.STAR else tok.value
                self.advance()
            if not pattern:
                self.error("expected a field name or a pattern such as pop*", start)
            patterns.append(pattern)
            if not self.accept(T.COMMA):
                break
        self.expect(T.RPAREN, ", or ) in the patterns of " + name.value)
        return n.FieldPattern(tuple(patterns), name.value.lower() == "exclude", pos=name.pos)

    def alias(self) -> str | None:
        if not self.accept(T.AS):
            return None
        tok = self.peek()
        if tok.type not in (T.IDENT, T.QUOTED_IDENT):
            self.error("expected a name after as")
        return self.advance().value

    def order_list(self) -> list[n.OrderItem]:
        items = []
        while True:
            expr = self.expression()
            descending = False
            if self.accept(T.DESC):
                descending = True
            else:
                self.accept(T.ASC)
            items.append(n.OrderItem(expr, descending))
            if not self.accept(T.COMMA):
                break
        self.done()
        return items

    def where(self) -> n.Node:
        expr = self.expression()
        self.done()
        return expr

    # -- expressions ----------------------------------------------------------------------------------
    def expression(self, min_power: int = 0) -> n.Node:
        self.level += 1
        try:
            if self.level > MAX_DEPTH:
                tok = self.peek()
                fail(
                    Code.TOO_DEEP,
                    f"ODSQL expression nested deeper than {MAX_DEPTH} levels at {tok.pos}; "
                    "remove parentheses or split the expression",
                    position=tok.pos,
                    token=tok.text,
                )
            left = self.prefix()
            while (power := _left_power(self.tokens, self.i)) > min_power:
                left = self.infix(left, power)
            return left
        finally:
            self.level -= 1

    def infix(self, left: n.Node, power: int) -> n.Node:
        tok = self.advance()
        ttype = tok.type
        if ttype is T.OR or ttype is T.AND:
            items = [left, self.expression(power)]
            while self.accept(ttype):
                items.append(self.expression(power))
            return (n.Or if ttype is T.OR else n.And)(tuple(items), pos=tok.pos)
        if ttype in COMPARISONS:
            return n.Compare(COMPARISONS[ttype], left, self.expression(power), pos=tok.pos)
        if ttype is T.COLON:
            return self.field_match(left, tok)
        if ttype in ADDITIVE:
            return n.Arith(ADDITIVE[ttype], left, self.expression(power), pos=tok.pos)
        if ttype in MULTIPLICATIVE:
            return n.Arith(MULTIPLICATIVE[ttype], left, self.expression(power), pos=tok.pos)
        if ttype is T.IS:
            negated = self.accept(T.NOT) is not None
            self.expect(T.NULL, "null after is" + (" not" if negated else ""))
            return n.IsNull(left, negated, pos=tok.pos)
        negated = ttype is T.NOT
        if negated:
            ttype = self.advance().type
        if ttype is T.LIKE:
            return n.Like(left, self.expression(power), negated, pos=tok.pos)
        if self.peek().type in (T.LBRACKET, T.RBRACKET):
            if negated:
                self.error("not in takes a list; write not (field in [a..b])")
            return self.range(left, tok)
        # IN: a parenthesized, non-empty list
        self.expect(T.LPAREN, "( after in")
        values = [self.expression()]
        while self.accept(T.COMMA):
            values.append(self.expression())
        self.expect(T.RPAREN, ") to close the in list")
        return n.In(left, tuple(values), negated, pos=tok.pos)

    def field_match(self, left: n.Node, tok: Token) -> n.Node:
        """``city:Paris``, ``city:'Paris'``, ``year:2024``: equality, a bare word being its text (on a
        date, the period: ``founded:2024``); ``year:[2020 TO 2024]``: a range."""
        nxt = self.peek()
        if nxt.type in (T.LBRACKET, T.RBRACKET):
            return self.range(left, tok)
        if nxt.type is T.NUMBER and (written := self.written_date()) is not None:
            return n.Compare(n.MATCH_OP, left, n.Literal(written, pos=nxt.pos), pos=tok.pos)
        if (
            nxt.type is T.IDENT
            and self.peek(1).type is not T.LPAREN
            and not (self.peek(1).type is T.STRING and nxt.value.lower() in TYPED_LITERALS)
        ):
            self.advance()
            return n.Compare(n.MATCH_OP, left, n.Literal(nxt.value, pos=nxt.pos), pos=tok.pos)
        return n.Compare(n.MATCH_OP, left, self.expression(COMPARE_LEVEL), pos=tok.pos)

    def written_date(self) -> str | None:
        """``2024/05`` or ``2024-05-17`` written without quotes after a colon: the date, not a division
        or a subtraction (the tokens touch each other); None, consuming nothing, otherwise."""
        end, text = self.i, ""
        while (tok := self.tokens[end]).type in (T.NUMBER, T.MINUS, T.SLASH) and (
            end == self.i or tok.pos == self.tokens[end - 1].end
        ):
            text += tok.text
            end += 1
        if not _WRITTEN_DATE.fullmatch(text):
            return None
        self.i = end
        return text

    def range(self, left: n.Node, tok: Token) -> n.Range:
        """``[low..high]`` or ``[low TO high]``; ``]`` opening or ``[`` closing excludes that bound."""
        low_inclusive = self.advance().type is T.LBRACKET
        low = self.expression(COMPARE_LEVEL)
        sep = self.peek()
        if not (sep.type is T.DOTDOT or (sep.type is T.IDENT and sep.value.lower() == "to")):
            self.error("expected .. or TO between the bounds of a range")
        self.advance()
        high = self.expression(COMPARE_LEVEL)
        closing = self.peek()
        if closing.type not in (T.LBRACKET, T.RBRACKET):
            self.error("expected ] (bound included) or [ (bound excluded) to close the range")
        self.advance()
        return n.Range(left, low, high, low_inclusive, closing.type is T.RBRACKET, pos=tok.pos)

    def prefix(self) -> n.Node:
        tok = self.advance()
        match tok.type:
            case T.NUMBER:
                value = _number(tok)
                unit = self.peek()
                if unit.type is T.IDENT and (
                    unit.value.lower() in DISTANCE_UNITS or unit.value in TIME_UNITS
                ):
                    self.advance()  # a distance (10km) or, in range(), a time interval (1 day, 3h, 1M)
                    written = unit.value if unit.value in TIME_UNITS else unit.value.lower()
                    return n.Distance(float(value), written, pos=tok.pos)
                return n.Literal(value, pos=tok.pos)
            case T.STRING:
                return n.Literal(tok.value, pos=tok.pos)
            case T.TRUE | T.FALSE:
                return n.Literal(tok.type is T.TRUE, pos=tok.pos)
            case T.NULL:
                return n.Literal(None, pos=tok.pos)
            case T.QUOTED_IDENT:
                return n.Field(tok.value, quoted=True, pos=tok.pos)
            case T.IDENT:
                nxt = self.peek()
                if nxt.type is T.LPAREN:
                    return self.call(tok)
                if nxt.type is T.STRING and tok.value.lower() in TYPED_LITERALS:
                    self.advance()
                    return n.TypedLiteral(TYPED_LITERALS[tok.value.lower()], nxt.value, pos=tok.pos)
                return n.Field(tok.value, pos=tok.pos)
            case T.LPAREN:
                inner = self.expression()
                self.expect(T.RPAREN, ")")
                return inner
            case T.MINUS:
                return n.Neg(self.expression(MUL_LEVEL), pos=tok.pos)
            case T.PLUS:
                return self.expression(MUL_LEVEL)
            case T.NOT:
                return n.Not(self.expression(NOT_LEVEL), pos=tok.pos)
        self.error("expected a field, a value, a function call or (", tok)
        raise AssertionError  # unreachable: error() raises

    def call(self, name: Token) -> n.Node:
        self.expect(T.LPAREN, "(")
        distinct = self.accept(T.DISTINCT) is not None
        args: list[n.Node] = []
        if self.peek().type is not T.RPAREN:
            args.append(self.argument(name))
            while self.accept(T.COMMA):
                args.append(self.argument(name))
        self.expect(T.RPAREN, ", or ) in the arguments of " + name.value)
        return n.Call(name.value.lower(), tuple(args), distinct, pos=name.pos)

    def argument(self, function: Token) -> n.Node:
        """A function argument: an expression, or ``*`` alone (``count(*)``, ``search(*, "x")``)."""
        if self.peek().type is T.STAR and self.peek(1).type in (T.RPAREN, T.COMMA):
            return n.Star(pos=self.advance().pos)
        if self.peek().type in (T.LBRACKET, T.RBRACKET) and function.value.lower() == "range":
            tok = self.peek()
            fail(
                Code.UNSUPPORTED_FUNCTION,
                f"static ranges (range(field, ]10, 50, 100[)) at {tok.pos} are not supported; use "
                "range(field, step) for buckets of equal width",
                position=tok.pos,
                token=tok.text,
                function="range",
            )
        return self.expression()


def _number(tok: Token) -> int | float:
    text = tok.value
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _check_depth(node: n.Node) -> n.Node:
    if n.depth(node) > MAX_DEPTH:
        fail(
            Code.TOO_DEEP,
            f"ODSQL expression at {node.pos} is more than {MAX_DEPTH} operations deep; "
            "split it or use in (...) instead of long chains",
            position=node.pos,
        )
    return node


def parse_expression(text: str) -> n.Node:
    """A where clause (or any single expression)."""
    return _check_depth(Parser(text).where())


def parse_select(text: str) -> list[n.SelectItem]:
    items = Parser(text).select_list()
    for item in items:
        _check_depth(item.expr)
    return items


def parse_group_by(text: str) -> list[n.SelectItem]:
    """group_by takes the select grammar minus ``*``: expressions with optional aliases."""
    items = parse_select(text)
    for item in items:
        if isinstance(item.expr, n.Star):
            fail(
                Code.SYNTAX,
                f'ODSQL syntax error at {item.expr.pos}: unexpected "*" in group_by',
                position=item.expr.pos,
                token="*",
            )
    return items


def parse_order_by(text: str) -> list[n.OrderItem]:
    items = Parser(text).order_list()
    for item in items:
        _check_depth(item.expr)
    return items
