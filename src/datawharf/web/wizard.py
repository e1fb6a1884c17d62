"""The dataset wizard: New dataset, or Add a source to a dataset.

Steps, each a page (state travels in form fields and the query string; never a secret):
1. ``/datasets/new``: "Configure a remote service" > Amazon S3;
2. ``/datasets/new/amazon-s3``: a saved connection, or a new one (saved through the connections service,
   validated, then referred to by uid), and the file URL; submitting it shows the preview;
3. the preview (``POST /datasets/new/preview``): the first 20 records, the fields (names, labels, guessed
   types) and the source configuration (every parameter of the extractor); a change re-previews in place;
4. ``/datasets/new/information``: title and technical identifier (prefilled from the title as typed,
   editable, checked) -> save, or save and publish. Adding a source skips this step.

Reading the file is an outbound request made with the connection's secrets, so it happens only on a POST
carrying the CSRF token: a link on another site (the cookie is ``SameSite=Lax``, so a cross-site GET
carries it) can at most open the connection-and-file form, prefilled, never make datawharf fetch.
"""

from __future__ import annotations

import json
import posixpath
from contextlib import suppress
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from datawharf.connections import service as connection_service
from datawharf.connections.schemas import ConnectionCreate
from datawharf.connections.scope import can_reuse
from datawharf.datasets import locate, preview, resources, service
from datawharf.datasets.datasource import AmazonS3Datasource, parse_datasource
from datawharf.datasets.metadata import title_of
from datawharf.errors import DatawharfError, InvalidInput
from datawharf.extract.base import ExtractorParameter
from datawharf.extract.params import check_params
from datawharf.extract.registry import EXTRACTORS
from datawharf.inputs import parse_input
from datawharf.store.models.datasets import Dataset
from datawharf.web.connections import METHODS, ConnectionForm, connection_input, region_names
from datawharf.web.datasets import dataset_page_with_error, start_publish
from datawharf.web.notices import saved
from datawharf.web.rendering import (
    BASE,
    BackofficeRoute,
    Visitor,
    csrf_checked,
    database_of,
    redirect,
    render,
    settings_of,
    signed_in,
)

router = APIRouter(prefix=f"{BASE}/datasets", route_class=BackofficeRoute, include_in_schema=False)
Current = Annotated[Visitor, Depends(signed_in)]
PARAM_PREFIX = "p."
CHOICE_LABELS = {",": "Comma (,)", ";": "Semicolon (;)", "\t": "Tab", "|": "Pipe (|)", " ": "Space"}


def _dataset_of(request: Request, dataset_uid: str | None) -> dict[str, Any] | None:
    if not dataset_uid:
        return None
    with database_of(request).session() as db:
        dataset = service.get_dataset(db, dataset_uid)
        return {"uid": dataset.uid, "dataset_id": dataset.dataset_id, "title": title_of(dataset.metadata_)}


def _allowed(current: Visitor, dataset: str | None) -> None:
    """Creating a dataset, or changing one: the permissions the API asks for the same acts."""
    current.require("edit_dataset" if dataset else "create_dataset")


def _create_dataset(db: Session, title: str, dataset_id: str) -> Dataset:
    """The dataset, with the identifier the form showed as checked when one is typed (the service's
    strict mode), else one made from the title. A taken one is refused in the form's words: the
    service's own message speaks of the API's ``strict`` switch, which this form does not have."""
    try:
        return service.create_dataset(
            db,
            metadata={"default": {"title": {"value": title}}},
            dataset_id=dataset_id or None,
            strict=bool(dataset_id),
        )
    except InvalidInput as error:
        if error.error_code != "dataset_id_taken":
            raise
        raise InvalidInput(
            f"The identifier {dataset_id!r} is already taken by another dataset: type another one in "
            "Dataset technical identifier (or change the name for another suggestion).",
            error_code=error.error_code,
            detail=error.detail,
        ) from None


def _permissions(current: Visitor) -> list[str]:
    assert current.api_key is not None  # ``signed_in`` let the visitor through
    return current.api_key.permissions


