"""Records with a group_by page up to 20,000 groups (the reference's limit), without one up to 100."""

from __future__ import annotations

import pytest

from datawharf.errors import ODSQLError
from datawharf.odsql import QueryRequest, compile_query

SCHEMA = {"city": "text", "n": "int"}


def window(**request: object) -> tuple[int | None, int]:
    compiled = compile_query(QueryRequest(**request), SCHEMA, source_sql="t")  # type: ignore[arg-type]
    return compiled.limit, compiled.offset


def test_a_group_by_takes_up_to_twenty_thousand() -> None:
    assert window(group_by="city", limit=20_000) == (20_000, 0)
    assert window(group_by="city", limit=1_000, offset=19_000) == (1_000, 19_000)


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (dict(group_by="city", limit=20_001), "invalid_limit"),
        (dict(group_by="city", limit=1_000, offset=19_001), "invalid_offset"),
        (dict(limit=101), "invalid_limit"),
        (dict(select="count(*) as c", limit=101), "invalid_limit"),  # aggregated without group_by: 100
    ],
)
def test_past_the_window_is_refused(request_: dict[str, object], code: str) -> None:
    with pytest.raises(ODSQLError) as caught:
        window(**request_)
    assert caught.value.error_code == code
