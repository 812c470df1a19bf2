"""Policy over HTTP: the active packs, and the dry run of a decision (recorded nowhere)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from aifactory.policy.records import ContextIn, PackInfo
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/policy", tags=["policy"])


@router.post("/decisions", openapi_extra=governed("policy.decide"), summary="Decide a context (dry run)")
def decide(
    request: Request, body: ContextIn, caller: Caller = permit("policy.decide", "Policy")
) -> dict[str, Any]:
    """The decision the active packs give this context: outcome, obligations, reasons, digest, and
    every rule that did not apply with why. Nothing is recorded; the id is fresh each time."""
    return runtime_of(request).policy.explain(body.to_context(caller.id)).as_json()


@router.get("/packs", openapi_extra=governed("policy.read"), summary="List active policy packs")
def list_packs(request: Request, _c: Caller = permit("policy.read", "Policy")) -> list[PackInfo]:
    """The pack versions under the policy label, which every decision uses."""
    return [PackInfo.of(pack) for pack in runtime_of(request).policy.packs]
