"""Seeded generator of a realistic open-data file: a French public-facilities register.

The file has what makes real open data hard to import fast *and* right: accented quoted text with commas,
doubled quotes and the odd quoted newline, postal codes with leading zeros ("01000") that a naive reader
turns into integers, ISO dates and ISO datetimes with a UTC offset, "lat,lon" points, empty cells and a
long free-text column.

Rows are built column by column with numpy and Arrow compute (no Python loop per row), chunk by chunk, so
1 GiB takes seconds. Each chunk draws from its own generator seeded by ``(seed, chunk index)``: the output
is a pure function of (seed, size, GENERATOR_VERSION), which is also the cache key. A smaller file is a
prefix of a bigger one with the same seed.

    python -m bench.generate --data-dir /tmp/datawharf-bench
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

GENERATOR_VERSION = 2
DEFAULT_SEED = 20240806
DEFAULT_DATA_DIR = Path("/tmp/datawharf-bench")
BUCKET = "bench"
MiB = 1024 * 1024
CHUNK_ROWS = 65_536

#: Named plain-CSV sizes of the benchmark.
SIZES: dict[str, int] = {"16MiB": 16 * MiB, "256MiB": 256 * MiB, "1GiB": 1024 * MiB}
#: The size that also gets gzip, JSON Lines and Parquet versions.
DERIVED_SIZE = "256MiB"

COLUMNS = [
    "id",
    "nom",
    "categorie",
    "statut",
    "adresse",
    "code_postal",
    "commune",
    "surface_m2",
    "capacite",
    "tarif_eur",
    "date_ouverture",
    "derniere_maj",
    "geo_point",
    "accessible_pmr",
    "description",
]

_CATEGORIES = [
    "Bibliothèque",
    "Piscine",
    "Gymnase",
    "Musée",
    "Théâtre",
    "École élémentaire",
    "Crèche",
    "Mairie annexe",
    "Stade",
    "Médiathèque",
    "Conservatoire",
    "Centre social",
]
_NAMES = [
    "Émile-Zola",
    "Jean-Jaurès",
    "Louise-Michel",
    "Simone-Veil",
    "Pierre-et-Marie-Curie",
    "Aimé-Césaire",
    "Jules-Ferry",
    "Françoise-Dolto",
    "des Mûriers",
    "de l'Étang",
    "du Château",
    "Gisèle-Halimi",
    "Léo-Lagrange",
    "Anatole-France",
    "Hélène-Boucher",
    "Joséphine-Baker",
]
_SUFFIXES = ["", "", "", "", ", annexe", ", site principal", " (bâtiment B)", ' dit "La Halle"']
_STATUSES = ["ouvert", "fermé", "en travaux", "en projet"]
_STREET_TYPES = ["rue", "avenue", "boulevard", "place", "chemin", "allée", "impasse", "quai"]
_COMMUNES = [
    "Bourg-en-Bresse",
    "Saint-Étienne",
    "Besançon",
    "Orléans",
    "Nîmes",
    "Angoulême",
    "Châlons-en-Champagne",
    "Évry-Courcouronnes",
    "Béziers",
    "Aix-en-Provence",
    "Créteil",
    "Saint-Denis",
    "Montbéliard",
    "Pontoise",
    "Alençon",
    "Épinal",
    "Mâcon",
    "Périgueux",
    "Laval",
    "Gap",
]
_SENTENCES = [
    "Équipement municipal ouvert au public du lundi au samedi.",
    "Accès par l'entrée principale, côté parking, ou par la cour intérieure.",
    "Les horaires d'été s'appliquent du 1er juillet au 31 août.",
    "Réservation conseillée pour les groupes, scolaires et associations.",
    "Le bâtiment, rénové en 2019, accueille aussi des expositions temporaires.",
    "Un espace « petite enfance » est aménagé au rez-de-chaussée.",
    "Stationnement vélo sécurisé devant l'entrée ; bornes de recharge à proximité.",
    "Fermeture exceptionnelle les jours fériés, sauf le 14 juillet.",
    "Les animaux ne sont pas admis, à l'exception des chiens d'assistance.",
    'Programme détaillé sur le site de la ville, rubrique "Sortir".',
    "Tarif réduit pour les étudiants, demandeurs d'emploi et plus de 65 ans.",
    "Wi-Fi gratuit, prises électriques et salle de travail en accès libre.",
    "Travaux d'accessibilité prévus : ascenseur, rampe et boucle magnétique.",
    "Gestion déléguée à une association loi 1901 depuis 2015.",
    "Capacité réduite pendant les travaux de mise aux normes.",
    "Contact : accueil, secrétariat ou formulaire en ligne.",
]
_DESCRIPTION_POOL = 4096
_PARIS = "Europe/Paris"


@dataclass(frozen=True)
class DataFile:
    """One generated object: its key in the bench bucket and what it holds."""

    name: str
    key: str
    path: Path
    format: str
    bytes: int
    rows: int
    seed: int
    target_bytes: int
    #: The bytes a reader parses: the CSV's size for its gzip, ``bytes`` for the others.
    content_bytes: int


class _Pools:
    """The seeded vocabularies every chunk draws from (built once: a few thousand strings)."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 1 << 30])
        self.noms = pa.array(
            [f"{c} {n}{s}" for c in _CATEGORIES for n in _NAMES for s in _SUFFIXES], pa.string()
        )
        self.categories = pa.array(_CATEGORIES)
        self.statuses = pa.array(_STATUSES)
        self.street_types = pa.array(_STREET_TYPES)
        self.street_names = pa.array(_NAMES)
        self.communes = pa.array(_COMMUNES)
        self.pmr = pa.array(["oui", "non"])
        one_line, multi_line = [], []
        for _ in range(_DESCRIPTION_POOL):
            count = int(rng.integers(2, 9))
            picks = [_SENTENCES[i] for i in rng.integers(0, len(_SENTENCES), count)]
            one_line.append(" ".join(picks))
            multi_line.append(" ".join(picks[:1]) + "\n" + " ".join(picks[1:]))
        self.descriptions = pa.array(one_line)
        self.multiline_descriptions = pa.array(multi_line)


