"""The HTTP core of the SDK: one authenticated `httpx.AsyncClient` whose failures are classified once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from aifactory import __version__
from aifactory.client._problems import error_from_response, error_from_transport
from aifactory.errors import AifactoryError, ConfigurationError

__all__ = ["Channel", "Timeout", "present", "segment"]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

Timeout = httpx.Timeout | None
"""A per-request timeout; None means the client's own."""


def segment(value: str | int) -> str:
    """One path segment, quoted so that a reference can never reach another route."""
    return quote(str(value), safe=":@")


def present(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without its unset (None) fields, so that the server's defaults apply."""
    return {key: value for key, value in body.items() if value is not None}


class Channel:
    """Sends requests to one server with one API key; every failure raises an `AifactoryError`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
    ) -> None:
        headers = {"User-Agent": f"aifactory-python/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        try:
            self._http = httpx.AsyncClient(
                base_url=self.base_url, headers=headers, transport=transport, timeout=timeout
            )
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"invalid server URL {base_url!r}: {exc}", url=base_url) from exc

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeouts every request gets unless it says otherwise."""
        return self._http.timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = None,
    ) -> httpx.Response:
        """The response to a request; problem responses and transport failures raise."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._http.request(
                method, path, json=json, params=query, headers=headers, timeout=timeout or self.timeout
            )
        except httpx.TransportError as exc:
            raise error_from_transport(self.base_url, exc) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = None,
    ) -> AsyncIterator[httpx.Response]:
        """A response whose body is read as it arrives; failures (also while reading) raise."""
        try:
            async with self._http.stream(
                method, path, json=json, headers=headers, timeout=timeout or self.timeout
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise error_from_response(response)
                yield response
        except httpx.TransportError as exc:
            raise error_from_transport(self.base_url, exc) from exc

    async def parse(self, read: Callable[[Any], T], method: str, path: str, **kwargs: Any) -> T:
        """`read` applied to the JSON body; a body of the wrong shape is an `AifactoryError`."""
        response = await self.request(method, path, **kwargs)
        try:
            return read(response.json())
        except (ValueError, TypeError, KeyError) as exc:  # ValidationError is a ValueError
            raise AifactoryError(f"unexpected response from {method} {path}: {exc}") from exc

    async def one(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        """The response body as one record."""
        return await self.parse(model.model_validate, method, path, **kwargs)

    async def many(self, model: type[M], method: str, path: str, **kwargs: Any) -> list[M]:
        """The response body as a list of records."""
        return await self.parse(
            lambda data: [model.model_validate(item) for item in data], method, path, **kwargs
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
