"""HTTP to model vendors, shared by the providers: the API key by reference, one POST or one stream
with transport failures and error statuses classified, JSON answers checked.

Two connection pools (`Transport`). Whole answers go through aiohttp: it is the gateway's hottest
loop, and on the benchmark machine an httpx request to a loopback upstream costs about 1.6 ms of CPU
against aiohttp's 0.4 ms. Streams go through httpx: when an upstream cuts a stream, aiohttp raises
at once and drops the events it had already received in the same read, while httpx hands them over
first; a gateway must forward what was sent before it reports the cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from aifactory.errors import UpstreamAuthError, UpstreamTimeoutError, UpstreamUnavailableError
from aifactory.gateway.classify import classify_response

__all__ = ["Reply", "Transport", "Upstream", "api_key", "json_object"]

_CONNECT_SECONDS = 10.0
_MAX_CONNECTIONS = 512


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
    """Timeouts and broken connections (aiohttp's and httpx's) as `UpstreamTimeoutError` and
    `UpstreamUnavailableError`."""
    try:
        yield
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise UpstreamTimeoutError(f"{name}: {what} within {timeout}s", deployment=name) from exc
    except (httpx.TransportError, aiohttp.ClientError) as exc:
        raise UpstreamUnavailableError(
            f"{name}: {type(exc).__name__}: {str(exc)[:300]}", deployment=name
        ) from exc


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole upstream answer."""

    status: int
    headers: Mapping[str, str]
    content: bytes


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context (system CAs via certifi) for every pool in the process: building it reads the
    CA bundle, about 20 ms, which every runtime would otherwise pay again."""
    return httpx.create_ssl_context()


class Transport:
    """The gateway's connection pools to model vendors: aiohttp for whole answers (one session per
    event loop: a session belongs to the loop it was made on), httpx for streams."""

    def __init__(self, *, streams: httpx.AsyncClient | None = None) -> None:
        self.streams = streams or httpx.AsyncClient(
            verify=_tls(),
            limits=httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=128),
            timeout=httpx.Timeout(60, connect=_CONNECT_SECONDS),
        )
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session of the running event loop."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None:
            for gone in [other for other in self._sessions if other.is_closed()]:
                del self._sessions[gone]
            connector = aiohttp.TCPConnector(limit=_MAX_CONNECTIONS, ttl_dns_cache=300)
            # trust_env: HTTP(S)_PROXY and NO_PROXY apply, as they do to httpx (the streams)
            session = self._sessions[loop] = aiohttp.ClientSession(connector=connector, trust_env=True)
        return session

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> Reply:
        """POST `body` as JSON and read the whole answer (per-read deadline `timeout`)."""
        limits = aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout, _CONNECT_SECONDS), sock_read=timeout
        )
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", **headers}
        async with self.session().post(url, data=data, headers=headers, timeout=limits) as response:
            return Reply(response.status, response.headers, await response.read())

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close both pools (the sessions of event loops that are gone are dropped)."""
        await self.streams.aclose()
        sessions, self._sessions = self._sessions, {}
        running = asyncio.get_running_loop()
        for loop, session in sessions.items():
            if loop is running:
                await session.close()
            elif not loop.is_closed():
                asyncio.run_coroutine_threadsafe(session.close(), loop)


@dataclass(frozen=True)
class Upstream:
    """How one deployment reaches its vendor: the shared connection pools, its name in errors, and
    its per-attempt deadline."""

    transport: Transport
    name: str
    timeout: float

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        """A whole answer, or the classified `UpstreamError`."""
        with _transport_errors(self.name, self.timeout, "no answer"):
            reply = await self.transport.post(url, body, headers, self.timeout)
        if reply.status >= 400:
            raise classify_response(self.name, reply.status, reply.headers, reply.content)
        return reply

    @contextlib.asynccontextmanager
    async def stream(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """A streamed answer whose status is below 400; transport failures while it is read, in the
        `async with` block too, become `UpstreamTimeoutError` or `UpstreamUnavailableError`."""
        with _transport_errors(self.name, self.timeout, "no answer or stream chunk"):
            request = self.transport.streams.stream(
                "POST", url, json=body, headers=headers, timeout=self.timeout
            )
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
