"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import generate_latest
from sqlalchemy import text

from aifactory.errors import ConfigurationError
from aifactory.server.auth import Caller, governed, permit, runtime_of

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    """Always 200 while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers and the ledger is running")
def readyz(request: Request) -> dict[str, Any]:
    """200 when the database answers and the ledger threads run; 500 problem+json otherwise."""
    runtime = runtime_of(request)
    try:
        with runtime.db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ConfigurationError(f"database not reachable: {type(exc).__name__}") from exc
    if not runtime.ledger.writer.is_running:
        raise ConfigurationError("the ledger writer is not running")
    return {"status": "ready", "ledger_size": runtime.ledger.size()}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    openapi_extra=governed("metrics.read"),
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request, _caller: Caller = permit("metrics.read", "Metrics")) -> Response:
    """The Prometheus text exposition."""
    body = request.app.state.metrics.render() + generate_latest(runtime_of(request).metrics)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
