"""The fake provider's server: OpenAI's and Anthropic's wire formats on loopback, with faults chosen
per request.

Routes: OpenAI's `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`,
`GET /v1/models/{id}`; Anthropic's `POST /v1/messages`. Control routes for tests: `POST /_fake/plan`,
`POST /_fake/reset`, `GET /_fake/calls` (see `FakeServer`). Any model name is accepted; `/v1/models`
lists the configured ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aifactory.errors import InvalidInputError
from aifactory.testing import _http
from aifactory.testing.anthropic import ANTHROPIC
from aifactory.testing.calls import Call, CallLog
from aifactory.testing.control import CONTROL_ROUTES, control
from aifactory.testing.embeddings import embeddings
from aifactory.testing.faults import ErrorShape, Faults, error_shape, parse_faults
from aifactory.testing.plan import Plan
from aifactory.testing.replies import answer
from aifactory.testing.settings import FakeSettings
from aifactory.testing.streaming import write_stream
from aifactory.testing.wire import OPENAI, Wire

__all__ = ["HOST", "FakeServer", "FakeSettings"]

HOST = "127.0.0.1"
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Exchange:
    """One `/v1` request on its way to an answer."""

    request: _http.Request
    body: Any
    faults: Faults
    reply: str | None
    writer: asyncio.StreamWriter
    wire: Wire

    @property
    def keep(self) -> bool:
        return self.request.is_keep_alive

    def send(self, payload: Any, extra: dict[str, str] | None = None) -> bool:
        """Answer 200 with JSON; whether the connection may carry another request."""
        self.writer.write(_http.json_response(200, payload, keep_alive=self.keep, extra=extra))
        return self.keep

    def fail(self, shape: ErrorShape, extra: dict[str, str] | None = None) -> bool:
        """Answer with an error in the route's wire format."""
        body = self.wire.error(shape)
        self.writer.write(_http.json_response(shape.status, body, keep_alive=self.keep, extra=extra))
        return self.keep


Route = Callable[[_Exchange], Awaitable[bool]]
_Target = tuple[Route, bool, Wire]  # the route, whether plans apply to it, its wire format