def _datasource(connection: str, url: str) -> AmazonS3Datasource:
    return parse_datasource({"type": "amazon_s3", "url": url, "connection": {"uid": connection}})


def _render(request: Request, current: Visitor, template: str, **context: Any) -> Response:
    return render(request, template, current=current, section="datasets", **context)


@router.get("/new")
def choose_source(request: Request, current: Current, dataset: str | None = None) -> Response:
    _allowed(current, dataset)
    return _render(request, current, "wizard/source.html", dataset=_dataset_of(request, dataset))


@router.get("/{uid}/sources/new")
def add_source(request: Request, current: Current, uid: str) -> Response:
    return redirect(f"{BASE}/datasets/new?{urlencode({'dataset': uid})}")


def _s3_page(
    request: Request,
    current: Visitor,
    *,
    dataset: str | None,
    choice: str | None = None,
    file_url: str = "",
    form: ConnectionForm | None = None,
    error: DatawharfError | None = None,
) -> Response:
    with database_of(request).session() as db:
        _total, rows = connection_service.list_connections(db, limit=1000, offset=0, sort="-created_at")
        permissions = _permissions(current)
        saved = [connection_service.to_public(db, row) for row in rows if can_reuse(row, permissions)]
    return _render(
        request,
        current,
        "wizard/amazon_s3.html",
        dataset=_dataset_of(request, dataset),
        connections=saved,
        methods=METHODS,
        choice=choice or (saved[0].uid if saved else "new"),
        file_url=file_url,
        form=(form or ConnectionForm(method="aws_signature_v4")).shown(),
        regions=region_names(),
        error=error,
        status_code=error.http_status if error else 200,
    )


@router.get("/new/amazon-s3")
def amazon_s3(
    request: Request,
    current: Current,
    dataset: str | None = None,
    connection: str | None = None,
    file_url: str = "",
) -> Response:
    """The form, optionally prefilled (the preview's "Back", a reload of the preview): nothing is read."""
    _allowed(current, dataset)
    return _s3_page(request, current, dataset=dataset, choice=connection, file_url=file_url)


