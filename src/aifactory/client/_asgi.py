"""`AppTransport`: the SDK talking to an ASGI app in process, with response bodies streamed.

`httpx.ASGITransport` runs the app to completion before it returns a response, so a streamed chat
would arrive all at once. This transport returns as soon as the app starts its response and hands
over each body part as the app sends it; closing the response tells the app the client went away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx

__all__ = ["AppTransport"]

Message = MutableMapping[str, Any]
App = Any  # an ASGI callable: typing it exactly buys nothing here


class _Body(httpx.AsyncByteStream):
    """The body parts the app sends, as it sends them."""

    def __init__(self, parts: asyncio.Queue[bytes | None], task: asyncio.Task[None]) -> None:
        self._parts = parts
        self._task = task
        self.disconnected = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (part := await self._parts.get()) is not None:
            yield part

    async def aclose(self) -> None:
        self.disconnected.set()
        if not self._task.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 1)
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task  # its failure after the response started was already the body's end


class AppTransport(httpx.AsyncBaseTransport):
    """Sends each request to an ASGI `app` in this event loop (unhandled app errors become 500s)."""

    def __init__(self, app: App, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body: bytes | None = await request.aread()
        parts: asyncio.Queue[bytes | None] = asyncio.Queue()
        started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        stream: _Body | None = None

        async def receive() -> Message:
            nonlocal body
            if body is not None:
                chunk, body = body, None
                return {"type": "http.request", "body": chunk, "more_body": False}
            assert stream is not None  # the app waits for a disconnect only once it has started
            await stream.disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message)
            elif message["type"] == "http.response.body" and message.get("body") and request.method != "HEAD":
                await parts.put(bytes(message["body"]))

        async def run() -> None:
            try:
                await self.app(self._scope(request), receive, send)
            finally:
                await parts.put(None)

        task = asyncio.create_task(run())
        stream = _Body(parts, task)
        waiters: list[asyncio.Future[Any]] = [started, task]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            with contextlib.suppress(Exception):
                task.result()  # the app failed (or ended) before answering: a server error
            return httpx.Response(500, content=b"internal error in the in-process app", request=request)
        start = started.result()
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
        return httpx.Response(start["status"], headers=headers, stream=stream, request=request)

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self.client,
            "root_path": "",
        }