class FakeServer:
    """The fake provider on the running event loop: `async with FakeServer() as server: server.url`."""

    def __init__(self, settings: FakeSettings | None = None) -> None:
        self.settings = settings or FakeSettings()
        self._plan = Plan()
        self._calls = CallLog(self.settings.max_calls)
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._port = 0
        self._v1: dict[tuple[str, str], _Target] = {
            ("POST", "/v1/chat/completions"): (self._chat, True, OPENAI),
            ("POST", "/v1/messages"): (self._chat, True, ANTHROPIC),
            ("POST", "/v1/embeddings"): (self._embeddings, True, OPENAI),
            ("GET", "/v1/models"): (self._models, False, OPENAI),
        }

    @property
    def port(self) -> int:
        """The port it listens on (after `start`)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL for OpenAI clients, ending in `/v1`."""
        return f"http://{HOST}:{self._port}/v1"

    @property
    def calls(self) -> list[Call]:
        """The `/v1` requests received so far, oldest first (the last `max_calls`)."""
        return self._calls.snapshot()

    def plan(
        self,
        model: str,
        faults: Iterable[str | None] = (),
        *,
        then: str | None = None,
        reply: str | None = None,
    ) -> None:
        """Script the next calls to `model` (`*`: any model without a plan); see `aifactory.testing.plan`."""
        self._plan.set(model, faults, then=then, reply=reply)

    def reset(self) -> None:
        """Forget every plan and every logged call."""
        self._plan.clear()
        self._calls.clear()

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(
            self._connection, HOST, self.settings.port, limit=_http.MAX_HEAD, backlog=1024
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is None:
            return
        self._server.close()
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        await asyncio.sleep(0)  # lets the aborted transports finish closing

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- connections ----------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while not writer.is_closing():
                try:
                    request = await _http.read_request(reader, writer)
                except _http.HttpError as exc:
                    writer.write(_error(ErrorShape(exc.status, exc.message, "invalid_request_error"), False))
                    break
                if request is None or not await self._respond(request, reader, writer):
                    break
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Only `stop` cancels a connection. Not re-raised: asyncio 3.11's stream callback logs
            # cancelled connection tasks as errors.
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _respond(
        self, request: _http.Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; whether the connection may carry another."""
        keep = request.is_keep_alive
        try:
            if (request.method, request.path) in CONTROL_ROUTES:
                payload = control(request, self._plan, self._calls)
                writer.write(_http.json_response(200, payload, keep_alive=keep))
                return keep
            route = self._v1.get((request.method, request.path))
            if route is None and request.method == "GET" and request.path.startswith("/v1/models/"):
                route = (self._model, False, OPENAI)
            if route is None:
                shape = ErrorShape(
                    404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
                )
                writer.write(_error(shape, keep))
                return keep
            return await self._serve_v1(request, reader, writer, *route)
        except InvalidInputError as exc:
            writer.write(_error(_invalid(exc), keep))
            return keep
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            _log.exception("fake provider failed on %s %s", request.method, request.path)
            writer.write(
                _error(ErrorShape(500, "The fake provider failed; see its log.", "server_error"), False)
            )
            return False

    async def _serve_v1(
        self,
        request: _http.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        route: Route,
        is_planned: bool,
        wire: Wire,
    ) -> bool:
        keep = request.is_keep_alive
        body = _decode(request.body)
        model = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None
        header = request.headers.get("x-fake-fault")
        try:
            if header is not None:
                faults, reply = parse_faults(header), None
            else:
                faults, reply = self._plan.next(model) if is_planned else (parse_faults(None), None)
        except InvalidInputError as exc:
            self._record(request, body, model, "")
            shape = ErrorShape(400, exc.detail, "invalid_request_error", "X-Fake-Fault")
            writer.write(_http.json_response(400, wire.error(shape), keep_alive=keep))
            return keep
        self._record(request, body, model, faults.spec)
        exchange = _Exchange(request, body, faults, reply, writer, wire)
        if not self._is_authorized(request, wire):
            return exchange.fail(error_shape("auth"))
        replaced = await self._misbehave(exchange, reader)
        return await route(exchange) if replaced is None else replaced

    def _record(self, request: _http.Request, body: Any, model: str | None, spec: str) -> None:
        self._calls.append(
            Call(request.method, request.path, request.headers, body, model, spec, time.time())
        )

    def _is_authorized(self, request: _http.Request, wire: Wire) -> bool:
        key = self.settings.api_key
        return key is None or wire.key(request.headers) == key

    def _bounded(self, seconds: float) -> float:
        return min(seconds, self.settings.max_delay)

    async def _misbehave(self, exchange: _Exchange, reader: asyncio.StreamReader) -> bool | None:
        """Apply the faults that replace or delay the whole response; `None` when the route should answer."""
        faults, writer = exchange.faults, exchange.writer
        is_stream = isinstance(exchange.body, dict) and exchange.body.get("stream") is True
        if faults.refuse:
            _http.reset(writer)
            return False
        if faults.disconnect:
            writer.close()
            return False
        if faults.stall is not None:
            # Wait for the client to hang up, or for the stall to end; either way, no answer.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(1), self._bounded(faults.stall))
            writer.close()
            return False
        delay = faults.slow or (0.0 if is_stream else faults.slow_first_token)
        if delay:
            await asyncio.sleep(self._bounded(delay))
        if faults.error:
            retry = faults.retry_after
            return exchange.fail(
                error_shape(faults.error), {} if retry is None else {"retry-after": f"{retry:g}"}
            )
        return None

    # --- routes ---------------------------------------------------------------------------------------

    async def _chat(self, exchange: _Exchange) -> bool:
        wire, faults = exchange.wire, exchange.faults
        try:
            body = wire.read(exchange.request, exchange.body)
        except InvalidInputError as exc:
            return exchange.fail(_invalid(exc))
        number = next(self._numbers)
        reply = self.settings.reply if exchange.reply is None else exchange.reply
        result = answer(body, reply=reply, tool_call=faults.tool_call, number=number)
        if result.prompt_tokens > self.settings.context_window:
            return exchange.fail(wire.too_long(result.prompt_tokens, self.settings.context_window))
        if faults.chunk_chars is not None:
            result = dataclasses.replace(result, chunk_chars=faults.chunk_chars)
        if exchange.body.get("stream") is not True:
            payload = wire.whole(body, result, number)
            return exchange.send(payload, {wire.request_id_header: f"req_{number}"})
        delay = self.settings.token_delay if faults.token_delay is None else faults.token_delay
        return await write_stream(
            wire.stream(body, result, number),
            faults,
            delay=self._bounded(delay),
            bounded=self._bounded,
            writer=exchange.writer,
            keep=exchange.keep,
        )

    async def _embeddings(self, exchange: _Exchange) -> bool:
        return exchange.send(embeddings(exchange.body, default_dimensions=self.settings.dimensions))

    async def _models(self, exchange: _Exchange) -> bool:
        return exchange.send({"object": "list", "data": [_model_card(name) for name in self.settings.models]})

    async def _model(self, exchange: _Exchange) -> bool:
        name = exchange.request.path.removeprefix("/v1/models/")
        if name in self.settings.models:
            return exchange.send(_model_card(name))
        message = f"The model '{name}' does not exist"
        return exchange.fail(ErrorShape(404, message, "invalid_request_error", "model", "model_not_found"))


def _decode(raw: bytes) -> Any:
    """The body as JSON; its text when it is not JSON; `None` when empty."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "aifactory-fake"}


def _invalid(exc: InvalidInputError) -> ErrorShape:
    return ErrorShape(400, exc.detail, "invalid_request_error", exc.extra.get("param"))


def _error(shape: ErrorShape, keep: bool, extra: dict[str, str] | None = None) -> bytes:
    return _http.json_response(shape.status, shape.body(), keep_alive=keep, extra=extra)
