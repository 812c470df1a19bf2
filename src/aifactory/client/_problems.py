"""Classify a failed HTTP exchange into the error tree, once, at the SDK's boundary."""

from __future__ import annotations

from typing import Any

import httpx

from aifactory.errors import (
    AifactoryError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GateRefusedError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)

__all__ = ["error_from_response", "error_from_transport"]

_ERROR_BY_STATUS: dict[int, type[AifactoryError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
}
"""The inverse of `aifactory.errors.STATUS_BY_ERROR`; any other status is a plain AifactoryError."""

_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


def error_from_response(response: httpx.Response) -> AifactoryError:
    """The error a problem+json (or any failed) response stands for: `detail` + the rest in `extra`."""
    body = _problem_body(response)
    detail = body.pop("detail", None) or f"HTTP {response.status_code} from {response.request.url}"
    if response.headers.get("x-request-id"):
        body.setdefault("request_id", response.headers["x-request-id"])
    return _error_class(response.status_code, body)(str(detail), **body)


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


def _error_class(status: int, body: dict[str, Any]) -> type[AifactoryError]:
    if status == 409 and "unmet" in body:
        return GateRefusedError
    return _ERROR_BY_STATUS.get(status, AifactoryError)


def _problem_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"status": response.status_code, "body": response.text[:500]}