def _masked(rng: np.random.Generator, values: np.ndarray, null_ratio: float, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type_, mask=rng.random(len(values)) < null_ratio)


def _null_out(rng: np.random.Generator, array: pa.Array, null_ratio: float) -> pa.Array:
    mask = pa.array(rng.random(len(array)) < null_ratio)
    return pc.if_else(mask, pa.scalar(None, array.type), array)


def _chunk(pools: _Pools, seed: int, index: int) -> pa.Table:
    """Build chunk ``index`` as a typed table: the truth every format is written from."""
    rng = np.random.default_rng([seed, index])
    n = CHUNK_ROWS
    ids = np.arange(index * n + 1, (index + 1) * n + 1, dtype=np.int64)

    def pick(pool: pa.Array) -> pa.Array:
        return pool.take(pa.array(rng.integers(0, len(pool), n)))

    street_numbers = pc.cast(pa.array(rng.integers(1, 250, n)), pa.string())
    adresse = pc.binary_join_element_wise(
        street_numbers, pick(pools.street_types), pick(pools.street_names), " "
    )
    departments = rng.integers(1, 96, n)
    postal = pc.utf8_lpad(
        pc.cast(pa.array(departments * 1000 + rng.integers(0, 100, n) * 10), pa.string()), 5, "0"
    )
    surface = np.round(rng.gamma(2.0, 400.0, n), 1)
    capacity = rng.integers(10, 2000, n)
    tarif = np.round(rng.uniform(0, 25, n), 2)
    opened = rng.integers(-7305, 20088, n).astype("int32")  # 1950-01-01 .. 2024-12-31
    updated = rng.integers(1_420_070_400, 1_735_689_600, n)  # 2015 .. 2024, seconds since epoch
    lat = np.round(rng.uniform(42.3, 51.0, n), 5)
    lon = np.round(rng.uniform(-4.7, 8.2, n), 5)
    geo = pc.binary_join_element_wise(
        pc.cast(pa.array(lat), pa.string()), pc.cast(pa.array(lon), pa.string()), ","
    )
    multiline = pa.array(rng.random(n) < 0.005)
    description = pc.if_else(multiline, pick(pools.multiline_descriptions), pick(pools.descriptions))
    return pa.table(
        {
            "id": pa.array(ids),
            "nom": pick(pools.noms),
            "categorie": pick(pools.categories),
            "statut": _null_out(rng, pick(pools.statuses), 0.02),
            "adresse": _null_out(rng, adresse, 0.04),
            "code_postal": postal,
            "commune": pick(pools.communes),
            "surface_m2": _masked(rng, surface, 0.05, pa.float64()),
            "capacite": _masked(rng, capacity, 0.1, pa.int64()),
            "tarif_eur": _masked(rng, tarif, 0.2, pa.float64()),
            "date_ouverture": _masked(rng, opened, 0.05, pa.date32()),
            "derniere_maj": _masked(rng, updated, 0.01, pa.timestamp("s", tz=_PARIS)),
            "geo_point": _null_out(rng, geo, 0.02),
            "accessible_pmr": _null_out(rng, pick(pools.pmr), 0.15),
            "description": _null_out(rng, description, 0.03),
        }
    )


