"""The v1 APIs' query parameters translated onto ODSQL, so one compiler (``datawharf.odsql``) answers
v1 and v2.1 alike: ``q`` (the v1 query language) becomes an ODSQL condition, ``refine.<facet>`` and
``exclude.<facet>`` the v2.1 ``refine``/``exclude`` filters, ``sort`` an ``order_by``, ``fields`` a
``select``, ``geofilter.distance`` a ``within_distance()`` condition.

The v1 query language (Opendatasoft's "Query language and geo filtering" page) as translated here:

    film paris            every word must occur (words side by side are and-ed): ``search("film") and ...``
    "saint denis"         the phrase: ``search("saint denis")``
    film OR trees, NOT x  ``or``, ``and``, ``not`` (any case), parentheses
    title:paris           a text field containing the word: ``search(`title`, "paris")``; on another type
                          (``=``, ``==`` too) the value itself: ``records_count = "50000"``
    records_count >= 50000, film_date > 2013/02/11, <, <=
                          comparisons; the value is typed by the field (dates: 2013, 2013/02, 2013-02-11...)
    film_date:[1950 TO 2000]
                          an inclusive range (``*`` for an open end)
    #null(birthdate), #exact(firstname, "Marie"), birthdate >= #now(years=-1, hours=-1)
                          the functions; ``#now`` is the request's instant with its offsets applied

No second query engine: the result is ODSQL text (every value re-quoted as an ODSQL string, every name
backtick-quoted), compiled and type-checked by the ODSQL compiler like any ``where``. The scanner is
hand-written because the v1 language is not ODSQL (``#`` functions, ``[a TO b]``, bare ``field:value``)
and no library reads it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from datawharf.errors import InvalidInput

MAX_Q_LENGTH = 10_000
MAX_DEPTH = 64  # as ODSQL's nesting limit: the reader recurses once a level

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<func>\#[A-Za-z_]+)
    | (?P<op>==|>=|<=|!=|[=:<>()\[\],])
    | (?P<word>[^\s"'()\[\]=:<>!,\#]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_COMPARISONS = {"=": "=", "==": "=", ":": ":", ">": ">", ">=": ">=", "<": "<", "<=": "<=", "!=": "!="}
_NOW_OFFSETS = {"years", "months", "weeks", "days", "hours", "minutes", "seconds", "microseconds"}
_NOW_ABSOLUTE = ("year", "month", "day", "hour", "minute", "second", "microsecond")


def invalid_q(message: str, q: str) -> InvalidInput:
    return InvalidInput(
        f'The q parameter cannot be read: {message}. Write words, "phrases", field:value, '
        'field >= value, field:[a TO b], #null(field), #exact(field, "value"), joined by AND, OR, NOT.',
        error_code="v1_invalid_q",
        detail={"q": q[:200]},
    )


@dataclass(frozen=True)
class _Token:
    kind: str  # string | func | op | word
    text: str  # a string's content (unquoted, unescaped), else the source text


def _tokens(q: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if m is None:
            raise invalid_q(f"unexpected character {q[pos]!r} at {pos}", q)
        kind, text = m.lastgroup or "", m.group()
        if kind == "string":
            found.append(_Token(kind, re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)))
        elif kind != "ws":
            found.append(_Token(kind, text))
        pos = m.end()
    return found


def odsql_string(value: str) -> str:
    """``value`` as an ODSQL string literal (a backslash takes the next character literally)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def odsql_name(name: str) -> str:
    if "`" in name or not name.isprintable():
        raise InvalidInput(
            f"{name[:60]!r} is no field name.", error_code="v1_invalid_field", detail={"field": name[:60]}
        )
    return f"`{name}`"


