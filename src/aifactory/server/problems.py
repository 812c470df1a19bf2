"""RFC 9457 problem+json: every error response of the server, from one place."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException

from aifactory.errors import AifactoryError, status_for
from aifactory.server.openai_errors import OPENAI_PATHS, openai_error_body

__all__ = ["PROBLEM_JSON", "install", "problem"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(request: Request, status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response carrying the request id (OpenAI's error shape on its routes)."""
    if request.url.path in OPENAI_PATHS:
        return _openai(request, status, detail, **extra)
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(request.url.path),
        "request_id": getattr(request.state, "request_id", None),
    }
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _openai(request: Request, status: int, detail: str, **extra: Any) -> JSONResponse:
    # The openai SDK expects 400 for any invalid request; 422 is ours.
    status = 400 if status == 422 else status
    error = extra.pop("_error", None)
    body = openai_error_body(
        error, status=status, message=detail, request_id=getattr(request.state, "request_id", None), **extra
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if extra.get("run_id"):
        headers["X-Aifactory-Run-Id"] = str(extra["run_id"])
    retry_after = extra.get("retry_after")
    if status == 429 and retry_after is not None:
        headers["Retry-After"] = str(max(1, round(float(retry_after))))
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _aifactory(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AifactoryError)
    status = status_for(exc)
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.detail)
    extra = _jsonable(exc.extra)
    if request.url.path in OPENAI_PATHS:
        return _openai(request, status, exc.detail, _error=exc, **extra)
    return problem(request, status, exc.title, exc.detail, **extra)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in exc.errors()
    ]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem(request, 400, "Malformed JSON", "the request body is not valid JSON", errors=errors)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
    return problem(request, 422, "Invalid request", detail, errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}; see /openapi.json"
    return problem(request, exc.status_code, _TITLES.get(exc.status_code, "Error"), detail)


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, 409, "Conflict", "a concurrent change conflicted with this one; retry it")


async def _data(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, 400, "Invalid input", "a value is out of range for its field")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        request, 500, "Internal error", "an unexpected error occurred; quote the request_id when reporting it"
    )


_TITLES = {404: "Not found", 405: "Method not allowed", 413: "Payload too large", 401: "Unauthorized"}


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(extra, default=str))  # type: ignore[no-any-return]


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on an app."""
    app.add_exception_handler(AifactoryError, _aifactory)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(Exception, _unexpected)
