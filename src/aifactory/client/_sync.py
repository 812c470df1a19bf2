"""`Client`: the blocking facade. It mirrors no method by hand: it runs `AsyncClient`'s coroutines
on a private event loop in a daemon thread (a daemon, so a client left open never blocks exit)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from aifactory.client._async import AsyncClient
from aifactory.client.assets import AssetsApi
from aifactory.client.budgets import BudgetsApi
from aifactory.client.data import DataApi
from aifactory.client.evals import EvalsApi, IncidentsApi
from aifactory.client.gateway import GatewayApi
from aifactory.client.identity import KeysApi, PrincipalsApi, TeamsApi
from aifactory.client.kill_switches import KillSwitchesApi, ToolsApi
from aifactory.client.ledger import LedgerApi
from aifactory.client.pii import PiiApi
from aifactory.client.prompts import PromptsApi
from aifactory.client.specs import SpecsApi

__all__ = ["Blocking", "BlockingIterator", "Client"]

T = TypeVar("T")
N = TypeVar("N")


class _LoopThread:
    """An event loop running in its own daemon thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aifactory-client", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and block until it is done."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C while waiting: do not leave the request running
            raise

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.run(self._loop.shutdown_asyncgens())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _next(iterator: AsyncIterator[T]) -> tuple[bool, T | None]:
    # (False, None) at the end: StopAsyncIteration must not cross the thread as an exception.
    try:
        return True, await anext(iterator)
    except StopAsyncIteration:
        return False, None


class BlockingIterator(Generic[T]):
    """An async iterator of `AsyncClient` (such as a chat stream) read from blocking code.

    Other attributes (a stream's `run_id`) are the async iterator's. `close()` (or `with`) stops early.
    """

    def __init__(self, loop: _LoopThread, iterator: AsyncIterator[T]) -> None:
        self._loop = loop
        self._iterator = iterator

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        more, item = self._loop.run(_next(self._iterator))
        if not more:
            raise StopIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop reading (closing the response) when the iterator has an `aclose`."""
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            self._loop.run(aclose())

    def __enter__(self) -> BlockingIterator[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # never private state (nor `_iterator` itself, before __init__)
            raise AttributeError(name)
        return getattr(self._iterator, name)


class Blocking(Generic[N]):
    """A namespace of `AsyncClient` (such as `assets`) whose methods block and return the result.

    A method that returns an async iterator (such as `gateway.chat_stream`) returns a
    `BlockingIterator` over it instead.
    """

    def __init__(self, loop: _LoopThread, namespace: N) -> None:
        self._loop = loop
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._namespace, name)
        if not callable(method):
            return method
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            def call(*args: Any, **kwargs: Any) -> Any:
                return self._loop.run(method(*args, **kwargs))

            return call

        @functools.wraps(method)
        def iterate(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return BlockingIterator(self._loop, result) if isinstance(result, AsyncIterator) else result

        return iterate

    def __dir__(self) -> list[str]:
        return [name for name in dir(self._namespace) if not name.startswith("_")]


class Client:
    """The aifactory API from blocking code: the same constructor and namespaces as `AsyncClient`.

    Each call runs the async implementation and returns its result. Use it as a context manager, or
    call `close()`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30,
    ) -> None:
        self._async = AsyncClient(base_url, api_key, transport=transport, timeout=timeout)
        self._loop = _LoopThread()
        self.ledger: Blocking[LedgerApi] = Blocking(self._loop, self._async.ledger)
        self.keys: Blocking[KeysApi] = Blocking(self._loop, self._async.keys)
        self.principals: Blocking[PrincipalsApi] = Blocking(self._loop, self._async.principals)
        self.teams: Blocking[TeamsApi] = Blocking(self._loop, self._async.teams)
        self.assets: Blocking[AssetsApi] = Blocking(self._loop, self._async.assets)
        self.deployments: Blocking[SpecsApi] = Blocking(self._loop, self._async.deployments)
        self.routes: Blocking[SpecsApi] = Blocking(self._loop, self._async.routes)
        self.gateway: Blocking[GatewayApi] = Blocking(self._loop, self._async.gateway)
        self.budgets: Blocking[BudgetsApi] = Blocking(self._loop, self._async.budgets)
        self.kill_switches: Blocking[KillSwitchesApi] = Blocking(self._loop, self._async.kill_switches)
        self.tools: Blocking[ToolsApi] = Blocking(self._loop, self._async.tools)
        self.data: Blocking[DataApi] = Blocking(self._loop, self._async.data)
        self.pii: Blocking[PiiApi] = Blocking(self._loop, self._async.pii)
        self.evals: Blocking[EvalsApi] = Blocking(self._loop, self._async.evals)
        self.incidents: Blocking[IncidentsApi] = Blocking(self._loop, self._async.incidents)
        self.prompts: Blocking[PromptsApi] = Blocking(self._loop, self._async.prompts)

    @property
    def base_url(self) -> str:
        """The server this client talks to."""
        return self._async.base_url

    def close(self) -> None:
        """Close the connection pool and stop the private event loop."""
        try:
            self._loop.run(self._async.aclose())
        finally:
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