class _Translator:
    """A recursive-descent reader of one ``q`` writing the ODSQL condition as it goes."""

    def __init__(self, q: str, schema: Mapping[str, str], now: dt.datetime) -> None:
        self.q = q
        self.schema = schema
        self.now = now
        self.tokens = _tokens(q)
        self.at = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise invalid_q("it ends too early", self.q)
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.kind != "op" or token.text != text:
            raise invalid_q(f"expected {text!r}, found {token.text[:40]!r}", self.q)

    def keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.upper() == word

    def translate(self) -> str:
        condition = self.or_expr()
        if self.peek() is not None:
            raise invalid_q(f"unexpected {self.take().text[:40]!r}", self.q)
        return condition

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.not_expr()]
        while True:
            if self.keyword("AND"):
                self.take()
            token = self.peek()
            if token is None or self.keyword("OR") or (token.kind == "op" and token.text == ")"):
                break
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def not_expr(self) -> str:
        if self.keyword("NOT"):
            self.take()
            with self.nested():
                return f"not {self.not_expr()}"
        return self.primary()

    @contextmanager
    def nested(self) -> Iterator[None]:
        """One level deeper (a parenthesis, a NOT); past ``MAX_DEPTH`` the query is refused."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid_q(f"it nests parentheses and NOTs more than {MAX_DEPTH} deep", self.q)
        try:
            yield
        finally:
            self.depth -= 1

    def primary(self) -> str:
        token = self.take()
        if token.kind == "op" and token.text == "(":
            with self.nested():
                inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "func":
            return self.function(token.text[1:].lower())
        if token.kind == "string":
            return f"search({odsql_string(token.text)})"
        if token.kind == "word":
            following = self.peek()
            if following is not None and following.kind == "op" and following.text in _COMPARISONS:
                if following.text == ":" and token.text not in self.schema:
                    return self.colon_text(token.text)
                self.take()
                return self.field_query(token.text, _COMPARISONS[following.text])
            return f"search({odsql_string(token.text)})"
        raise invalid_q(f"unexpected {token.text[:40]!r}", self.q)

    def colon_text(self, word: str) -> str:
        """``word:rest`` where ``word`` is no field (a URL, a time, ``ref:A12``): that text, searched."""
        self.take()
        following = self.peek()
        text = f"{word}:"
        if following is not None and following.kind in ("word", "string"):
            text += self.take().text
        return f"search({odsql_string(text)})"

    def field_query(self, name: str, op: str) -> str:
        field = odsql_name(name)
        following = self.peek()
        if op == ":" and following is not None and following.kind == "op" and following.text == "[":
            return self.range(field)
        token = self.peek()
        value = self.value()
        ftype = self.schema.get(name)
        if op == ":" and ftype == "text":
            return f"search({field}, {value})"
        following_period = _next_period(token.text) if token is not None and token.kind != "func" else None
        if ftype in ("date", "datetime") and following_period is not None:
            return _period_condition(field, op, value, odsql_string(following_period))
        return f"{field} {'=' if op == ':' else op} {value}"

    def field_type(self, field: str) -> str | None:
        return self.schema.get(field[1:-1])

    def range(self, field: str) -> str:
        self.expect("[")
        low = self.bound()
        if not self.keyword("TO"):
            raise invalid_q("a range is written [low TO high]", self.q)
        self.take()
        high = self.bound(high=self.field_type(field) in ("date", "datetime"))
        self.expect("]")
        upper = "" if not high else f"{field} < {high[1:]}" if high.startswith("<") else f"{field} <= {high}"
        conditions = [f"{field} >= {low}" if low else "", upper]
        kept = [c for c in conditions if c]
        return "(" + " and ".join(kept) + ")" if kept else f"{field} is not null"

    def bound(self, *, high: bool = False) -> str | None:
        """A range's end; a high end that is a period (``2022``, ``2022/05``, a day) includes all of it."""
        token = self.peek()
        if token is not None and token.kind == "word" and token.text == "*":
            self.take()
            return None
        value = self.value()
        following_period = _next_period(token.text) if token is not None and token.kind != "func" else None
        if high and following_period is not None:
            return f"<{odsql_string(following_period)}"
        return value

    def value(self) -> str:
        token = self.take()
        if token.kind == "func" and token.text.lower() == "#now":
            return odsql_string(self.now_value().isoformat())
        if token.kind in ("string", "word"):
            return odsql_string(token.text)
        raise invalid_q(f"expected a value, found {token.text[:40]!r}", self.q)

    def arguments(self) -> list[tuple[str | None, str]]:
        """``(name=value, value...)`` as (name or None, value text)."""
        self.expect("(")
        found: list[tuple[str | None, str]] = []
        while not (self.peek() is not None and self.peek() == _Token("op", ")")):
            token = self.take()
            if token.kind not in ("word", "string"):
                raise invalid_q(f"unexpected {token.text[:40]!r} among a function's arguments", self.q)
            following = self.peek()
            if token.kind == "word" and following == _Token("op", "="):
                self.take()
                found.append((token.text, self.take().text))
            else:
                found.append((None, token.text))
            if self.peek() == _Token("op", ","):
                self.take()
        self.expect(")")
        return found

    def function(self, name: str) -> str:
        if name == "null":
            args = self.arguments()
            if len(args) != 1 or args[0][0] is not None:
                raise invalid_q("#null takes one field: #null(field)", self.q)
            return f"{odsql_name(args[0][1])} is null"
        if name == "exact":
            args = self.arguments()
            if len(args) != 2 or any(key is not None for key, _ in args):
                raise invalid_q('#exact takes a field and a value: #exact(field, "value")', self.q)
            return f"{odsql_name(args[0][1])} = {odsql_string(args[1][1])}"
        raise invalid_q(f"unknown function #{name[:40]} (known: #null, #exact, #now as a value)", self.q)

    def now_value(self) -> dt.datetime:
        """``#now(...)``: now, moved by the relative arguments, then set by the absolute ones."""
        moved = self.now
        for key, text in self.arguments():
            if key is None or not re.fullmatch(r"-?\d+", text):
                raise invalid_q(f"#now takes name=integer arguments, got {(key or text)[:40]!r}", self.q)
            amount = int(text)
            if key in _NOW_OFFSETS:
                moved = _shifted(moved, key, amount)
            elif key in _NOW_ABSOLUTE:
                try:
                    absolute: dict[str, Any] = {key: amount}
                    moved = moved.replace(**absolute)
                except ValueError as error:
                    raise invalid_q(f"#now({key}={amount}) is no date ({error})", self.q) from None
            else:
                raise invalid_q(f"#now has no argument {key[:40]!r}", self.q)
        return moved


