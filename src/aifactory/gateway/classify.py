"""Upstream errors, classified once into the `UpstreamError` tree (HTTP status, error code, body).

Both error bodies in use are read here: OpenAI's `{"error": {"message", "type", "code"}}` and
Anthropic's `{"type": "error", "error": {"type", "message"}}` (its 529 `overloaded_error` is a 5xx
like any other; a `prompt is too long` refusal is a context window error).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from aifactory.errors import (
    ContentFilteredError,
    ContextWindowExceededError,
    RateLimitedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

__all__ = ["classify_response", "classify_stream_error", "retry_after_seconds"]

_CONTEXT_HINTS = (
    "context_length_exceeded",
    "context length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
)
_FILTER_HINTS = ("content_filter", "content_policy", "content filtering")
_STREAM_KINDS: tuple[tuple[str, type[UpstreamError]], ...] = (
    ("rate", RateLimitedError),
    ("timeout", UpstreamTimeoutError),
    ("authentication", UpstreamAuthError),
    ("permission", UpstreamAuthError),
    ("server", UpstreamUnavailableError),
    ("overloaded", UpstreamUnavailableError),
    ("unavailable", UpstreamUnavailableError),
    ("api_error", UpstreamUnavailableError),
)
"""Error kinds (OpenAI's `type` or `code`, Anthropic's `type`) sent inside a stream, by substring."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if "," in value else None
    return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def _error_body(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError:
        return {"message": content[:200].decode("utf-8", "replace")}
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return data if isinstance(data, dict) else {}


def classify_response(name: str, status: int, headers: Mapping[str, str], content: bytes) -> UpstreamError:
    """The typed error for an upstream HTTP error response."""
    error = _error_body(content)
    message = f"{name}: upstream {status}: {str(error.get('message') or '')[:300]}"
    if status == 429:
        return RateLimitedError(
            message, retry_after=retry_after_seconds(headers.get("retry-after")), deployment=name
        )
    if status in (401, 403):
        return UpstreamAuthError(message, deployment=name)
    if status in (408, 504):
        return UpstreamTimeoutError(message, deployment=name)
    if status >= 500:
        return UpstreamUnavailableError(message, deployment=name)
    return _classify_client_error(name, message, error)


def classify_stream_error(name: str, error: Any) -> UpstreamError:
    """The typed error for an error payload sent inside a stream."""
    body = error if isinstance(error, dict) else {"message": str(error)}
    message = f"{name}: upstream error in stream: {str(body.get('message') or '')[:300]}"
    kind = str(body.get("type") or body.get("code") or "").lower()
    if not kind:
        return UpstreamUnavailableError(message, deployment=name)
    for hint, error_class in _STREAM_KINDS:
        if hint in kind:
            return error_class(message, deployment=name)
    return _classify_client_error(name, message, body)


def _classify_client_error(name: str, message: str, error: Mapping[str, Any]) -> UpstreamError:
    code = str(error.get("code") or "").lower()
    text = f"{code} {str(error.get('message') or '').lower()}"
    if any(hint in text for hint in _CONTEXT_HINTS):
        return ContextWindowExceededError(message, deployment=name)
    if any(hint in text for hint in _FILTER_HINTS):
        return ContentFilteredError(message, deployment=name)
    return UpstreamBadRequestError(message, deployment=name)
