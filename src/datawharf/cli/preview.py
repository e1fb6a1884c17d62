"""``datawharf preview [--connection co_...] URL [--type csvfile] [--param name=value ...]``.

The first 20 records of an object as the API's unsaved preview sees them (same core call), printed as
tables: the records, the fields with their guessed types, the parameters (guessed unless given) and
the bytes fetched from S3; for a prefix or glob, what the first listing page matched and the fields
merged across a sample of the objects, with their differences. ``--json`` prints the API's body
instead, for scripts.

Through a server (``--server``) it is that API route, ``POST /datasets/{uid}/resources/preview/``, which
belongs to a dataset: ``--dataset`` names it there (on the home it is optional, and applies the
dataset's field configuration as the route does).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from datawharf.apikeys import ADMIN_PERMISSIONS  # the operator at the console: every permission
from datawharf.cli.common import console, friendly_errors, server
from datawharf.cli.database import database
from datawharf.cli.extractor_help import EXTRACTOR_HELP, PARAM_HELP, PARAM_NAMES
from datawharf.errors import InvalidInput
from datawharf.settings import Settings


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _print_objects(objects: dict[str, Any]) -> None:
    """A prefix or glob: what the first listing page matched, and how the sampled objects differ."""
    more = ", the listing goes on" if objects["more"] else ""
    console.print(
        f"{objects['pattern']}: {objects['matched_so_far']:,} objects matched in the first "
        f"{objects['listed_keys']:,} keys listed under {objects['listing_prefix'] or '/'}{more}; records "
        f"from {len(objects['records_from'])}, fields merged across {len(objects['sampled'])}.",
        highlight=False,
    )
    merged = Table(title="Fields merged across the sample")
    for column in ("name", "type"):
        merged.add_column(column)
    for field in objects["fields"]:
        merged.add_row(field["name"], field["type"])
    console.print(merged)
    if objects["differences"]:
        differences = Table(title="Objects whose fields differ from the first")
        for column in ("key", "missing", "extra", "other types"):
            differences.add_column(column, overflow="fold")
        for difference in objects["differences"]:
            types = ", ".join(f"{name}: {a} -> {b}" for name, (a, b) in difference["types"].items())
            differences.add_row(
                difference["key"], ", ".join(difference["missing"]), ", ".join(difference["extra"]), types
            )
        console.print(differences)


def _print(body: dict[str, Any], given: dict[str, Any]) -> None:
    records = Table(title=f"{len(body['records'])} records", show_lines=False)
    for field in body["fields"]:
        records.add_column(f"{field['name']}\n[dim]{field['type']}[/]", overflow="fold")
    for record in body["records"]:
        records.add_row(*(_cell(record.get(field["name"])) for field in body["fields"]))
    console.print(records)

    fields = Table(title="Fields")
    for column in ("name", "label", "original name", "type"):
        fields.add_column(column)
    for field in body["fields"]:
        fields.add_row(field["name"], field["label"], field.get("original_name") or "", field["type"])
    console.print(fields)

    params = Table(title=f"Parameters of {body['type']}")
    for column in ("name", "value", ""):
        params.add_column(column)
    for name, value in body["params"].items():
        params.add_row(name, repr(value), "given" if name in given else "guessed")
    console.print(params)
    if "objects" in body:
        _print_objects(body["objects"])
    console.print(
        f"Bytes fetched from S3: {body['bytes_fetched']:,} (content read: {body['bytes_read']:,})",
        highlight=False,
    )


@friendly_errors
def preview(
    url: str = typer.Argument(
        ...,
        help="The object's URL (or its name relative to the connection's URL), or a prefix (ending with /) "
        "or a glob (exports/**/*.csv.gz).",
    ),
    connection: str = typer.Option(
        None, "--connection", help="A saved connection's uid (co_...); without it the read is anonymous."
    ),
    extractor: str = typer.Option(None, "--type", help=EXTRACTOR_HELP),
    param: list[str] = typer.Option(None, "--param", metavar="NAME=VALUE", help=PARAM_HELP),
    dataset: str = typer.Option(
        None,
        "--dataset",
        help="A dataset (uid or dataset_id) whose field configuration applies; needed with --server, "
        "whose preview route belongs to a dataset.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the preview as the API's JSON body."),
) -> None:
    """Preview the first 20 records of a file in S3, with its guessed fields and parameters."""
    datasource: dict[str, Any] = {"type": "amazon_s3", "url": url}
    if connection:
        datasource["connection"] = {"uid": connection}
    remote = server()
    if remote is not None:
        from datawharf.extract.pairs import split_pairs

        if dataset is None:
            raise InvalidInput(
                "With --server, preview needs --dataset DATASET: the server's preview route is "
                "POST /datasets/{uid}/resources/preview/ (any dataset you may edit; "
                "'datawharf datasets list' names them).",
                error_code="dataset_required",
            )
        given: dict[str, Any] = split_pairs(param, PARAM_NAMES)
        uid = remote.dataset_uid(dataset)
        request = {"datasource": datasource, "type": extractor, "params": given}
        body = remote.call("POST", f"/datasets/{uid}/resources/preview/", json=request)
    else:
        from datawharf.datasets.service import find_dataset
        from datawharf.datasets.unsaved_preview import preview_datasource  # the engine: pyarrow
        from datawharf.extract.params import parse_pairs

        given = parse_pairs(param, extractor)
        with database() as db, db.session() as session:
            dataset_uid = find_dataset(session, dataset).uid if dataset else None
            body = preview_datasource(
                session,
                Settings(),
                datasource,
                permissions=ADMIN_PERMISSIONS,
                dataset_uid=dataset_uid,
                extractor=extractor,
                params=given,
            )
    if json_output:
        console.print_json(json.dumps(body))
    else:
        _print(body, given)