def _as_text(column: pa.Array) -> pa.Array:
    """A column's CSV/JSON text, before quoting; datetimes keep their local UTC offset as ISO 8601 says."""
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, "%Y-%m-%dT%H:%M:%S%Ez")
    return pc.cast(column, pa.string())


def _csv_cell(column: pa.Array) -> pa.Array:
    text = _as_text(column)
    if pa.types.is_string(column.type):
        needs_quotes = pc.match_substring_regex(text, '[",\r\n]')
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(needs_quotes, quoted, text)
    return pc.fill_null(text, "")


def _json_value(column: pa.Array) -> pa.Array:
    text = _as_text(column)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
            text = pc.replace_substring(text, raw, escaped)
        text = pc.binary_join_element_wise('"', text, '"', "")
    return pc.fill_null(text, "null")


def _lines_bytes(lines: pa.Array) -> memoryview:
    """The bytes of a string array with no nulls: its data buffer between its first and last offset."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


def csv_lines(table: pa.Table) -> pa.Array:
    """One CSV record per row, each ending in a newline."""
    cells = [_csv_cell(table.column(name).combine_chunks()) for name in table.column_names]
    return pc.binary_join_element_wise(pc.binary_join_element_wise(*cells, ","), "", "\n")


def jsonl_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row, each ending in a newline."""
    members = [
        pc.binary_join_element_wise(f'"{name}":', _json_value(table.column(name).combine_chunks()), "")
        for name in table.column_names
    ]
    return pc.binary_join_element_wise("{", pc.binary_join_element_wise(*members, ","), "}\n", "")


def _header() -> bytes:
    return (",".join(COLUMNS) + "\n").encode()


def iter_chunks(seed: int, target_bytes: int) -> Iterator[tuple[pa.Table, pa.Array]]:
    """Typed chunks whose CSV rendering (header included) is ``target_bytes`` long, to within one record."""
    pools = _Pools(seed)
    written = len(_header())
    index = 0
    while written < target_bytes:
        table = _chunk(pools, seed, index)
        lines = csv_lines(table)
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[: len(lines) + 1]
        remaining = target_bytes - written
        if offsets[-1] - offsets[0] > remaining:
            keep = int(np.searchsorted(offsets - offsets[0], remaining, side="left"))
            table = table.slice(0, max(keep, 1))
            lines = lines.slice(0, max(keep, 1))
        yield table, lines
        written += len(_lines_bytes(lines))
        index += 1


def _write(
    seed: int, target_bytes: int, csv_path: Path, jsonl_path: Path | None, parquet_path: Path | None
) -> int:
    """Write the CSV (and the same rows as JSON Lines and Parquet if asked); return the row count."""
    rows = 0
    jsonl = jsonl_path.open("wb") if jsonl_path else None
    parquet: pq.ParquetWriter | None = None
    try:
        with csv_path.open("wb") as out:
            out.write(_header())
            for table, lines in iter_chunks(seed, target_bytes):
                out.write(_lines_bytes(lines))
                rows += table.num_rows
                if jsonl:
                    jsonl.write(_lines_bytes(jsonl_lines(table)))
                if parquet_path:
                    if parquet is None:
                        parquet = pq.ParquetWriter(parquet_path, table.schema)
                    parquet.write_table(table)
    finally:
        if jsonl:
            jsonl.close()
        if parquet:
            parquet.close()
    return rows


