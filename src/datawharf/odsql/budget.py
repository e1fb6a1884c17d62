"""The cost budget of one ODSQL request: what the compiler may hand DuckDB, counted before it is written.

DuckDB's planner holds a whole expression tree in memory, outside its memory limit: 10,000
``contains()`` calls take it half a gigabyte and two seconds before a row is read. Text length alone
does not bound that, because ODSQL amplifies: a bare word in ``where`` becomes one full-text match per
text field, so 40 kB of ``"a a a ..."`` on the catalog (13 text fields) was 260,000 calls. The compiler
therefore charges every piece as it generates it, and refuses the request with ``query_too_complex``
(400, naming the largest part and how to shrink it) as soon as the total passes ``MAX_COST``, before any
SQL reaches DuckDB:

    every expression node (a field, a value, an operator, a function call)   1
    every word of a full-text search, for every text field it searches       SEARCH_PAIR_COST
    quoted text                                                              1 per TEXT_CHARS_PER_UNIT
    an include()/exclude() glob other than a name or a prefix (``*a*``)       1 per 10 fields

Repeated words and repeated values are charged every time they appear (``"a a a"`` is three words),
although the SQL shares one parameter among them: DuckDB still plans each match. ``select *`` is not
charged: its columns are the dataset's own, and a column reference costs DuckDB next to nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from datawharf.odsql.errors import Code, fail

MAX_COST = 10_000
SEARCH_PAIR_COST = 4  # contains(strip_accents(lower(field)), strip_accents(lower(word))): 4 operations
TEXT_CHARS_PER_UNIT = 10

_PARTS = {
    "search": ("the full-text search", "search fewer words, or search one field: search(field, 'words')"),
    "expression": (
        "the expressions",
        "use fewer conditions, in (...) values, selected or sorted expressions; refine on a field "
        "or one in (...) list replaces a long or-chain",
    ),
    "text": ("the quoted text", "shorten the quoted strings"),
    "pattern": (
        "the include()/exclude() patterns",
        "name the fields, or use prefixes such as pop*, which cost nothing; a * elsewhere is tried on "
        "every field",
    ),
}


class Budget:
    """What one request has cost so far, by clause and by kind of part; ``charge`` refuses past the limit."""

    def __init__(self, limit: int = MAX_COST) -> None:
        self.limit = limit
        self.spent = 0
        self.parts: Counter[tuple[str, str]] = Counter()
        self.searches: Counter[str] = Counter()  # clause -> words x fields, for the message
        self._paused = False

    def charge(self, units: int, kind: str, clause: str) -> None:
        if self._paused or units <= 0:
            return
        self.spent += units
        self.parts[(clause, kind)] += units
        if self.spent > self.limit:
            self._refuse()

    def search(self, words: int, fields: int, clause: str) -> None:
        """A full-text search of ``words`` words over ``fields`` text fields, charged before it is built."""
        if not self._paused:
            self.searches[clause] += words * fields
        self.charge(words * fields * SEARCH_PAIR_COST, "search", clause)

    def text(self, chars: int, clause: str) -> None:
        self.charge(chars // TEXT_CHARS_PER_UNIT, "text", clause)

    @contextmanager
    def free(self) -> Iterator[None]:
        """Generate without charging (the columns ``select *`` expands to)."""
        paused, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = paused

    def _refuse(self) -> NoReturn:
        (clause, kind), units = self.parts.most_common(1)[0]
        what, hint = _PARTS[kind]
        if kind == "search":
            what += f" ({self.searches[clause]:,} word × text field matches)"
        fail(
            Code.TOO_COMPLEX,
            f"ODSQL query too complex: it costs more than {self.limit:,}, the most one query may cost; "
            f"the largest part is {what} in {clause}, costing {units:,}. To reduce it, {hint}",
            clause=clause,
            cost=self.spent,
            limit=self.limit,
            part=kind,
        )
