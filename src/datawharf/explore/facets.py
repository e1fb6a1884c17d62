"""Facets: the values of a dataset's fields (``catalog/datasets/{id}/facets``) or of the catalog's
metadata (``catalog/facets``) with how many records (datasets) hold each, for guided navigation.

A dataset's facets are the fields its metadata lists in ``asset_content_configuration.facets`` (the
reference's place: ``[{"field_name", "facetsort", "disjunctive"}]``; the dataset's fields then show
the ``facet``, ``facetsort`` and ``disjunctive`` annotations), or those the request names
(``facet=city``, configured as the metadata says, or ``facet=facet(name="city", sort="-count",
limit=5, disjunctive=true)``).
Each one is an ODSQL group-by compiled by the same compiler as records (so ``where``, ``refine``,
``exclude`` and ``timezone`` mean the same, and the cost budget applies), run on the query pool.

Dates and datetimes are hierarchical, as on an Opendatasoft portal: years (``2024``); a year refined
(``refine=founded:2024``) shows its months nested under it (``2024/05``), a month its days. A value
refined is ``"state": "refined"``; a value excluded is listed ``"state": "excluded"`` without a count;
the others are ``"displayed"``. A ``disjunctive`` facet counts its values without its own refines, so
every value stays selectable. Nulls are no facet value.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from datawharf.datasets.catalog import PublishedDataset
from datawharf.errors import InvalidInput
from datawharf.explore import catalog
from datawharf.explore.records import compile_for
from datawharf.odsql import QueryRequest
from datawharf.store.query_engine import QueryEngine

DEFAULT_LIMIT = 100  # values a facet lists unless its `limit` says otherwise
MAX_LIMIT = 1000
MAX_FACETS = 20  # facets one request may ask for
FACET_TYPES = ("text", "int", "double", "date", "datetime")
DATE_TYPES = ("date", "datetime")
SORTS = ("count", "-count", "alphanum", "-alphanum", "num", "-num")
DATE_LEVELS = ("yyyy", "yyyy/MM", "yyyy/MM/dd")  # ODSQL date_format patterns, one per depth

_CALL = re.compile(r"^\s*facet\s*\((?P<args>.*)\)\s*$", re.DOTALL)
_ARG = re.compile(
    r"\s*(?P<key>[a-z_]+)\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_.+-]+))\s*(?:,|$)"
)


def _bad_facet(message: str, facet: str) -> InvalidInput:
    return InvalidInput(
        f'{message}. Write facet=<field> or facet=facet(name="<field>", sort="-count", limit=10).',
        error_code="invalid_facet",
        detail={"facet": facet[:100]},
    )


@dataclass(frozen=True)
class FacetSpec:
    """One facet asked for: its field, how its values sort, how many to list, whether it is disjunctive."""

    name: str
    sort: str | None = None  # None: the field's `facetsort` annotation, else the type's default
    limit: int = DEFAULT_LIMIT
    disjunctive: bool = False


def _boolean(value: str, facet: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise _bad_facet(f"disjunctive must be true or false, got {value[:20]!r}", facet)
    return value.lower() == "true"


def parse_facet(text: str) -> FacetSpec:
    """``city`` or ``facet(name="city", sort="-count", limit=5, disjunctive=true)``."""
    call = _CALL.match(text)
    if call is None:
        name = text.strip().strip("`")
        if not name:
            raise _bad_facet("facet must name a field", text)
        return FacetSpec(name)
    args: dict[str, str] = {}
    rest = call.group("args").strip()
    while rest:
        m = _ARG.match(rest)
        if m is None:
            raise _bad_facet(f"cannot read the arguments of {text[:100]!r}", text)
        args[m.group("key")] = next(
            v for v in (m.group("dq"), m.group("sq"), m.group("bare")) if v is not None
        )
        rest = rest[m.end() :].strip()
    unknown = set(args) - {"name", "sort", "limit", "disjunctive"}
    if "hierarchical" in unknown or "separator" in unknown:
        raise _bad_facet("hierarchical text facets (hierarchical, separator) are not supported here", text)
    if unknown:
        raise _bad_facet(f"unknown facet() argument(s) {', '.join(sorted(unknown))}", text)
    if not args.get("name"):
        raise _bad_facet('facet() needs name="<field>"', text)
    sort = args.get("sort")
    if sort is not None and sort not in SORTS:
        raise _bad_facet(f"sort must be one of {', '.join(SORTS)}, got {sort[:20]!r}", text)
    limit = DEFAULT_LIMIT
    if "limit" in args:
        if not args["limit"].isdigit() or not 1 <= int(args["limit"]) <= MAX_LIMIT:
            raise _bad_facet(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {args['limit'][:20]!r}", text
            )
        limit = int(args["limit"])
    return FacetSpec(args["name"], sort, limit, _boolean(args.get("disjunctive", "false"), text))


def parse_facets(texts: Sequence[str]) -> list[FacetSpec]:
    if len(texts) > MAX_FACETS:
        raise _bad_facet(f"at most {MAX_FACETS} facets per request, got {len(texts)}", ",".join(texts)[:100])
    return [parse_facet(t) for t in texts]


def _pairs(filters: Iterable[str]) -> list[tuple[str, str]]:
    """``field:value`` filters as (field, value), quotes around the value removed (as the compiler does)."""
    return [catalog.facet_pair(text) for text in filters if ":" in text]


def _values_of(pairs: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in pairs if n == name]


# -- shaping: counts -> the reference's facet_enumeration --------------------------------------------------
def _sort_key(sort: str, numeric: bool) -> Any:
    def key(item: tuple[str, int]) -> Any:
        value, count = item
        ordered: Any = float(value) if numeric else value
        return {
            "count": (count, value),
            "-count": (-count, value),
        }.get(sort, ordered)

    return key


def _sorted(counts: Mapping[str, int], sort: str, numeric: bool) -> list[tuple[str, int]]:
    items = list(counts.items())
    reverse = sort in ("-alphanum", "-num")
    if reverse:
        return sorted(items, key=_sort_key(sort, numeric), reverse=True)
    return sorted(items, key=_sort_key(sort, numeric))


def _entries(
    counts: Mapping[str, int],
    spec: FacetSpec,
    sort: str,
    *,
    numeric: bool,
    refined: Sequence[str],
    excluded: Sequence[str],
    children: Mapping[str, list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for value, count in _sorted(counts, sort, numeric)[: spec.limit]:
        entry: dict[str, Any] = {
            "name": value,
            "value": value,
            "count": count,
            "state": "refined" if value in refined else "displayed",
        }
        if children and value in children:
            entry["facets"] = children[value]
        entries.append(entry)
    listed = {e["value"] for e in entries}
    entries += [
        {"name": v, "value": v, "state": "excluded"} for v in dict.fromkeys(excluded) if v not in listed
    ]
    return entries


def _date_tree(
    counts: Mapping[str, int], spec: FacetSpec, sort: str, refined: Sequence[str], excluded: Sequence[str]
) -> list[dict[str, Any]]:
    """Counts of the deepest level (``2024/05/17``) nested under their months and years."""
    depth = max((value.count("/") for value in counts), default=0)

    def level(prefix_counts: Mapping[str, int], at: int) -> list[dict[str, Any]]:
        children: dict[str, list[dict[str, Any]]] = {}
        if at < depth:
            below: dict[str, Counter[str]] = defaultdict(Counter)
            for value, count in counts.items():
                parts = value.split("/")
                below["/".join(parts[: at + 1])]["/".join(parts[: at + 2])] += count
            children = {parent: level(c, at + 1) for parent, c in below.items()}
        return _entries(
            prefix_counts, spec, sort, numeric=False, refined=refined, excluded=excluded, children=children
        )

    top: Counter[str] = Counter()
    for value, count in counts.items():
        top[value.split("/")[0]] += count
    return level(top, 0)


def enumerate_counts(
    counts: Mapping[str, int],
    spec: FacetSpec,
    ftype: str,
    sort: str | None,
    pairs_refine: Sequence[tuple[str, str]],
    pairs_exclude: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """One facet_enumeration: ``{"name": field, "facets": [{name, value, count, state}...]}``."""
    refined = _values_of(pairs_refine, spec.name)
    excluded = _values_of(pairs_exclude, spec.name)
    if ftype in DATE_TYPES:
        values = _date_tree(counts, spec, sort or "alphanum", refined, excluded)
    else:
        default = "-count"
        values = _entries(
            counts,
            spec,
            sort or default,
            numeric=ftype in ("int", "double"),
            refined=refined,
            excluded=excluded,
        )
    return {"name": spec.name, "facets": values}


def _date_depth(refines: Sequence[tuple[str, str]], name: str) -> int:
    """How deep a date facet is listed: one level below its deepest refine (years when none)."""
    refined = _values_of(refines, name)
    return min(max((v.strip().count("/") + 1 for v in refined), default=0), len(DATE_LEVELS) - 1)


# -- a dataset's facets -----------------------------------------------------------------------------------
def configured_facets(dataset: PublishedDataset) -> list[FacetSpec]:
    """The facets the dataset's metadata configures (what a request without ``facet`` lists)."""
    return [
        FacetSpec(name, entry.get("facetsort") if entry.get("facetsort") in SORTS else None,
                  disjunctive=bool(entry.get("disjunctive")))
        for name, entry in catalog.facet_settings(dataset).items()
    ]  # fmt: skip


