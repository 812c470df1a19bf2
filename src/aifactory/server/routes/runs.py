"""Run records over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from aifactory.errors import NotFoundError
from aifactory.identity.permissions import Resource
from aifactory.server.auth import Caller, authenticated, governed, runtime_of

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get("/{run_id}", openapi_extra=governed("runs.read"), summary="One run record")
def get_run(
    request: Request,
    run_id: Annotated[str, Path(pattern=r"^run_[0-9a-f]{1,64}$")],
    caller: Caller = Depends(authenticated),
) -> dict[str, Any]:
    """A run: route, deployment, attempts, latency, tokens, cost (never prompt text).

    A run the caller may not read answers like a run that does not exist, so run ids cannot be
    probed; a caller who may read no run at all (not even their own) gets 403."""
    runtime = runtime_of(request)
    try:
        record: dict[str, Any] | None = runtime.gateway.runs.get(run_id)
    except NotFoundError:
        record = None
    if record is not None:
        owner = Resource("Run", run_id, {"principal": record["principal_id"]})
        if runtime.authorizer.decide(caller.subject, "runs.read", owner).allowed:
            return record
    runtime.authorize(caller.subject, "runs.read", Resource("Run", run_id, {"principal": caller.id}))
    raise NotFoundError(f"no run {run_id!r} that you may read")