@router.post("/new/amazon-s3", dependencies=[Depends(csrf_checked)])
def amazon_s3_chosen(
    request: Request,
    current: Current,
    connection: Annotated[str, Form()] = "",
    file_url: Annotated[str, Form()] = "",
    dataset: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
    access_key_id: Annotated[str, Form()] = "",
    secret_access_key: Annotated[str, Form()] = "",
    header_name: Annotated[list[str] | None, Form()] = None,
    header_value: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A new connection is saved (and validated) by the connections service; the wizard goes on with its
    uid, so no secret ever travels between the steps."""
    form = ConnectionForm(
        method="aws_signature_v4",
        title=title,
        url=url,
        region=region,
        access_key_id=access_key_id,
        header_names=header_name or [],
    )
    try:
        _allowed(current, dataset or None)
        if not file_url.strip():
            raise InvalidInput(
                "Give the file's URL (or its name relative to the connection's URL).",
                error_code="missing_url",
            )
        if connection == "new":
            current.require("edit_domain")  # it becomes one of the domain's connections
            data = parse_input(
                ConnectionCreate, connection_input(form, secret_access_key, header_value or [])
            )
            with database_of(request).session() as db:
                connection = connection_service.create_connection(db, settings_of(request), data).uid
        elif not connection:
            raise InvalidInput("Choose a connection, or create a new one.", error_code="missing_connection")
        with database_of(request).session() as db:  # may this visitor use it there? (no request leaves)
            locate.resolve(
                db, settings_of(request), _datasource(connection, file_url), permissions=_permissions(current)
            )
    except DatawharfError as error:
        return _s3_page(
            request,
            current,
            dataset=dataset or None,
            choice=connection,
            file_url=file_url,
            form=form,
            error=error,
        )
    return _preview_response(request, current, connection, file_url.strip(), None, {}, dataset or None)


# --- preview ---------------------------------------------------------------------------------------


def _parse_param(parameter: ExtractorParameter, raw: str) -> Any:
    """A form value as the core's parser takes it (``check_params`` types and checks it): a choice comes
    JSON-encoded, so that a tab survives the form; an empty value means "guess it"."""
    if raw == "":
        return None
    if parameter.choices is not None:
        with suppress(ValueError):
            return json.loads(raw)
    return raw


def _params_from_form(values: FormData, extractor: str | None) -> dict[str, Any]:
    if not extractor or extractor not in EXTRACTORS:
        return {}
    raw = {
        parameter.name: _parse_param(parameter, str(values[PARAM_PREFIX + parameter.name]))
        for parameter in EXTRACTORS[extractor].parameters
        if PARAM_PREFIX + parameter.name in values
    }
    return check_params(extractor, {name: value for name, value in raw.items() if value is not None})


def _param_controls(extractor: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Each parameter as the form shows it: its control, its options, its current value."""
    controls = []
    for parameter in EXTRACTORS[extractor].parameters:
        value = params.get(parameter.name, parameter.default)
        control: dict[str, Any] = {"param": parameter, "name": PARAM_PREFIX + parameter.name}
        if parameter.choices is not None:
            control["kind"] = "select"
            control["options"] = [
                (json.dumps(choice), CHOICE_LABELS.get(choice, str(choice)), choice == value)
                for choice in parameter.choices
            ]
        elif parameter.type == "boolean":
            control["kind"] = "select"
            control["options"] = [("true", "Yes", value is True), ("false", "No", value is False)]
        else:
            control["kind"] = "number" if parameter.type == "int" else "text"
            control["value"] = "" if value is None else str(value)
        controls.append(control)
    return controls


def _preview_context(
    request: Request,
    current: Visitor,
    connection: str,
    url: str,
    extractor: str | None,
    params: dict[str, Any],
    dataset: str | None,
    refused: DatawharfError | None = None,
) -> dict[str, Any]:
    """The core's preview of a resource about to be saved (with a dataset, its field configuration
    applied, as the publish will write the fields): the API's road, one probe GET."""
    settings = settings_of(request)
    result: dict[str, Any] | None = None
    error: DatawharfError | None = refused  # a refused parameter is shown like a failed preview
    try:
        if refused is None:
            with database_of(request).session() as db:
                target = locate.resolve(
                    db, settings, _datasource(connection, url), permissions=_permissions(current)
                )
                with locate.probe(settings, target) as found:
                    result = preview.preview_resource(
                        db,
                        settings,
                        found.located,
                        dataset_uid=dataset,
                        extractor=extractor if extractor in EXTRACTORS else None,
                        params=params,
                    )
    except DatawharfError as exc:
        error = exc
    chosen = result["extractor"] if result else (extractor if extractor in EXTRACTORS else "csvfile")
    shown = result["params"] if result else params
    return {
        "connection_uid": connection,
        "url": url,
        "extractor": chosen,
        "extractors": [(name, e.label) for name, e in EXTRACTORS.items()],
        "controls": _param_controls(chosen, shown),
        "params_json": json.dumps(shown),
        "preview": result,
        "preview_error": error,
        "filename": posixpath.basename(url.split("?")[0]) or url,
    }


def _file_step_url(connection: str, url: str, dataset: str | None) -> str:
    """The connection-and-file step, prefilled: where a GET of the preview (or a reload) lands."""
    query = {"connection": connection, "file_url": url, **({"dataset": dataset} if dataset else {})}
    return f"{BASE}/datasets/new/amazon-s3?{urlencode(query)}"


def _preview_response(
    request: Request,
    current: Visitor,
    connection: str,
    url: str,
    extractor: str | None,
    params: dict[str, Any],
    dataset: str | None,
    *,
    fragment: bool = False,
    refused: DatawharfError | None = None,
) -> Response:
    """The preview page (or, for the script's in-place refresh, only the preview and its configuration).

    ``back_url`` is the connection-and-file step prefilled: the script puts it in the address bar, so a
    reload opens that form (a GET, which reads nothing) instead of posting the form again."""
    _allowed(current, dataset)
    context = _preview_context(request, current, connection, url, extractor, params, dataset, refused)
    template = "wizard/_workspace.html" if fragment else "wizard/preview.html"
    return _render(
        request,
        current,
        template,
        dataset=_dataset_of(request, dataset),
        back_url=_file_step_url(connection, url, dataset),
        **context,
    )


@router.get("/new/preview")
def old_preview_link(
    current: Current, connection: str = "", url: str = "", dataset: str | None = None
) -> Response:
    """A bookmark (or a link from elsewhere) of the preview: the prefilled form, which reads nothing."""
    return redirect(_file_step_url(connection, url, dataset))


async def _form(request: Request) -> FormData:
    """The whole form (the ``p.*`` parameters vary by extractor); Starlette parses it once per request."""
    return await request.form()


@router.post("/new/preview", dependencies=[Depends(csrf_checked)])
def preview_page(
    current: Current,
    request: Request,
    values: Annotated[FormData, Depends(_form)],
    connection: Annotated[str, Form()],
    url: Annotated[str, Form()],
    dataset: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    fragment: Annotated[bool, Form()] = False,
) -> Response:
    """A change in the source configuration: preview again with the parameters of the form."""
    params: dict[str, Any] = {}
    refused: DatawharfError | None = None
    try:
        params = _params_from_form(values, type or None)
    except DatawharfError as error:
        refused = error
    return _preview_response(
        request,
        current,
        connection,
        url,
        type or None,
        params,
        dataset or None,
        fragment=fragment,
        refused=refused,
    )


# --- dataset information and save ------------------------------------------------------------------


@router.get("/new/information")
def information(
    request: Request, current: Current, connection: str, url: str, type: str, params: str = "{}"
) -> Response:
    _allowed(current, None)
    return _render(
        request,
        current,
        "wizard/information.html",
        connection_uid=connection,
        url=url,
        extractor=type,
        params_json=params,
        title="",
        dataset_id="",
        error=None,
    )


@router.post("/new/save", dependencies=[Depends(csrf_checked)])
def save(
    request: Request,
    current: Current,
    connection: Annotated[str, Form()],
    url: Annotated[str, Form()],
    type: Annotated[str, Form()],
    params: Annotated[str, Form()] = "{}",
    dataset: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    dataset_id: Annotated[str, Form()] = "",
    publish: Annotated[str, Form()] = "",
) -> Response:
    """Create the dataset (strict about its identifier: what the user saw checked is what they get) and its
    resource in one unit of work, or add the resource to an existing dataset; then publish if asked."""
    settings = settings_of(request)
    try:
        try:
            parsed_params = json.loads(params)
        except ValueError:
            raise InvalidInput("The source configuration is unreadable: start the preview again.") from None
        datasource = {"type": "amazon_s3", "url": url, "connection": {"uid": connection}}
        resource_title = posixpath.basename(url.split("?")[0]) or url
        with database_of(request).session() as db:
            if dataset:
                current.require("edit_dataset")
                target = service.get_dataset(db, dataset).uid
            else:
                current.require("create_dataset")
                if not title.strip():
                    raise InvalidInput("Give the dataset a title.", error_code="missing_title")
                created = _create_dataset(db, title.strip(), dataset_id.strip())
                target = created.uid
            resources.create_resource(
                db,
                settings,
                target,
                type=type,
                title=resource_title,
                params=parsed_params,
                datasource=datasource,
                permissions=_permissions(current),
            )
    except DatawharfError as error:
        if dataset:
            return _render(
                request,
                current,
                "error.html",
                title="The source was not added",
                message=error.message,
                status_code=error.http_status,
            )
        return _render(
            request,
            current,
            "wizard/information.html",
            connection_uid=connection,
            url=url,
            extractor=type,
            params_json=params,
            title=title,
            dataset_id=dataset_id,
            error=error,
            status_code=error.http_status,
        )
    if publish:
        try:  # saved either way: a refused publish is shown on the dataset's page
            current.require("publish_dataset")
            start_publish(request, target)
        except DatawharfError as error:
            return dataset_page_with_error(request, current, target, error)
    what = ("source" if dataset else "dataset") + ("-publishing" if publish else "")
    return saved(f"{BASE}/datasets/{target}", what)
