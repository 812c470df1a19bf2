"""Where a command runs: the server at `AIFACTORY_URL`, or the local data dir, in process.

Local mode takes the very same path as remote mode: the SDK's `AsyncClient` talks to
`create_app(settings, runtime=rt)` in process (through `AppTransport`, which streams as a socket
would), so authentication, Cedar, the catalog's gates and the gateway decide exactly as they do on a
server. Only the ledger reads skip HTTP locally: whoever holds the files may audit them without an
account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from aifactory.client import AsyncClient, LedgerEntry
from aifactory.client._asgi import AppTransport
from aifactory.client.ledger import PAGE_SIZE
from aifactory.errors import AuthenticationError, ConfigurationError
from aifactory.ledger import Ledger
from aifactory.runtime import Runtime
from aifactory.server import create_app
from aifactory.settings import Settings

__all__ = ["LOCAL_URL", "LedgerReader", "LocalLedger", "Session", "current", "load_settings", "opening"]

LOCAL_URL = "http://local"
"""The base URL of the in-process app in local mode."""

T = TypeVar("T")


def load_settings() -> Settings:
    """Settings from the `AIFACTORY_*` environment; a bad value is a configuration error."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"AIFACTORY_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"invalid environment: {problems}") from exc


@contextmanager
def opening(settings: Settings) -> Iterator[None]:
    """Turn failures to open the data dir or the database into configuration errors that say why."""
    try:
        yield
    except OperationalError as exc:
        url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        raise ConfigurationError(f"cannot open the database {url}: {exc.orig}") from exc
    except (OSError, ValueError) as exc:  # the key file's permissions, an unwritable data dir
        raise ConfigurationError(f"cannot open the data dir {settings.data_dir}: {exc}") from exc


class LedgerReader(Protocol):
    """The reads of `AsyncClient.ledger` that the ledger commands need."""

    async def checkpoint(self) -> str:
        """The newest signed checkpoint note."""
        ...

    async def verifier_key(self) -> str:
        """The checkpoint verifier key."""
        ...

    async def entries(self, start: int = 0, end: int | None = None) -> list[LedgerEntry]:
        """One page of entries."""
        ...

    async def entry(self, index: int) -> LedgerEntry:
        """The entry at `index`."""
        ...

    async def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """An RFC 9162 inclusion proof."""
        ...

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """An RFC 9162 consistency proof."""
        ...


class LocalLedger:
    """`LedgerReader` over the local data dir's ledger, plus the tree roots only local files give."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ledger: Ledger = runtime.ledger

    async def checkpoint(self) -> str:
        """The newest signed checkpoint note."""
        return self.ledger.checkpoint_note()

    async def verifier_key(self) -> str:
        """The checkpoint verifier key."""
        return self.ledger.verifier_key()

    async def entries(self, start: int = 0, end: int | None = None) -> list[LedgerEntry]:
        """One page of entries."""
        stop = start + PAGE_SIZE if end is None else end
        return [LedgerEntry.of(i, leaf) for i, leaf in self.ledger.entries(start, stop)]

    async def entry(self, index: int) -> LedgerEntry:
        """The entry at `index`."""
        return LedgerEntry.of(index, self.ledger.entry(index))

    async def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """An RFC 9162 inclusion proof."""
        return self.ledger.inclusion(index, tree_size)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """An RFC 9162 consistency proof."""
        return self.ledger.consistency(first, second)

    def root(self, tree_size: int) -> bytes:
        """The root hash of the stored tree of `tree_size` entries."""
        return self.ledger.root(tree_size)


class Session:
    """The settings of one command, and the two ways of reaching the factory they describe."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def is_remote(self) -> bool:
        """True when `AIFACTORY_URL` names a server."""
        return bool(self.settings.url)

    def call(self, action: Callable[[AsyncClient], Coroutine[Any, Any, T]]) -> T:
        """Run `action` with an SDK client acting as `AIFACTORY_API_KEY`'s principal."""
        if self.settings.url:
            return asyncio.run(_with_client(action, AsyncClient(self.settings.url, self._api_key())))
        self.check_initialised()
        key = self._api_key()
        with self.runtime() as rt:
            transport = AppTransport(create_app(self.settings, runtime=rt))
            return asyncio.run(_in_process(action, AsyncClient(LOCAL_URL, key, transport=transport), rt))

    def read_ledger(self, action: Callable[[LedgerReader], Coroutine[Any, Any, T]]) -> T:
        """Run `action` on the server's ledger (with a key), or on the local files (without one)."""
        if self.settings.url:
            return self.call(lambda client: action(client.ledger))
        with self.runtime() as rt:
            return asyncio.run(action(LocalLedger(rt)))

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        """The local data dir's runtime; queued ledger events are sequenced and signed before it closes."""
        self.check_initialised()
        with opening(self.settings):
            rt = Runtime.open(self.settings)
        try:
            yield rt
        finally:
            try:
                rt.ledger.sync()
            finally:
                rt.close()

    def check_initialised(self) -> None:
        """Refuse, saying what to do, when the data dir was never set up by `aifactory init`."""
        key_file = self.settings.resolved_ledger_key_file
        if not key_file.exists():
            raise ConfigurationError(
                f"{self.settings.data_dir} is not an initialised aifactory data dir (no {key_file}): "
                "run `aifactory init`, set AIFACTORY_DATA_DIR, or set AIFACTORY_URL to use a server"
            )

    def _api_key(self) -> str:
        if self.settings.api_key:
            return self.settings.api_key
        where = f"the server at {self.settings.url}" if self.settings.url else "the local data dir"
        raise AuthenticationError(
            f"no API key for {where}: export AIFACTORY_API_KEY=aif_... "
            "(`aifactory init` prints the first admin key; `aifactory keys create` makes more)"
        )


async def _with_client(action: Callable[[AsyncClient], Coroutine[Any, Any, T]], client: AsyncClient) -> T:
    async with client:
        return await action(client)


async def _in_process(
    action: Callable[[AsyncClient], Coroutine[Any, Any, T]], client: AsyncClient, rt: Runtime
) -> T:
    try:
        return await _with_client(action, client)
    finally:
        # The app's lifespan does not run in process: close the gateway's upstream connections in
        # the event loop that opened them.
        await rt.gateway.aclose()


def current() -> Session:
    """The session the environment describes."""
    return Session(load_settings())
