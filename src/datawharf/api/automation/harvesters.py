"""``/harvesters/``: S3 harvesters (the reference's routes that fit an S3 prefix), and "start".

The reference's ``Harvester`` shape with ``type: "amazon_s3"`` and datawharf's own fields beside it
(``url``, ``connection``, ``mode``, templates...). ``start`` runs a pass on a worker of this server and
returns at once (``status`` says where it stands); ``errors`` lists what the last pass could not do.
Managing harvesters needs ``edit_domain``: a harvester makes and publishes datasets from a connection.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from datawharf.api.deps import EditDomain, SessionDep, SettingsDep
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.datasets.runtime import DatasetsRuntime
from datawharf.harvest import service
from datawharf.harvest.schemas import HarvesterErrors, HarvesterPublic
from datawharf.harvest.service import HarvesterConfig

router = APIRouter(prefix="/harvesters", tags=["Harvesters"])


class ConnectionRef(BaseModel):
    uid: str = Field(min_length=1, max_length=32)


class HarvesterBody(BaseModel):
    """Create (``name`` and ``url`` required) or update (every field optional)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["amazon_s3"] = "amazon_s3"
    name: str | None = Field(None, min_length=1, max_length=500)
    url: str | None = Field(None, min_length=1, max_length=8192, description="A prefix or a glob.")
    connection: ConnectionRef | None = None
    mode: Literal["object", "folder"] | None = None
    extractor_type: str | None = Field(None, max_length=64)
    params: dict[str, Any] | None = None
    dataset_id_template: str | None = Field(None, max_length=200)
    title_template: str | None = Field(None, max_length=500)
    restrict_datasets_visibility: bool | None = None
    forced_metas: dict[str, Any] | None = None
    cron_schedule: str | None = Field(None, max_length=200, description="Five unix-cron fields; '' for none.")

    def config(self, *, update: bool, by: str) -> HarvesterConfig:
        given = self.model_fields_set
        connection_uid = self.connection.uid if self.connection else ("" if "connection" in given else None)
        return HarvesterConfig(
            name=self.name,
            url=self.url,
            connection_uid=connection_uid if update else (self.connection.uid if self.connection else None),
            mode=self.mode,
            extractor_type=self.extractor_type,
            params=self.params,
            dataset_id_template=self.dataset_id_template,
            title_template=self.title_template,
            restrict_datasets_visibility=self.restrict_datasets_visibility,
            forced_metas=self.forced_metas,
            cron_schedule=self.cron_schedule,
            updated_by=by,
        )


def get_runtime(request: Request) -> DatasetsRuntime:
    return request.app.state.datasets_runtime


@router.get(
    "/",
    operation_id="list-harvesters",
    summary="List harvesters",
    response_model=Paginated[HarvesterPublic],
)
def list_harvesters(request: Request, page: PageDep, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    total, rows = service.list_harvesters(session, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [service.public(session, h) for h in rows])


@router.post(
    "/",
    status_code=201,
    operation_id="create-harvester",
    summary="Create harvester",
    response_model=HarvesterPublic,
)
def create_harvester(
    body: HarvesterBody, session: SessionDep, settings: SettingsDep, key: EditDomain
) -> dict[str, Any]:
    harvester = service.create_harvester(
        session, settings, body.config(update=False, by=key.label), permissions=key.permissions
    )
    return service.public(session, harvester)


@router.get(
    "/{harvester_uid}/",
    operation_id="retrieve-harvester",
    summary="Retrieve harvester",
    response_model=HarvesterPublic,
)
def retrieve_harvester(harvester_uid: str, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    return service.public(session, service.get_harvester(session, harvester_uid))


@router.put(
    "/{harvester_uid}/",
    operation_id="update-harvester",
    summary="Update harvester",
    response_model=HarvesterPublic,
)
def update_harvester(
    harvester_uid: str, body: HarvesterBody, session: SessionDep, settings: SettingsDep, key: EditDomain
) -> dict[str, Any]:
    harvester = service.update_harvester(
        session, settings, harvester_uid, body.config(update=True, by=key.label), permissions=key.permissions
    )
    return service.public(session, harvester)


@router.delete(
    "/{harvester_uid}/", status_code=204, operation_id="delete-harvester", summary="Delete harvester"
)
def delete_harvester(harvester_uid: str, session: SessionDep, _key: EditDomain) -> Response:
    """The harvester goes; the datasets it made stay (delete them one by one if wanted)."""
    service.delete_harvester(session, harvester_uid)
    return Response(status_code=204)


@router.post(
    "/{harvester_uid}/start/",
    operation_id="start-harvester",
    summary="Start harvesting",
    response_model=HarvesterPublic,
)
def start_harvester(
    harvester_uid: str, request: Request, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    harvester = service.get_harvester(session, harvester_uid, for_update=True)
    if harvester.status == "idle":
        harvester.status = "queued"
    session.commit()  # before the worker starts: its pass reads the harvester in its own session
    get_runtime(request).harvest(harvester_uid)
    return service.public(session, service.get_harvester(session, harvester_uid))


@router.get(
    "/{harvester_uid}/errors/",
    operation_id="harvester-list-errors",
    summary="List errors",
    response_model=HarvesterErrors,
)
def harvester_errors(harvester_uid: str, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    return service.errors(service.get_harvester(session, harvester_uid))
