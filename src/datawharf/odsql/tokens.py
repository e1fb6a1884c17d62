"""The ODSQL tokenizer: one compiled regular expression, scanned once, linear in the input.

Keywords are matched case-insensitively on bare words only: a backtick-quoted name is always a name, so
a field called `in` or `2024` stays reachable. Strings take single or double quotes; inside them a
backslash takes the next character literally (``'it\\'s'``) and a doubled quote is one quote
(``'it''s'``). There are no ``\\u`` escapes: ``'\\u0027'`` is the five characters ``u0027``, never a
quote, so no escape can end a string early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto
from typing import NoReturn

from datawharf.odsql.errors import Code, fail

MAX_CLAUSE_LENGTH = 100_000  # characters; far above any real query, far below what could hurt


class TokenType(Enum):
    IDENT = auto()  # bare name: letters, digits, underscore, not starting with a digit
    QUOTED_IDENT = auto()  # `backtick quoted` name
    STRING = auto()
    NUMBER = auto()
    LPAREN = auto()
    RPAREN = auto()
    COMMA = auto()
    COLON = auto()
    LBRACKET = auto()  # [ and ] open and close ranges: [1..10], ]1..10[ (a reversed bracket excludes)
    RBRACKET = auto()
    DOTDOT = auto()  # the .. of a range
    STAR = auto()
    PLUS = auto()
    MINUS = auto()
    SLASH = auto()
    PERCENT = auto()
    EQ = auto()
    NEQ = auto()
    LT = auto()
    LTE = auto()
    GT = auto()
    GTE = auto()
    # keywords
    AND = auto()
    OR = auto()
    NOT = auto()
    IN = auto()
    LIKE = auto()
    IS = auto()
    NULL = auto()
    TRUE = auto()
    FALSE = auto()
    AS = auto()
    ASC = auto()
    DESC = auto()
    DISTINCT = auto()
    EOF = auto()


KEYWORDS: dict[str, TokenType] = {
    "and": TokenType.AND,
    "or": TokenType.OR,
    "not": TokenType.NOT,
    "in": TokenType.IN,
    "like": TokenType.LIKE,
    "is": TokenType.IS,
    "null": TokenType.NULL,
    "true": TokenType.TRUE,
    "false": TokenType.FALSE,
    "as": TokenType.AS,
    "asc": TokenType.ASC,
    "desc": TokenType.DESC,
    "distinct": TokenType.DISTINCT,
}

OPERATORS: dict[str, TokenType] = {
    "(": TokenType.LPAREN,
    ")": TokenType.RPAREN,
    ",": TokenType.COMMA,
    ":": TokenType.COLON,
    "[": TokenType.LBRACKET,
    "]": TokenType.RBRACKET,
    "..": TokenType.DOTDOT,
    "*": TokenType.STAR,
    "+": TokenType.PLUS,
    "-": TokenType.MINUS,
    "/": TokenType.SLASH,
    "%": TokenType.PERCENT,
    "=": TokenType.EQ,
    "!=": TokenType.NEQ,
    "<>": TokenType.NEQ,
    "<": TokenType.LT,
    "<=": TokenType.LTE,
    ">": TokenType.GT,
    ">=": TokenType.GTE,
}


@dataclass(frozen=True, slots=True)
class Token:
    type: TokenType
    text: str  # the source text, quotes included
    value: str  # the meaning: a name without backticks, a string without quotes and escapes
    pos: int  # 0-based offset in the clause
    end: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<number>(?:[0-9]+(?:\.(?!\.)[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)  # 1..10 is 1, .., 10
    | (?P<ident>[^\W\d]\w*)
    | (?P<qident>`[^`]*`)
    | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
    | (?P<op>!=|<>|<=|>=|\.\.|[(),:*+\-/%=<>\[\]])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE_RE = re.compile(r"\\(.)|''|\"\"", re.DOTALL)


def _unescape(body: str) -> str:
    return _ESCAPE_RE.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0)[0], body)


def _describe(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def tokenize(text: str) -> list[Token]:
    """The tokens of one clause, ending with EOF; refuses what no token can start with."""
    if len(text) > MAX_CLAUSE_LENGTH:
        fail(
            Code.QUERY_TOO_LONG,
            f"ODSQL clause is {len(text)} characters long; the limit is {MAX_CLAUSE_LENGTH}. "
            "Split the query or filter with refine instead.",
            length=len(text),
        )
    tokens: list[Token] = []
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            _fail_at_char(text, pos)
        kind, raw, end = m.lastgroup, m.group(), m.end()
        if kind == "number":
            tokens.append(Token(TokenType.NUMBER, raw, raw, pos, end))
        elif kind == "ident":
            ttype = KEYWORDS.get(raw.lower(), TokenType.IDENT)
            tokens.append(Token(ttype, raw, raw, pos, end))
        elif kind == "qident":
            name = raw[1:-1]
            if not name or not name.isprintable():
                fail(
                    Code.SYNTAX,
                    f"ODSQL syntax error at {pos}: a `quoted` field name must be non-empty and printable",
                    position=pos,
                    token=raw,
                )
            tokens.append(Token(TokenType.QUOTED_IDENT, raw, name, pos, end))
        elif kind == "string":
            tokens.append(Token(TokenType.STRING, raw, _unescape(raw[1:-1]), pos, end))
        elif kind == "op":
            tokens.append(Token(OPERATORS[raw], raw, raw, pos, end))
        pos = end
    tokens.append(Token(TokenType.EOF, "", "", n, n))
    return tokens


def _fail_at_char(text: str, pos: int) -> NoReturn:
    char = text[pos]
    if char in "'\"":
        fail(
            Code.SYNTAX,
            f"ODSQL syntax error at {pos}: unterminated string; close it with {char}",
            position=pos,
            token=text[pos : pos + 20],
        )
    if char == "`":
        fail(
            Code.SYNTAX,
            f"ODSQL syntax error at {pos}: unterminated `quoted` field name; close it with `",
            position=pos,
            token=text[pos : pos + 20],
        )
    fail(
        Code.SYNTAX,
        f"ODSQL syntax error at {pos}: unexpected character {_describe(char)}",
        position=pos,
        token=char,
    )
