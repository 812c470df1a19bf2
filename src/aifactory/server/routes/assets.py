"""The catalog over HTTP: assets, versions, approvals, reviews, and label moves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from aifactory.catalog.records import (
    LABEL_PATTERN,
    Approval,
    ApprovalIn,
    Asset,
    AssetIn,
    AssetVersion,
    CanaryIn,
    LabelMove,
    LabelMoveIn,
    LifecycleIn,
    ReviewIn,
    RollbackIn,
    VersionIn,
)
from aifactory.identity.permissions import Resource
from aifactory.runtime import Runtime
from aifactory.server.auth import Caller, authenticated, governed, permit, runtime_of

router = APIRouter(prefix="/v1/assets", tags=["catalog"])

Ref = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,240}$", description="Asset id, or `kind:name`.")
]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
Label = Annotated[str, Path(pattern=LABEL_PATTERN)]


def _asset_resource(runtime: Runtime, ref: str) -> Resource:
    asset = runtime.catalog.get(ref)
    return Resource(
        "Asset", asset.id, {"owner": asset.owner_id, "kind": asset.kind, "critical": asset.critical}
    )


def _authorize(request: Request, caller: Caller, action: str, ref: str) -> Runtime:
    runtime = runtime_of(request)
    runtime.authorize(caller.subject, action, _asset_resource(runtime, ref))
    return runtime


@router.post("", status_code=201, openapi_extra=governed("assets.create"), summary="Register an asset")
def create_asset(request: Request, body: AssetIn, caller: Caller = permit("assets.create", "Asset")) -> Asset:
    """Register a governed asset with its owner, steward team and review date."""
    return runtime_of(request).catalog.create(body, caller.id)


@router.get("", openapi_extra=governed("assets.list"), summary="List assets")
def list_assets(
    request: Request,
    kind: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_-]{0,39}$")] = None,
    due: Annotated[bool, Query(description="Only assets past their review date.")] = False,
    _c: Caller = permit("assets.list", "Asset"),
) -> list[Asset]:
    """Every asset, of one kind, or only those due for review."""
    catalog = runtime_of(request).catalog
    found = catalog.due() if due else catalog.assets(kind)
    return [a for a in found if kind is None or a.kind == kind]


@router.get("/{ref}", openapi_extra=governed("assets.read"), summary="One asset with its labels")
def get_asset(request: Request, ref: Ref, caller: Caller = Depends(authenticated)) -> Asset:
    """An asset by id or `kind:name`."""
    return _authorize(request, caller, "assets.read", ref).catalog.get(ref)


@router.get("/{ref}/versions", openapi_extra=governed("assets.read"), summary="Every version")
def list_versions(request: Request, ref: Ref, caller: Caller = Depends(authenticated)) -> list[AssetVersion]:
    """Every version of an asset, oldest first."""
    return _authorize(request, caller, "assets.read", ref).catalog.versions(ref)


@router.post(
    "/{ref}/versions",
    status_code=201,
    openapi_extra=governed("assets.version"),
    summary="Push a version (identical content returns the existing one)",
)
def push_version(
    request: Request, ref: Ref, body: VersionIn, caller: Caller = Depends(authenticated)
) -> AssetVersion:
    """Add an immutable, content-addressed version."""
    runtime = _authorize(request, caller, "assets.version", ref)
    return runtime.catalog.push(ref, body.content, caller.id, body.message)


@router.get("/{ref}/versions/{number}", openapi_extra=governed("assets.read"), summary="One version")
def get_version(
    request: Request, ref: Ref, number: Number, caller: Caller = Depends(authenticated)
) -> AssetVersion:
    """One version of an asset."""
    return _authorize(request, caller, "assets.read", ref).catalog.version(ref, number)


@router.post(
    "/{ref}/versions/{number}/approvals",
    status_code=201,
    openapi_extra=governed("assets.approve"),
    summary="Approve a version (never your own)",
)
def approve(
    request: Request, ref: Ref, number: Number, body: ApprovalIn, caller: Caller = Depends(authenticated)
) -> Approval:
    """Record an approval by the caller."""
    runtime = runtime_of(request)
    version = runtime.catalog.version(ref, number)
    resource = Resource("Asset", version.asset_id, {"author": version.author_id})
    runtime.authorize(caller.subject, "assets.approve", resource)
    return runtime.catalog.approve(ref, number, caller.id, body.comment)


@router.put(
    "/{ref}/labels/{label}",
    openapi_extra=governed("assets.promote"),
    summary="Move a label to a version, through the gates",
)
def move_label(
    request: Request, ref: Ref, label: Label, body: LabelMoveIn, caller: Caller = Depends(authenticated)
) -> LabelMove:
    """The one way a label moves; 409 lists every unmet gate condition."""
    runtime = _authorize(request, caller, "assets.promote", ref)
    return runtime.catalog.move_label(ref, label, body.version, caller.id, body.reason)


@router.delete("/{ref}/labels/{label}", openapi_extra=governed("assets.promote"), summary="Remove a label")
def remove_label(
    request: Request,
    ref: Ref,
    label: Label,
    reason: Annotated[str, Query(max_length=2000, pattern=r"^[^\x00]*$")] = "",
    caller: Caller = Depends(authenticated),
) -> LabelMove:
    """Remove a label from an asset (recorded like any move)."""
    runtime = _authorize(request, caller, "assets.promote", ref)
    return runtime.catalog.move_label(ref, label, None, caller.id, reason)


@router.put(
    "/{ref}/labels/{label}/canary",
    openapi_extra=governed("assets.promote"),
    summary="Start or change a label's canary, through the label's gates",
)
def start_canary(
    request: Request, ref: Ref, label: Label, body: CanaryIn, caller: Caller = Depends(authenticated)
) -> LabelMove:
    """Serve another version to a share of the label's subjects (sticky), ramped on a schedule."""
    runtime = _authorize(request, caller, "assets.promote", ref)
    return runtime.catalog.releases.canary(ref, label, body, caller.id)


