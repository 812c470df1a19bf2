"""Run payload retention over HTTP: purge what is past retention now, erase a data subject's data."""

from __future__ import annotations

from fastapi import APIRouter, Request

from aifactory.retention.records import Erasure, ErasureIn, Purge, PurgeIn
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/data", tags=["data"])


@router.post("/purges", openapi_extra=governed("data.purge"), summary="Purge payloads past retention")
def purge(
    request: Request, body: PurgeIn | None = None, caller: Caller = permit("data.purge", "Data")
) -> Purge:
    """Purge one batch (at most `limit`) of payloads past their retention: ciphertexts deleted, per-run
    keys destroyed, one `data.purged` ledger entry. Repeat while `remaining` is above 0."""
    limit = (body or PurgeIn()).limit
    return runtime_of(request).gateway.payloads.purge(limit=limit, actor=caller.id)


@router.post("/erasures", openapi_extra=governed("data.erase"), summary="Erase a data subject's payloads")
def erase(request: Request, body: ErasureIn, caller: Caller = permit("data.erase", "Data")) -> Erasure:
    """Destroy the subject's data key and delete its ciphertexts, with a `data.erased` ledger entry.
    A subject with nothing stored answers `payloads: 0` and is recorded all the same."""
    return runtime_of(request).gateway.payloads.erase(body.subject, actor=caller.id, reason=body.reason)
