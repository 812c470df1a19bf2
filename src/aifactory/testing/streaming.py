"""Writing a chat stream as OpenAI does (SSE over chunked HTTP), with its delays and stream faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aifactory.testing import _http
from aifactory.testing.faults import ErrorShape, Faults

__all__ = ["STREAM_ERROR", "write_stream"]

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "transfer-encoding": "chunked",
}
GARBAGE = b'data: {"id": "chatcmpl-garbage", "choices": [{"delta": {"content": \n\n'
STREAM_ERROR = ErrorShape(500, "The server had an error while streaming (injected fault).", "server_error")
"""The payload of `data: {"error": ...}` that `error_event_after_first_chunk` sends."""


def _frame(data: bytes) -> bytes:
    return _http.chunk(b"data: %s\n\n" % data)


async def write_stream(
    events: list[bytes],
    first_content: int,
    faults: Faults,
    *,
    delay: float,
    bounded: Callable[[float], float],
    writer: asyncio.StreamWriter,
    keep: bool,
) -> bool:
    """Write the response to a streaming request; whether the connection may carry another request.

    `events` are the JSON chunks (without `[DONE]`), `first_content` the index of the first that
    carries content, `delay` the pause before every event after the first.
    """
    writer.write(_http.head(200, SSE_HEADERS, keep_alive=keep))
    if not delay and not faults.has_stream_faults:
        writer.write(b"".join(_frame(event) for event in [*events, b"[DONE]"]) + _http.LAST_CHUNK)
        return keep
    return await _write_slowly(events, first_content, faults, delay, bounded, writer, keep)


async def _write_slowly(
    events: list[bytes],
    first_content: int,
    faults: Faults,
    delay: float,
    bounded: Callable[[float], float],
    writer: asyncio.StreamWriter,
    keep: bool,
) -> bool:
    if faults.slow_first_token:
        await writer.drain()
        await asyncio.sleep(bounded(faults.slow_first_token))
    cut = None if faults.cut_after is None else min(faults.cut_after, len(events))
    garbage = None if faults.malformed_after is None else min(faults.malformed_after, len(events))
    for index, event in enumerate([*events, b"[DONE]"]):
        if writer.is_closing():  # the client left: stop, rather than write into a dead socket
            raise ConnectionResetError("the client closed the connection")
        if index == garbage:
            writer.write(_http.chunk(GARBAGE))
        if index == cut:
            await writer.drain()
            writer.close()  # flushes what was sent, then FIN: the chunked body never ends
            return False
        if index and delay:
            await writer.drain()
            await asyncio.sleep(delay)
        writer.write(_frame(event))
        if faults.error_event and index == first_content:
            writer.write(_frame(json.dumps(STREAM_ERROR.body()).encode()) + _http.LAST_CHUNK)
            break
    else:
        writer.write(_http.LAST_CHUNK)
    await writer.drain()
    return keep