def _text(value: Any) -> str:
    return str(value)


def dataset_facets(
    engine: QueryEngine, dataset: PublishedDataset, request: QueryRequest, facets: Sequence[str]
) -> dict[str, Any]:
    """``{"links": [], "facets": [facet_enumeration...]}`` over the records matching the request."""
    specs = parse_facets(facets) if facets else configured_facets(dataset)
    configured = {spec.name: spec for spec in configured_facets(dataset)}
    fields = {f.name: f for f in dataset.fields}
    refines, excludes = _pairs(request.refine), _pairs(request.exclude)
    enumerations = []
    for asked in specs:
        spec = configured.get(asked.name, asked) if asked == FacetSpec(asked.name) else asked
        field = fields.get(spec.name)
        if field is None:
            raise _bad_facet(
                f"this dataset has no field {spec.name[:60]!r}; facets are its fields' names", spec.name
            )
        if field.type not in FACET_TYPES:
            raise _bad_facet(f"a {field.type} field ({spec.name[:60]}) cannot be a facet", spec.name)
        column = f"`{spec.name}`"  # a field of the dataset: its names hold no backtick
        sort = spec.sort or (configured[spec.name].sort if spec.name in configured else None)
        order_by: str | None = None
        limit: int | None = None
        if field.type in DATE_TYPES:  # one level deeper than the deepest refine; bounded by the calendar
            value_expr = f"date_format({column}, '{DATE_LEVELS[_date_depth(refines, spec.name)]}')"
        else:  # the first `limit` values in the facet's order, so a field of a million values stays cheap
            value_expr = column
            order_by = {
                "count": "facet_count asc, facet_value asc",
                "-count": "facet_count desc, facet_value asc",
                None: "facet_count desc, facet_value asc",
            }.get(sort, "facet_value desc" if sort and sort.startswith("-") else "facet_value asc")
            limit = spec.limit + 1  # one more than shown: the null group, if any, takes no place
        own = request.refine
        if spec.disjunctive:
            own = [r for r in request.refine if r.partition(":")[0].strip().strip("`") != spec.name]
        query = replace(
            request,
            select=f"{value_expr} as facet_value, count(*) as facet_count",
            group_by=value_expr,
            order_by=order_by,
            limit=limit,
            offset=0,
            refine=own,
        )
        compiled = compile_for(dataset, query, "exports")
        _names, rows = engine.fetch(compiled.sql, compiled.params)
        counts = {_text(value): int(count) for value, count in rows if value is not None}
        enumerations.append(enumerate_counts(counts, spec, field.type, sort, refines, excludes))
    return {"links": [], "facets": enumerations}