@router.delete(
    "/{ref}/labels/{label}/canary", openapi_extra=governed("assets.promote"), summary="End a canary"
)
def end_canary(
    request: Request,
    ref: Ref,
    label: Label,
    reason: Annotated[str, Query(max_length=2000, pattern=r"^[^\x00]*$")] = "",
    caller: Caller = Depends(authenticated),
) -> LabelMove:
    """Stop the canary: the label's stable version serves everyone again."""
    runtime = _authorize(request, caller, "assets.promote", ref)
    return runtime.catalog.releases.end_canary(ref, label, caller.id, reason)


@router.post(
    "/{ref}/labels/{label}/rollback",
    openapi_extra=governed("assets.promote"),
    summary="Roll a label back in one call",
)
def rollback(
    request: Request, ref: Ref, label: Label, body: RollbackIn, caller: Caller = Depends(authenticated)
) -> LabelMove:
    """End the label's canary, or else return it to the version it pointed at before."""
    runtime = _authorize(request, caller, "assets.promote", ref)
    return runtime.catalog.releases.rollback(ref, label, caller.id, body.reason)


@router.post(
    "/{ref}/versions/{number}/lifecycle",
    openapi_extra=governed("assets.lifecycle"),
    summary="Mark a version candidate, deprecated or retired",
)
def mark_version(
    request: Request, ref: Ref, number: Number, body: LifecycleIn, caller: Caller = Depends(authenticated)
) -> AssetVersion:
    """Set a version's lifecycle mark; retiring is refused while it serves a label or recent consumers."""
    runtime = _authorize(request, caller, "assets.lifecycle", ref)
    return runtime.catalog.lifecycle.mark(ref, number, body, caller.id)


@router.get("/{ref}/history", openapi_extra=governed("assets.read"), summary="Label move history")
def history(request: Request, ref: Ref, caller: Caller = Depends(authenticated)) -> list[LabelMove]:
    """Every label move of an asset, oldest first."""
    return _authorize(request, caller, "assets.read", ref).catalog.history(ref)


@router.post("/{ref}/review", openapi_extra=governed("assets.review"), summary="Record a review")
def review(request: Request, ref: Ref, body: ReviewIn, caller: Caller = Depends(authenticated)) -> Asset:
    """Mark the asset reviewed and set its next review date."""
    runtime = _authorize(request, caller, "assets.review", ref)
    return runtime.catalog.review(ref, caller.id, body.next_review_by, body.comment)
