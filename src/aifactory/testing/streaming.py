"""Writing a chat stream (server-sent events over chunked HTTP), with its delays and stream faults.

The events come framed by the wire format that asked for them (`aifactory.testing.wire`): OpenAI's
`data:` lines ending in `data: [DONE]`, or Anthropic's named events ending in `message_stop`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aifactory.testing import _http
from aifactory.testing.faults import Faults

__all__ = ["SSE_HEADERS", "Sse", "write_stream"]

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "transfer-encoding": "chunked",
}


@dataclass(frozen=True, slots=True)
class Sse:
    """One streamed answer, ready for the wire."""

    events: list[bytes]
    """Every event, whole (`data: ...` and a blank line), the one that ends the stream last."""
    first_content: int
    """The index of the first event that carries content or a tool call."""
    error: bytes
    """The event `error_event_after_first_chunk` sends after the first content."""
    garbage: bytes
    """The event `malformed_sse` inserts: a `data:` line that is not JSON."""


async def write_stream(
    sse: Sse,
    faults: Faults,
    *,
    delay: float,
    bounded: Callable[[float], float],
    writer: asyncio.StreamWriter,
    keep: bool,
) -> bool:
    """Write the response to a streaming request; whether the connection may carry another request.

    `delay` is the pause before every event after the first.
    """
    writer.write(_http.head(200, SSE_HEADERS, keep_alive=keep))
    if not delay and not faults.has_stream_faults:
        writer.write(b"".join(_http.chunk(event) for event in sse.events) + _http.LAST_CHUNK)
        return keep
    return await _write_slowly(sse, faults, delay, bounded, writer, keep)


async def _write_slowly(
    sse: Sse,
    faults: Faults,
    delay: float,
    bounded: Callable[[float], float],
    writer: asyncio.StreamWriter,
    keep: bool,
) -> bool:
    if faults.slow_first_token:
        await writer.drain()
        await asyncio.sleep(bounded(faults.slow_first_token))
    last = len(sse.events) - 1  # a cut or garbage never comes after the stream's end
    cut = None if faults.cut_after is None else min(faults.cut_after, last)
    garbage = None if faults.malformed_after is None else min(faults.malformed_after, last)
    for index, event in enumerate(sse.events):
        if writer.is_closing():  # the client left: stop, rather than write into a dead socket
            raise ConnectionResetError("the client closed the connection")
        if index == garbage:
            writer.write(_http.chunk(sse.garbage))
        if index == cut:
            await writer.drain()
            writer.close()  # flushes what was sent, then FIN: the chunked body never ends
            return False
        if index and delay:
            await writer.drain()
            await asyncio.sleep(delay)
        writer.write(_http.chunk(event))
        if faults.error_event and index == sse.first_content:
            writer.write(_http.chunk(sse.error) + _http.LAST_CHUNK)
            break
    else:
        writer.write(_http.LAST_CHUNK)
    await writer.drain()
    return keep
