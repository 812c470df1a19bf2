"""Registered tools over HTTP: the tools the gateway serves (register them as `tool` assets)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from aifactory.policy.tool_specs import ToolSpec
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(prefix="/v1/tools", tags=["tools"])


@router.get("", openapi_extra=governed("tools.list"), summary="List registered tools")
def list_tools(request: Request, _c: Caller = permit("tools.list", "Tool")) -> list[ToolSpec]:
    """The tools under the serving label, by name: what tool-call policies know as registered."""
    return runtime_of(request).tools.all()
