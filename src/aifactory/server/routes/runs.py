"""Run records over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from aifactory.identity.permissions import Resource
from aifactory.server.auth import Caller, authenticated, governed, runtime_of

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get("/{run_id}", openapi_extra=governed("runs.read"), summary="One run record")
def get_run(
    request: Request,
    run_id: Annotated[str, Path(pattern=r"^run_[0-9a-f]{1,64}$")],
    caller: Caller = Depends(authenticated),
) -> dict[str, Any]:
    """A run: route, deployment, attempts, latency, tokens, cost (never prompt text)."""
    runtime = runtime_of(request)
    record = runtime.gateway.runs.get(run_id)
    runtime.authorize(
        caller.subject, "runs.read", Resource("Run", run_id, {"principal": record["principal_id"]})
    )
    return record