# -- the catalog's facets ---------------------------------------------------------------------------------
CATALOG_FACETS = ("features", "modified", "publisher", "keyword", "theme", "language", "license")
DEFAULT_CATALOG_FACETS = ("features", "modified", "publisher", "keyword", "theme", "language")


def catalog_facets(
    engine: QueryEngine, datasets: Sequence[PublishedDataset], request: QueryRequest, facets: Sequence[str]
) -> dict[str, Any]:
    """The catalog's facets over the datasets matching the request (the same filters as the catalog).

    The datasets are few (one metadata row each): their values are counted here, which keeps a
    multivalued ``keyword`` one facet value a keyword."""
    specs = parse_facets(facets) if facets else [FacetSpec(name) for name in DEFAULT_CATALOG_FACETS]
    for spec in specs:
        if spec.name not in CATALOG_FACETS:
            raise _bad_facet(
                f"{spec.name[:60]!r} is no catalog facet; use one of {', '.join(CATALOG_FACETS)}", spec.name
            )
    _total, found = catalog.matching(engine, datasets, request, mode="exports")
    refines, excludes = _pairs(request.refine), _pairs(request.exclude)
    zone = ZoneInfo(request.timezone)
    enumerations = []
    for spec in specs:
        counts: Counter[str] = Counter()
        for dataset in found:
            if spec.name == "modified":
                modified = catalog.modified(dataset)
                if modified is not None:
                    day = modified.astimezone(zone).strftime("%Y/%m/%d")
                    counts["/".join(day.split("/")[: _date_depth(refines, spec.name) + 1])] += 1
            else:
                counts.update(dict.fromkeys(catalog.values_of(dataset, spec.name), 1))
        ftype = "date" if spec.name == "modified" else "text"
        enumerations.append(enumerate_counts(counts, spec, ftype, spec.sort, refines, excludes))
    return {"links": [], "facets": enumerations}