def _gzip(source: Path, target: Path) -> None:
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, 4 * MiB)


def _bucket_dir(data_dir: Path) -> Path:
    return data_dir / BUCKET


def _manifest_path(data_dir: Path) -> Path:
    # Beside the bucket folder, not in it: localbucket serves only folders as buckets.
    return data_dir / "manifest.json"


def _load_manifest(data_dir: Path) -> dict[str, dict]:
    path = _manifest_path(data_dir)
    return json.loads(path.read_text()) if path.is_file() else {}


def _cached(entry: dict | None, seed: int, target: int) -> bool:
    return (
        entry is not None
        and entry["seed"] == seed
        and entry["target_bytes"] == target
        and entry.get("version") == GENERATOR_VERSION
        and Path(entry["path"]).is_file()
        and Path(entry["path"]).stat().st_size == entry["bytes"]
    )


def ensure_data(
    data_dir: Path = DEFAULT_DATA_DIR,
    seed: int = DEFAULT_SEED,
    sizes: dict[str, int] | None = None,
    derived: str | None = DERIVED_SIZE,
    log: bool = False,
) -> dict[str, DataFile]:
    """Generate what is missing (or stale) and return every data file by name.

    Names: ``csv-<size>`` for each size, and for ``derived``: ``csvgz-<size>``, ``jsonl-<size>``,
    ``parquet-<size>`` (the same rows as ``csv-<size>``).
    """
    sizes = SIZES if sizes is None else sizes
    bucket = _bucket_dir(data_dir)
    bucket.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(data_dir)
    for size_name, target in sizes.items():
        names = {"csv": f"csv-{size_name}"}
        if size_name == derived:
            names |= {
                "csvgz": f"csvgz-{size_name}",
                "jsonl": f"jsonl-{size_name}",
                "parquet": f"parquet-{size_name}",
            }
        if all(_cached(manifest.get(name), seed, target) for name in names.values()):
            continue
        started = time.perf_counter()
        paths = {
            "csv": bucket / f"facilities-{size_name}.csv",
            "csvgz": bucket / f"facilities-{size_name}.csv.gz",
            "jsonl": bucket / f"facilities-{size_name}.jsonl",
            "parquet": bucket / f"facilities-{size_name}.parquet",
        }
        rows = _write(
            seed,
            target,
            paths["csv"],
            paths["jsonl"] if "jsonl" in names else None,
            paths["parquet"] if "parquet" in names else None,
        )
        if "csvgz" in names:
            _gzip(paths["csv"], paths["csvgz"])
        for fmt, name in names.items():
            path = paths[fmt]
            size = path.stat().st_size
            content = paths["csv"].stat().st_size if fmt == "csvgz" else size
            manifest[name] = asdict(
                DataFile(name, path.name, path, fmt, size, rows, seed, target, content)
            ) | {
                "path": str(path),
                "version": GENERATOR_VERSION,
            }
        _manifest_path(data_dir).write_text(json.dumps(manifest, indent=2))
        if log:
            print(f"generated {', '.join(names.values())} in {time.perf_counter() - started:.1f} s")
    return {
        name: DataFile(**{k: v for k, v in entry.items() if k != "version"} | {"path": Path(entry["path"])})
        for name, entry in manifest.items()
        if entry["seed"] == seed and entry.get("version") == GENERATOR_VERSION
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sizes", nargs="*", choices=list(SIZES), default=list(SIZES))
    args = parser.parse_args(argv)
    files = ensure_data(args.data_dir, args.seed, {s: SIZES[s] for s in args.sizes}, log=True)
    for data_file in files.values():
        print(
            f"{data_file.name:20} {data_file.bytes / MiB:9.1f} MiB {data_file.rows:>10} rows {data_file.path}"
        )


if __name__ == "__main__":
    main()
