"""Run records over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from aifactory.errors import NotFoundError
from aifactory.identity.permissions import Resource
from aifactory.ledger import Event
from aifactory.retention.records import RunPayload
from aifactory.server.auth import Caller, authenticated, governed, runtime_of

router = APIRouter(prefix="/v1/runs", tags=["runs"])

RunId = Annotated[str, Path(pattern=r"^run_[0-9a-f]{1,64}$")]


@router.get("/{run_id}", openapi_extra=governed("runs.read"), summary="One run record")
def get_run(request: Request, run_id: RunId, caller: Caller = Depends(authenticated)) -> dict[str, Any]:
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


@router.get("/{run_id}/payload", openapi_extra=governed("runs.payload"), summary="A run's payload")
def get_run_payload(request: Request, run_id: RunId, caller: Caller = Depends(authenticated)) -> RunPayload:
    """What the run sent upstream and got back, decrypted, with the salt that recomputes the
    commitment in its ledger entry. 410 once purged or erased. A run whose payload the caller may not
    read answers like a missing run; a caller who may read no payload at all gets 403. Every read is
    a `run.payload_read` ledger entry."""
    runtime = runtime_of(request)
    try:
        owner = runtime.gateway.runs.get(run_id)["principal_id"]
    except NotFoundError:
        owner = None
    resource = Resource("Run", run_id, {"principal": owner or caller.id})
    if owner is None or not runtime.authorizer.decide(caller.subject, "runs.payload", resource).allowed:
        runtime.authorize(caller.subject, "runs.payload", Resource("Run", run_id, {"principal": caller.id}))
        raise NotFoundError(f"no run {run_id!r} whose payload you may read")
    payload = runtime.gateway.payloads.read(run_id)
    runtime.ledger.append(
        Event("run.payload_read", f"run:{run_id}", caller.id, {"commitment": payload.commitment})
    )
    return payload
