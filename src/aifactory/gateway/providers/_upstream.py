"""HTTP to model vendors, shared by the providers: the API key by reference, one POST or one stream
with transport failures and error statuses classified, JSON answers checked."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from aifactory.errors import UpstreamAuthError, UpstreamTimeoutError, UpstreamUnavailableError
from aifactory.gateway.classify import classify_response

__all__ = ["Upstream", "api_key", "json_object"]


def api_key(name: str, env: str | None) -> str | None:
    """The key held by the environment variable `env`; None when the deployment names no variable.
    The key is read per call and kept nowhere, so it never reaches a log, a spec or a run record."""
    if env is None:
        return None
    key = os.environ.get(env)
    if not key:
        raise UpstreamAuthError(
            f"deployment {name}: the environment variable {env} that holds its API key is not set",
            deployment=name,
        )
    return key


@contextlib.contextmanager
def _transport_errors(name: str, timeout: float, what: str) -> Iterator[None]:
    """httpx's timeouts and broken connections as `UpstreamTimeoutError` and `UpstreamUnavailableError`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamTimeoutError(f"{name}: {what} within {timeout}s", deployment=name) from exc
    except httpx.TransportError as exc:
        raise UpstreamUnavailableError(f"{name}: {type(exc).__name__}: {exc}", deployment=name) from exc


@dataclass(frozen=True)
class Upstream:
    """How one deployment reaches its vendor: the shared connection pool, its name in errors, and
    its per-attempt deadline."""

    client: httpx.AsyncClient
    name: str
    timeout: float

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """A whole answer, or the classified `UpstreamError`."""
        with _transport_errors(self.name, self.timeout, "no answer"):
            response = await self.client.post(url, json=body, headers=headers, timeout=self.timeout)
        if response.status_code >= 400:
            raise classify_response(self.name, response.status_code, response.headers, response.content)
        return response

    @contextlib.asynccontextmanager
    async def stream(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """A streamed answer whose status is below 400; transport failures while it is read, in the
        `async with` block too, become `UpstreamTimeoutError` or `UpstreamUnavailableError`."""
        with _transport_errors(self.name, self.timeout, "no answer or stream chunk"):
            request = self.client.stream("POST", url, json=body, headers=headers, timeout=self.timeout)
            async with request as response:
                if response.status_code >= 400:
                    content = await response.aread()
                    raise classify_response(self.name, response.status_code, response.headers, content)
                yield response


def json_object(name: str, content: bytes) -> dict[str, Any]:
    """The JSON object an upstream sent; anything else is the upstream failing."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise UpstreamUnavailableError(f"{name}: the upstream sent malformed JSON", deployment=name) from exc
    if not isinstance(data, dict):
        raise UpstreamUnavailableError(f"{name}: the upstream sent a non-object JSON", deployment=name)
    return data
