"""OpenAI's error shape, used on the OpenAI-compatible routes instead of problem+json."""

from __future__ import annotations

from typing import Any

from aifactory.errors import AifactoryError, error_code, status_for

__all__ = ["OPENAI_PATHS", "openai_error_body"]

OPENAI_PATHS = ("/v1/chat/completions", "/v1/embeddings", "/v1/models")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_body(
    error: AifactoryError | None,
    *,
    status: int | None = None,
    message: str = "",
    run_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}` for an error (or a bare status and message)."""
    status = status or (status_for(error) if error is not None else 500)
    body: dict[str, Any] = {
        "message": message or (error.detail if error is not None else "error"),
        "type": _TYPES.get(status, "api_error"),
        "param": None,
        "code": None if error is None else error_code(type(error)),
    }
    if run_id is not None:
        body["run_id"] = run_id
    body.update(extra)
    return {"error": body}