_PERIOD = re.compile(r"^(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?$")


def _next_period(text: str) -> str | None:
    """The start of the period after the one ``text`` names (``2022`` -> ``2023``, ``2022/12`` ->
    ``2023-01``, ``2022/12/31`` -> ``2023-01-01``); None when ``text`` is no such period."""
    m = _PERIOD.match(text)
    if m is None:
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day is not None and month is not None:
            return (dt.date(year, int(month), int(day)) + dt.timedelta(days=1)).isoformat()
        if month is not None:
            following = dt.date(year, int(month), 1) + dt.timedelta(days=31)
            return f"{following.year:04d}-{following.month:02d}"
    except ValueError:
        return None
    return str(year + 1)


def _period_condition(field: str, op: str, start: str, following: str) -> str:
    """A comparison with a whole period (a year, a month, a day) on a date or datetime field."""
    if op in (":", "="):
        return f"({field} >= {start} and {field} < {following})"
    if op == "<=":
        return f"{field} < {following}"
    if op == ">":
        return f"{field} >= {following}"
    if op == "!=":
        return f"not ({field} >= {start} and {field} < {following})"
    return f"{field} {op} {start}"


def _shifted(moment: dt.datetime, unit: str, amount: int) -> dt.datetime:
    if unit in ("years", "months"):
        months = moment.month - 1 + amount * (12 if unit == "years" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        last_day = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                    31, 31, 30, 31, 30, 31][month - 1]  # fmt: skip
        return moment.replace(year=year, month=month, day=min(moment.day, last_day))
    return moment + dt.timedelta(**{unit: amount})


def q_to_odsql(q: str, schema: Mapping[str, str], now: dt.datetime | None = None) -> str | None:
    """The ODSQL condition ``q`` means over ``schema`` (field name -> type); None for an empty ``q``."""
    if len(q) > MAX_Q_LENGTH:
        raise invalid_q(f"it is {len(q)} characters long; the limit is {MAX_Q_LENGTH}", q)
    if not q.strip():
        return None
    return _Translator(q, schema, now or dt.datetime.now(dt.UTC)).translate()


def sort_to_order_by(sorts: Sequence[str]) -> str | None:
    """v1 ``sort``: descending by default, ``-field`` ascending; repeated or comma-separated."""
    items = [s.strip() for text in sorts for s in text.split(",") if s.strip()]
    if not items:
        return None
    return ", ".join(
        f"{odsql_name(s[1:])} asc" if s.startswith("-") else f"{odsql_name(s)} desc" for s in items
    )


def fields_to_select(fields: str | None) -> str | None:
    """v1 ``fields=a,b``: the fields to return, as an ODSQL select."""
    if fields is None or not fields.strip():
        return None
    return ", ".join(odsql_name(name.strip()) for name in fields.split(",") if name.strip())


def prefixed(params: Sequence[tuple[str, str]], kind: str) -> list[tuple[str, str]]:
    """The (facet, value) pairs of the ``<kind>.<facet>=value`` query parameters (refine, exclude)."""
    prefix = f"{kind}."
    return [
        (name[len(prefix) :], value) for name, value in params if name.startswith(prefix) and name != prefix
    ]


