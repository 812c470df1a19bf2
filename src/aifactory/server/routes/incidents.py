"""Incidents over HTTP: open, list, read, resolve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from aifactory.monitoring.records import Incident, IncidentIn, ResolutionIn, Status
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

IncidentId = Annotated[str, Path(pattern=r"^inc_[0-9a-f]{1,64}$")]
AssetRef = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,240}$", description="Id or `kind:name`.")
]


@router.post("", status_code=201, openapi_extra=governed("incidents.open"), summary="Open an incident")
def open_incident(
    request: Request, body: IncidentIn, caller: Caller = permit("incidents.open", "Incident")
) -> Incident:
    """Open an incident on an asset; while open, the no-open-incident gate refuses its moves."""
    return runtime_of(request).incidents.open(body, caller.id)


@router.get("", openapi_extra=governed("incidents.list"), summary="List incidents")
def list_incidents(
    request: Request,
    asset: AssetRef = None,
    status: Status | None = None,
    _c: Caller = permit("incidents.list", "Incident"),
) -> list[Incident]:
    """The newest incidents (at most 100), of one asset and in one status when given."""
    return runtime_of(request).incidents.list(asset, status)


@router.get("/{incident_id}", openapi_extra=governed("incidents.read"), summary="One incident")
def get_incident(
    request: Request, incident_id: IncidentId, _c: Caller = permit("incidents.read", "Incident")
) -> Incident:
    """One incident."""
    return runtime_of(request).incidents.get(incident_id)


@router.post(
    "/{incident_id}/resolve", openapi_extra=governed("incidents.resolve"), summary="Resolve an incident"
)
def resolve_incident(
    request: Request,
    incident_id: IncidentId,
    body: ResolutionIn,
    caller: Caller = permit("incidents.resolve", "Incident"),
) -> Incident:
    """Resolve an open incident, saying how (409 when it is already resolved)."""
    return runtime_of(request).incidents.resolve(incident_id, body.resolution, caller.id)
