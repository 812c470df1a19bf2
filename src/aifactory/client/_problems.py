"""Classify a failed HTTP exchange into the error tree, once, at the SDK's boundary.

The server answers errors in two shapes: RFC 9457 problem+json (`detail`, `title`) everywhere, and
OpenAI's `{"error": {"message", "type", "code"}}` on the OpenAI-compatible routes, whose `code` is the
snake_case name of the error class (`BudgetExceededError` -> `budget_exceeded`). A stream that fails
after content was sent ends with an OpenAI-shaped `data: {"error": ...}` event instead.
"""

from __future__ import annotations

from typing import Any

import httpx

from aifactory import errors
from aifactory.errors import (
    STATUS_BY_ERROR,
    AifactoryError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GateRefusedError,
    GoneError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

__all__ = ["error_from_event", "error_from_response", "error_from_transport"]

_ERROR_BY_STATUS: dict[int, type[AifactoryError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    429: LimitExceededError,
    502: UpstreamError,
    503: UpstreamUnavailableError,
    504: UpstreamTimeoutError,
}
"""The inverse of `aifactory.errors.STATUS_BY_ERROR`; any other status is a plain AifactoryError."""

_STATUS_BY_OPENAI_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "rate_limit_error": 429,
    "server_error": 503,
}
"""OpenAI's error `type`s and the status they stand for (what an error event in a stream lacks)."""


def _error_classes() -> list[type[AifactoryError]]:
    found = [getattr(errors, name) for name in errors.__all__]
    return [cls for cls in found if isinstance(cls, type) and issubclass(cls, AifactoryError)]


_ERROR_BY_CODE = {errors.error_code(cls): cls for cls in _error_classes()}
_ERROR_BY_TITLE = {cls.title: cls for cls in _error_classes()}

_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


def error_from_response(response: httpx.Response) -> AifactoryError:
    """The error a problem+json, OpenAI-shaped (or any failed) response stands for; the rest in `extra`."""
    body = _error_body(response)
    detail = body.pop("detail", None) or f"HTTP {response.status_code} from {response.request.url}"
    if response.headers.get("x-request-id"):
        body.setdefault("request_id", response.headers["x-request-id"])
    return _error_class(response.status_code, body)(str(detail), **body)


def error_from_event(error: Any) -> AifactoryError:
    """The error an SSE `data: {"error": ...}` event stands for (the stream broke after content)."""
    body = _openai_fields(error if isinstance(error, dict) else {"message": str(error)})
    detail = str(body.pop("detail", None) or "the stream ended with an error event")
    named = _ERROR_BY_CODE.get(str(body.get("code")))
    if named is None:
        status = _STATUS_BY_OPENAI_TYPE.get(str(body.get("openai_type")))
        named = UpstreamError if status is None else _ERROR_BY_STATUS.get(status, UpstreamError)
    return named(detail, **body)


def error_from_transport(base_url: str, exc: httpx.TransportError) -> AifactoryError:
    """The error for a request that got no response; naming the URL is what makes it actionable."""
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, _UNREACHABLE):
        # Nothing answered: a wrong AIFACTORY_URL or a server that is not running, both set-up faults.
        return ConfigurationError(
            f"cannot reach the aifactory server at {base_url} ({reason}); is it running, "
            "and is AIFACTORY_URL (an http:// or https:// URL) right?",
            url=base_url,
        )
    return AifactoryError(f"the request to {base_url} failed ({reason})", url=base_url)


def _status_of(cls: type[AifactoryError]) -> int:
    return next((STATUS_BY_ERROR[c] for c in cls.__mro__ if c in STATUS_BY_ERROR), 500)


def _error_class(status: int, body: dict[str, Any]) -> type[AifactoryError]:
    named = _ERROR_BY_CODE.get(str(body.get("code"))) or _ERROR_BY_TITLE.get(str(body.get("title")))
    if named is not None and _status_of(named) == status:
        return named
    if status == 409 and "unmet" in body:
        return GateRefusedError
    return _ERROR_BY_STATUS.get(status, AifactoryError)


def _openai_fields(error: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's error object with `message` as `detail` and `type` as `openai_type`.

    `type` is renamed because a problem document's `type` is a URI (see `cli._output.problem_of`).
    """
    body = dict(error)
    body["detail"] = body.pop("message", None)
    if "type" in body:
        body["openai_type"] = body.pop("type")
    return body


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {"status": response.status_code, "body": response.text[:500]}
    if isinstance(body.get("error"), dict):
        return _openai_fields(body["error"])
    return body
