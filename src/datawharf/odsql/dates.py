"""Dates in ODSQL: literals, facet values and Java date patterns, turned into Python values and
DuckDB ``strftime`` formats.

Hand-written because no maintained library translates Java (``SimpleDateFormat`` /
``DateTimeFormatter``) patterns to C ``strftime``; the table below is the whole translation.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta, weekday

from datawharf.odsql.errors import Code, fail

# Java letter run -> strftime directive (DuckDB dialect: %-d is "day without padding", %g milliseconds).
_JAVA_TO_STRFTIME: dict[str, str] = {
    "yyyy": "%Y", "yyy": "%Y", "yy": "%y", "y": "%Y", "uuuu": "%Y", "uu": "%y",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m",
    "LLLL": "%B", "LLL": "%b", "LL": "%m", "L": "%-m",
    "dd": "%d", "d": "%-d", "DDD": "%j", "D": "%-j",
    "EEEE": "%A", "EEE": "%a", "EE": "%a", "E": "%a",
    "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I",
    "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S",
    "SSSSSS": "%f", "SSS": "%g", "a": "%p",
    "ww": "%V", "w": "%V",
}  # fmt: skip
# No zone letters (Z, X, z): datetimes are formatted as wall-clock times in the request's timezone,
# which DuckDB's strftime cannot label with an offset; refusing beats printing a wrong "+00".
_PATTERN_RE = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)
MAX_PATTERN_LENGTH = 200


def java_to_strftime(pattern: str, *, position: int | None = None) -> str:
    """``yyyy-MM-dd'T'HH:mm`` -> ``%Y-%m-%dT%H:%M``; unknown letters are refused, as Java refuses them."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        fail(
            Code.INVALID_DATE_FORMAT,
            f"date_format pattern must have 1 to {MAX_PATTERN_LENGTH} characters, e.g. 'yyyy-MM-dd'",
            position=position,
        )
    out: list[str] = []
    for m in _PATTERN_RE.finditer(pattern):
        piece = m.group()
        if piece == "'":
            fail(Code.INVALID_DATE_FORMAT, "date_format pattern has an unclosed quote", position=position)
        elif piece.startswith("'"):
            literal = "'" if piece == "''" else piece[1:-1].replace("''", "'")
            out.append(literal.replace("%", "%%"))
        elif m.group(1):
            directive = _JAVA_TO_STRFTIME.get(piece)
            if directive is None:
                fail(
                    Code.INVALID_DATE_FORMAT,
                    f'date_format pattern letter run "{piece}" is not supported; use y, M, d, H, h, m, s, '
                    "S, E, a, D, w or quote literal text as 'text'",
                    position=position,
                    token=piece,
                )
            out.append(directive)
        else:
            out.append(piece.replace("%", "%%"))
    return "".join(out)


_PARTIAL_RE = re.compile(r"^(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?$")


def parse_date_literal(text: str, *, position: int | None = None) -> dt.date | dt.datetime:
    """``2024``, ``2024-05``, ``2024/05/17``, ``2024-05-17T10:00:00+02:00``: a date, or a datetime
    (naive when no offset is written: the query's timezone then applies)."""
    stripped = text.strip()
    try:
        m = _PARTIAL_RE.match(stripped)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
        if len(stripped) <= 40:
            return dt.datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    fail(
        Code.INVALID_DATE,
        f"\"{text[:40]}\" is not a date; write date'2024-05-17' or date'2024-05-17T10:00:00Z'",
        position=position,
        token=text[:40],
    )


def is_partial_date(text: str) -> bool:
    """``2024``, ``2024/05``, ``2024-05-17``: a year, a month or a day, as facets and refine write them."""
    return _PARTIAL_RE.match(text.strip()) is not None


def facet_range(text: str, *, position: int | None = None) -> tuple[dt.date, dt.date]:
    """A date facet value (``2024``, ``2024/05``, ``2024/05/17``) as a half-open [start, end) range."""
    m = _PARTIAL_RE.match(text.strip())
    if not m:
        fail(
            Code.INVALID_REFINE,
            f'"{text[:40]}" is not a date facet value; write 2024, 2024/05 or 2024/05/17',
            position=position,
            token=text[:40],
        )
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day is not None:
            start = dt.date(year, int(month or 1), int(day))
            return start, start + dt.timedelta(days=1)
        if month is not None:
            start = dt.date(year, int(month), 1)
            return start, (start + dt.timedelta(days=32)).replace(day=1)
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    except (ValueError, OverflowError):
        fail(Code.INVALID_REFINE, f'"{text[:40]}" is not a valid date', position=position, token=text[:40])


def to_instant(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A date (midnight) or naive datetime read in the query's timezone; an aware datetime as is."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


# now()'s named arguments (the reference's): a singular name sets that part, a plural one shifts it,
# as dateutil's relativedelta does (which clamps day=31 in February to the 28th, as documented).
_NOW_SET = {"year": (1, 9999), "month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59),
            "second": (0, 59), "microsecond": (0, 999_999), "weekday": (0, 6)}  # fmt: skip
_NOW_SHIFT = ("years", "months", "weeks", "days", "hours", "minutes", "seconds", "microseconds")
_WEEKDAYS = ("mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays")


def now_with(moment: dt.datetime, changes: dict[str, int]) -> dt.datetime | str:
    """``moment`` set and shifted by now()'s arguments; a sentence saying what is wrong otherwise."""
    kwargs: dict[str, int | weekday] = {}
    for name, value in changes.items():
        if name in _NOW_SET:
            low, high = _NOW_SET[name]
            if not low <= value <= high:
                return f"{name} must be between {low} and {high}, got {value}"
            kwargs[name] = value
        elif name in _NOW_SHIFT:
            kwargs[name] = value
        elif name in _WEEKDAYS:
            if value != 0:  # the n-th such weekday from today, forwards or backwards
                kwargs["weekday"] = weekday(_WEEKDAYS.index(name), value)
        else:
            known = ", ".join([*_NOW_SET, *_NOW_SHIFT, *_WEEKDAYS])
            return f'unknown argument "{name[:40]}"; now() takes {known}'
    try:
        return moment + relativedelta(**kwargs)
    except (ValueError, OverflowError):
        return "the date it gives is out of range (years 1 to 9999)"
