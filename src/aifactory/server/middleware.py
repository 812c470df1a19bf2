"""ASGI middleware: request ids, the body size limit, metrics and an access log without secrets."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aifactory.identity.keys import redact_key
from aifactory.server.metrics import Metrics
from aifactory.server.openai_errors import OPENAI_PATHS, openai_error_body

__all__ = ["RequestMiddleware"]

log = logging.getLogger("aifactory.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestMiddleware:
    """Gives every request an id, refuses oversize bodies with 413, times and logs requests."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_too_large(send, request_id, self.max_body_bytes, scope["path"])
            self._record(scope, 413, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI turns errors while reading a body into 400 but lets HTTPException
                    # through to the problem+json handler.
                    raise HTTPException(
                        413,
                        f"the request body is larger than {self.max_body_bytes} "
                        "bytes (AIFACTORY_MAX_BODY_BYTES)",
                    )
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        finally:
            self._record(scope, status, started, request_id)

    def _record(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = str(getattr(route, "path", "unmatched"))
        self.metrics.observe(scope["method"], template, status, elapsed)
        log.info(
            "%s %s %d %.1fms id=%s",
            scope["method"],
            redact_key(scope["path"]),
            status,
            elapsed * 1000,
            request_id,
        )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _SAFE_ID.match(text):
                return text
    return uuid.uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, request_id: str, limit: int, path: str) -> None:
    detail = f"the request body is larger than {limit} bytes (AIFACTORY_MAX_BODY_BYTES)"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Payload too large",
        "status": 413,
        "detail": detail,
        "instance": path,
        "request_id": request_id,
    }
    media_type = b"application/problem+json"
    if path in OPENAI_PATHS:
        body = openai_error_body(None, status=413, message=detail, request_id=request_id)
        media_type = b"application/json"
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
