"""`FakeProvider`: the fake OpenAI-compatible server in a background thread, for tests and by hand.

    with FakeProvider() as fake:
        client = openai.OpenAI(base_url=fake.url, api_key="any")
        fake.plan("gpt-x", ["503", "503"])        # the next two calls to gpt-x fail
        client.chat.completions.create(model="gpt-x", messages=[...])
        assert len(fake.calls) == 3                # the SDK retried twice

Standalone: `python -m aifactory.testing.fake_provider --port 8089`, then point any OpenAI client at
`http://127.0.0.1:8089/v1` and steer it with the `X-Fake-Fault` header or `POST /_fake/plan`.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterable, Sequence
from types import TracebackType

from aifactory.testing.calls import Call
from aifactory.testing.server import FakeServer, FakeSettings

__all__ = ["FakeProvider", "main"]

_STOP_TIMEOUT = 10.0


class FakeProvider:
    """A `FakeServer` on its own event loop in a daemon thread, started and stopped by `with`."""

    def __init__(self, settings: FakeSettings | None = None) -> None:
        self.server = FakeServer(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL for OpenAI clients: `http://127.0.0.1:<port>/v1`."""
        return self.server.url

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.server.port

    @property
    def calls(self) -> list[Call]:
        """The `/v1` requests received so far, oldest first."""
        return self.server.calls

    def plan(
        self,
        model: str,
        faults: Iterable[str | None] = (),
        *,
        then: str | None = None,
        reply: str | None = None,
    ) -> None:
        """Script the next calls to `model`: `faults` in turn (`None` = a normal answer), then `then`."""
        self.server.plan(model, faults, then=then, reply=reply)

    def reset(self) -> None:
        """Forget every plan and every logged call."""
        self.server.reset()

    def start(self) -> None:
        """Start serving; returns once the port is open."""
        if self._thread is not None:
            raise RuntimeError("the fake provider is already running")
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="aifactory-fake-provider", daemon=True
        )
        self._thread.start()
        try:
            started.result()
        except BaseException:
            self._thread.join()
            self._thread = self._loop = None
            raise

    def stop(self) -> None:
        """Stop serving, drop open connections and end the thread."""
        if self._thread is None or self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(_STOP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_STOP_TIMEOUT)
        self._thread = self._loop = None

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            loop.run_forever()
            _cancel_leftovers(loop)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __enter__(self) -> FakeProvider:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks still pending when the loop stopped, as `asyncio.run` does."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aifactory.testing.fake_provider",
        description="A fault-injecting fake OpenAI-compatible server on 127.0.0.1.",
    )
    defaults = FakeSettings()
    parser.add_argument("--port", type=int, default=8089, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--reply", default=None, help="the text of every answer (default: echo the user)")
    parser.add_argument("--model", action="append", dest="models", help="a model id /v1/models lists")
    parser.add_argument("--dimensions", type=int, default=defaults.dimensions, help="embedding size")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between stream chunks")
    parser.add_argument("--api-key", default=None, help="require this bearer token on /v1 routes")
    return parser


async def _serve(settings: FakeSettings) -> None:
    async with FakeServer(settings) as server:
        print(f"fake provider listening on {server.url}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake provider in the foreground until interrupted."""
    args = _parser().parse_args(argv)
    settings = FakeSettings(
        port=args.port,
        reply=args.reply,
        models=tuple(args.models or FakeSettings().models),
        dimensions=args.dimensions,
        token_delay=args.token_delay,
        api_key=args.api_key,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
