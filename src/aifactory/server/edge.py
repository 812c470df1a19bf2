"""The gateway's hot routes served straight from ASGI, ahead of FastAPI's routing and dependencies.

`POST /v1/chat/completions` and `POST /v1/embeddings` carry the model traffic. Through FastAPI's
middleware stack, router, dependency solver and body machinery a request costs about 0.75 ms more
CPU than the same work done here (measured on the benchmark machine; `docs/benchmarks.md`), which is
most of the overhead budget of a gateway. The edge does exactly what those routes do, with the same
code: the bearer key is identified by the directory, the body is validated by the same pydantic
model, the handlers are `openai_compat.chat` and `openai_compat.embed`, and errors are answered by
the app's own exception handlers (OpenAI's error shape on these paths). Everything else, and these
paths' OpenAPI documentation, stays with FastAPI.

It sits inside `RequestMiddleware`, so request ids, the body size limit, metrics and the access
log apply as to every route.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from aifactory.gateway.service import CallContext
from aifactory.gateway.types import ChatRequest, EmbeddingRequest
from aifactory.server.auth import Caller, bearer_caller, runtime_of
from aifactory.server.routes import openai_compat

__all__ = ["GatewayEdge"]

Handler = Callable[[Request, Any, Caller], Awaitable[Response]]

_ROUTES: dict[tuple[str, str], tuple[str, type[BaseModel], Handler]] = {
    ("POST", "/v1/chat/completions"): ("chat", ChatRequest, openai_compat.chat),
    ("POST", "/v1/embeddings"): ("embeddings", EmbeddingRequest, openai_compat.embed),
}


class GatewayEdge:
    """Serves the OpenAI-compatible model routes; passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, Any] = {}  # path -> FastAPI's route, for metrics labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served = _ROUTES.get((scope.get("method", ""), scope.get("path", "")))
        if served is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        operation, model, handler = served
        fastapi_app: FastAPI = scope["app"]
        scope["route"] = self._route(fastapi_app, scope)
        request = Request(scope, receive)
        try:
            caller = bearer_caller(request)
            raw = await request.body()
            try:
                body = _parse(model, raw)
            except RequestValidationError as invalid:
                _record_refusal(request, caller, operation, raw, invalid)
                raise
            response = await handler(request, body, caller)
        except Exception as exc:  # answered as FastAPI would answer it: by the app's handlers
            response = await _handled(fastapi_app, request, exc)
        await response(scope, receive, send)

    def _route(self, app: FastAPI, scope: Scope) -> Any:
        path = scope["path"]
        if path not in self._routes:
            routes = (r for r in app.router.routes if isinstance(r, BaseRoute))
            self._routes[path] = next((r for r in routes if r.matches(scope)[0] == Match.FULL), None)
        return self._routes[path]


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    """The body as `model`; invalid JSON or fields fail as FastAPI's body validation fails."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error.get("loc", ()))} for error in exc.errors()]
        ) from None


def _record_refusal(request: Request, caller: Caller, operation: str, raw: bytes, error: Exception) -> None:
    """A malformed call from a known caller is a refused call: a run record and a ledger entry."""
    try:
        alias = json.loads(raw).get("model")
    except (ValueError, AttributeError):
        alias = None
    call = CallContext(subject=caller.subject, key_id=caller.key_id)
    runtime_of(request).gateway.refuse(alias if isinstance(alias, str) else "", operation, call, error)


async def _handled(app: FastAPI, request: Request, exc: Exception) -> Response:
    for kind in type(exc).__mro__:
        handler = app.exception_handlers.get(kind)
        if handler is not None:
            response = handler(request, exc)  # ours are all coroutines (`problems.install`)
            return await response if inspect.isawaitable(response) else response
    raise exc
