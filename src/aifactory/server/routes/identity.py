"""Teams, principals and API keys over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from aifactory.identity.permissions import Resource
from aifactory.identity.records import (
    ApiKey,
    KeyIn,
    LimitsIn,
    NewApiKey,
    Principal,
    PrincipalIn,
    Team,
    TeamIn,
)
from aifactory.server.auth import Caller, authenticated, governed, permit, runtime_of

router = APIRouter(prefix="/v1", tags=["identity"])

Ref = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")]


@router.post("/teams", status_code=201, openapi_extra=governed("teams.create"), summary="Create a team")
def create_team(request: Request, body: TeamIn, caller: Caller = permit("teams.create", "Team")) -> Team:
    """Add a team."""
    return runtime_of(request).directory.create_team(body, caller.id)


@router.get("/teams", openapi_extra=governed("teams.list"), summary="List teams")
def list_teams(request: Request, _c: Caller = permit("teams.list", "Team")) -> list[Team]:
    """Every team."""
    return runtime_of(request).directory.teams()


@router.patch("/teams/{ref}", openapi_extra=governed("teams.update"), summary="Set a team's rate limits")
def update_team(request: Request, ref: Ref, body: LimitsIn, caller: Caller = Depends(authenticated)) -> Team:
    """Set the team's requests and tokens per minute (a field left out stays; null: the default)."""
    runtime = runtime_of(request)
    team = runtime.directory.team(ref)
    runtime.authorize(caller.subject, "teams.update", Resource("Team", team.id))
    return runtime.directory.set_team_limits(team.id, body, caller.id)


@router.post(
    "/principals",
    status_code=201,
    openapi_extra=governed("principals.create"),
    summary="Create a person or app",
)
def create_principal(
    request: Request, body: PrincipalIn, caller: Caller = Depends(authenticated)
) -> Principal:
    """Add a principal; granting the admin role needs an admin."""
    runtime = runtime_of(request)
    runtime.authorize(
        caller.subject,
        "principals.create",
        Resource("Principal", body.name),
        {"granted_roles": list(body.roles)},
    )
    return runtime.directory.create_principal(body, caller.id)


@router.get("/principals", openapi_extra=governed("principals.list"), summary="List principals")
def list_principals(request: Request, _c: Caller = permit("principals.list", "Principal")) -> list[Principal]:
    """Every principal."""
    return runtime_of(request).directory.principals()


@router.get("/principals/{ref}", openapi_extra=governed("principals.read"), summary="One principal")
def get_principal(request: Request, ref: Ref, caller: Caller = Depends(authenticated)) -> Principal:
    """A principal by id or name (`me` for the caller)."""
    runtime = runtime_of(request)
    principal = runtime.directory.principal(caller.id if ref == "me" else ref)
    if principal.id != caller.id:
        runtime.authorize(caller.subject, "principals.read", Resource("Principal", principal.id))
    return principal


@router.post(
    "/keys",
    status_code=201,
    openapi_extra=governed("keys.create"),
    summary="Create an API key (the secret is shown once)",
)
def create_key(request: Request, body: KeyIn, caller: Caller = Depends(authenticated)) -> NewApiKey:
    """A new key for the caller or (with permission) another principal."""
    runtime = runtime_of(request)
    owner = runtime.directory.principal(body.principal or caller.id)
    # A key acts with its owner's roles: minting one grants them (only an admin may grant admin).
    resource = Resource("Key", "new", {"owner": owner.id})
    runtime.authorize(caller.subject, "keys.create", resource, {"granted_roles": owner.roles})
    if body.rpm_limit is not None or body.tpm_limit is not None:
        # Limits of its own could lift a key above the server's defaults: that is keys.update.
        runtime.authorize(caller.subject, "keys.update", resource)
    return runtime.directory.create_key(body, owner.id, caller.id)


@router.get("/keys", openapi_extra=governed("keys.list"), summary="List API keys (metadata only)")
def list_keys(
    request: Request,
    caller: Caller = Depends(authenticated),
    principal: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")] = None,
) -> list[ApiKey]:
    """All keys, or one principal's (`principal=me` for your own)."""
    runtime = runtime_of(request)
    owner = None
    if principal is not None:
        owner = caller.id if principal == "me" else runtime.directory.principal(principal).id
    attrs = {"owner": owner} if owner else {}
    runtime.authorize(caller.subject, "keys.list", Resource("Key", "*", attrs))
    return runtime.directory.keys(owner)


@router.patch("/keys/{ref}", openapi_extra=governed("keys.update"), summary="Set an API key's rate limits")
def update_key(request: Request, ref: Ref, body: LimitsIn, caller: Caller = Depends(authenticated)) -> ApiKey:
    """Set the key's requests and tokens per minute (a field left out stays; null: the default)."""
    runtime = runtime_of(request)
    key = runtime.directory.key(ref)
    runtime.authorize(caller.subject, "keys.update", Resource("Key", key.id, {"owner": key.principal_id}))
    return runtime.directory.set_key_limits(key.id, body, caller.id)


@router.post("/keys/{ref}/revoke", openapi_extra=governed("keys.revoke"), summary="Revoke an API key")
def revoke_key(request: Request, ref: Ref, caller: Caller = Depends(authenticated)) -> ApiKey:
    """Revoke a key by id or prefix; every replica refuses it within the change poll interval."""
    runtime = runtime_of(request)
    key = runtime.directory.key(ref)
    runtime.authorize(caller.subject, "keys.revoke", Resource("Key", key.id, {"owner": key.principal_id}))
    return runtime.directory.revoke_key(key.id, caller.id)