def refuse_disjunctive(params: Sequence[tuple[str, str]]) -> None:
    """``disjunctive.<facet>=true`` with two or more ``refine.<facet>``: v1 would or them; here refines are
    and-ed (v2.1's meaning), so rather than a silently smaller answer, a 400. With one refine (what a
    navigation sends at first) the two meanings agree, and the request is served."""
    disjunctive = {name for name, value in prefixed(params, "disjunctive") if value.lower() == "true"}
    counts = Counter(name for name, _ in prefixed(params, "refine") if name in disjunctive)
    several = sorted(name for name, count in counts.items() if count > 1)
    if several:
        raise InvalidInput(
            f"disjunctive.{several[0][:60]}=true with several refine.{several[0][:60]} values is not "
            "supported: refines are and-ed. Send one value per request, or use the Explore API v2.1 "
            f"(where={several[0][:60]} in (...)).",
            error_code="v1_disjunctive_unsupported",
            detail={"disjunctive": several[:10]},
        )


def facet_filters(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """(facet, value) pairs as v2.1 ``refine``/``exclude`` filters; the quotes keep the value as it is
    (the compiler takes what is between them literally)."""
    return [f'{name}:"{value}"' for name, value in pairs]


def facet_filter_map(pairs: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The filters as v1 echoes them in ``parameters``: ``{"city": "Paris"}`` (a list when repeated)."""
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


def _invalid_geofilter(parameter: str, message: str, value: str) -> InvalidInput:
    return InvalidInput(
        f"{parameter} cannot be read: {message}.",
        error_code="v1_invalid_geofilter",
        detail={parameter: value[:200]},
    )


def distance_condition(value: str, geo_field: str | None) -> str:
    """``geofilter.distance=lat,lon,meters`` as ODSQL ``within_distance(field, geom'POINT(lon lat)', Nm)``
    (``geo_field``: the dataset's geo point, else its shape)."""
    parts = [p.strip() for p in value.split(",")]
    numbers = []
    for part in parts:
        try:
            numbers.append(float(part))
        except ValueError:
            numbers = []
            break
    if len(parts) not in (2, 3) or len(numbers) != len(parts):
        raise _invalid_geofilter(
            "geofilter.distance", "write latitude,longitude,distance in meters (48.85,2.34,1000)", value
        )
    lat, lon = numbers[0], numbers[1]
    meters = numbers[2] if len(numbers) == 3 else 0.0
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and meters >= 0):
        raise _invalid_geofilter(
            "geofilter.distance", "latitude -90..90, longitude -180..180, distance 0 or more", value
        )
    if geo_field is None:
        raise InvalidInput(
            "geofilter.distance needs a geo_point_2d or geo_shape field; this dataset has none.",
            error_code="v1_geofilter_unsupported",
            detail={"geofilter.distance": value[:200]},
        )
    return f"within_distance({odsql_name(geo_field)}, geom'POINT({lon!r} {lat!r})', {meters!r}m)"


_POLYGON_POINT = re.compile(r"\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\)")


def polygon_condition(value: str, point_field: str | None, shape_field: str | None) -> str:
    """``geofilter.polygon=(lat1,lon1),(lat2,lon2),(lat3,lon3)``: the records whose geo point lies within
    the polygon (ODSQL ``within``), or, in a dataset of shapes only, whose shape meets it (``intersects``)."""
    points = _POLYGON_POINT.findall(value)
    rest = _POLYGON_POINT.sub("", value).replace(",", "").strip()
    try:
        corners = [(float(lat), float(lon)) for lat, lon in points]
    except ValueError:
        corners = []
    if rest or len(corners) < 3 or len(corners) != len(points):
        example = "(48.88,2.37),(48.87,2.37),(48.88,2.38)"
        raise _invalid_geofilter(
            "geofilter.polygon", f"write three or more (lat,lon) points: {example}", value
        )
    if not all(-90 <= lat <= 90 and -180 <= lon <= 180 for lat, lon in corners):
        raise _invalid_geofilter("geofilter.polygon", "latitudes -90..90, longitudes -180..180", value)
    field = point_field or shape_field
    if field is None:
        raise InvalidInput(
            "geofilter.polygon needs a geo_point_2d or geo_shape field; this dataset has none.",
            error_code="v1_geofilter_unsupported",
            detail={"geofilter.polygon": value[:200]},
        )
    ring = [*corners, corners[0]] if corners[0] != corners[-1] else corners
    wkt = "POLYGON((" + ", ".join(f"{lon!r} {lat!r}" for lat, lon in ring) + "))"
    relation = "within" if point_field is not None else "intersects"
    return f"{relation}({odsql_name(field)}, geom'{wkt}')"
