"""`AsyncClient`: the one implementation of the SDK; `Client` only runs it on a private loop."""

from __future__ import annotations

from types import TracebackType

import httpx
from pydantic import ValidationError

from aifactory.client._http import Channel
from aifactory.client.assets import AssetsApi
from aifactory.client.budgets import BudgetsApi
from aifactory.client.data import DataApi
from aifactory.client.evals import EvalsApi, IncidentsApi
from aifactory.client.gateway import GatewayApi
from aifactory.client.identity import KeysApi, PrincipalsApi, TeamsApi
from aifactory.client.kill_switches import KillSwitchesApi, ToolsApi
from aifactory.client.ledger import LedgerApi
from aifactory.client.pii import PiiApi
from aifactory.client.policy import PolicyApi
from aifactory.client.prompts import PromptsApi
from aifactory.client.specs import SpecsApi
from aifactory.errors import ConfigurationError
from aifactory.settings import Settings

__all__ = ["AsyncClient"]


def _defaults(base_url: str | None, api_key: str | None) -> tuple[str | None, str | None]:
    """Fill what the caller left out from `AIFACTORY_URL` and `AIFACTORY_API_KEY`."""
    if base_url is not None and api_key is not None:
        return base_url, api_key
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigurationError(f"invalid AIFACTORY_* environment: {exc}") from exc
    return base_url or settings.url, api_key or settings.api_key


class AsyncClient:
    """The aifactory API from Python, with namespaces mirroring its routes.

    `base_url` and `api_key` default to `AIFACTORY_URL` and `AIFACTORY_API_KEY`. Pass a `transport`
    (for example `httpx.ASGITransport(app=create_app(...))`) to talk to an app in process. Every
    failure raises an `aifactory.errors.AifactoryError` subclass.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30,
    ) -> None:
        url, key = _defaults(base_url, api_key)
        if not url:
            raise ConfigurationError("no server URL: pass base_url or set AIFACTORY_URL")
        self._channel = Channel(url, key, transport=transport, timeout=timeout)
        self.ledger = LedgerApi(self._channel)
        self.keys = KeysApi(self._channel)
        self.principals = PrincipalsApi(self._channel)
        self.teams = TeamsApi(self._channel)
        self.assets = AssetsApi(self._channel)
        self.deployments = SpecsApi(self.assets, "deployment")
        self.routes = SpecsApi(self.assets, "route")
        self.gateway = GatewayApi(self._channel)
        self.budgets = BudgetsApi(self._channel)
        self.policy = PolicyApi(self._channel)
        self.kill_switches = KillSwitchesApi(self._channel)
        self.tools = ToolsApi(self._channel)
        self.data = DataApi(self._channel)
        self.pii = PiiApi(self._channel)
        self.evals = EvalsApi(self._channel)
        self.incidents = IncidentsApi(self._channel)
        self.prompts = PromptsApi(self._channel, self.assets)

    @property
    def base_url(self) -> str:
        """The server this client talks to."""
        return self._channel.base_url

    async def aclose(self) -> None:
        """Stop watching prompts and close the connection pool."""
        await self.prompts.unwatch()
        await self._channel.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
