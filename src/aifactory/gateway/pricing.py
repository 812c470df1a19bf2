"""Prices of model calls, in exact `Decimal` dollars: overrides first, then the bundled price data.

A `PriceBook` answers what one call to a deployment costs, looking in order at:

1. a configured override for the deployment's name;
2. the prices set on the deployment itself (`input_per_mtok`, `output_per_mtok`);
3. a configured override for the provider kind and upstream model (`"openai/gpt-4o"`);
4. providers that run in this process (`local`): free, a known price of zero;
5. the price data bundled in `genai-prices`, chosen by the deployment's base URL when it has one
   (so a self-hosted server that calls its model `gpt-4o` is not priced as OpenAI's), else by the
   provider kind. Only the bundled snapshot is read: its auto-update thread is never started and
   nothing is fetched at run time.

Anything else has no price (`None`), never $0. What happens then is the `UnknownPricePolicy`'s
decision: refuse the call before it is sent, or let it through flagged and counted.

Token counts follow OpenAI: `prompt_tokens` includes cached and cache-write tokens. Tiered prices
(a higher rate for every token once the prompt passes a threshold) are chosen by the prompt size,
as `genai-prices` does; time-dependent prices by `at`, which should be the request's start for both
the worst case and the settled cost.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Literal, Protocol

from genai_prices.data import providers as _bundled_providers
from genai_prices.types import ModelInfo, ModelPrice, Provider, TieredPrices

from aifactory.errors import ConfigurationError, ConflictError, InvalidInputError
from aifactory.gateway.types import Usage

__all__ = [
    "DeploymentPrices",
    "Price",
    "PriceBook",
    "PricedDeployment",
    "Rate",
    "UnknownPricePolicy",
]

_MILLION = Decimal(1_000_000)
_THOUSAND = Decimal(1000)
_ZERO = Decimal(0)


class DeploymentPrices(Protocol):
    """Prices carried by a deployment spec, in USD per million tokens."""

    @property
    def input_per_mtok(self) -> Decimal: ...

    @property
    def output_per_mtok(self) -> Decimal: ...


class PricedDeployment(Protocol):
    """What pricing reads from a deployment (`gateway.specs.DeploymentSpec` fits)."""

    @property
    def provider(self) -> str: ...

    @property
    def upstream_model(self) -> str: ...

    @property
    def base_url(self) -> object: ...

    @property
    def prices(self) -> DeploymentPrices | None: ...


@dataclass(frozen=True)
class Price:
    """A fixed price in USD per million tokens; cache rates default to the input rate."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, Decimal) and value.is_finite() and value >= 0):
                raise InvalidInputError(f"{name} must be a finite, non-negative Decimal, not {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Price:
        """A price from configuration: numbers as strings or ints (floats are refused: inexact)."""
        unknown = set(values) - {f"{k}_per_mtok" for k in ("input", "output", "cache_read", "cache_write")}
        if unknown:
            raise InvalidInputError(f"unknown price fields: {', '.join(sorted(unknown))}")
        parsed: dict[str, Decimal] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
                raise InvalidInputError(f"{name} must be a decimal string such as '2.50', not {value!r}")
            try:
                parsed[name] = Decimal(value)
            except ArithmeticError:
                raise InvalidInputError(f"{name} is not a number: {value!r}") from None
        for name in ("input_per_mtok", "output_per_mtok"):
            if name not in parsed:
                raise InvalidInputError(f"a price needs {name}")
        return cls(**parsed)


@dataclass(frozen=True)
class _Rates:
    """Per-token rates (USD per million) for one call, tier already chosen."""

    input: Decimal
    output: Decimal | None
    cache_read: Decimal | None
    cache_write: Decimal | None
    cache_write_long: Decimal | None
    per_request: Decimal

    def cost(self, prompt: int, completion: int, cached: int, written: int) -> Decimal | None:
        if completion and self.output is None:
            return None
        uncached = prompt - (cached if self.cache_read is not None else 0)
        uncached -= written if self.cache_write is not None else 0
        total = _per_mtok(self.input, max(uncached, 0)) + self.per_request
        total += _per_mtok(self.cache_read, cached) + _per_mtok(self.cache_write, written)
        return total + _per_mtok(self.output, completion)

    def worst_case(self, prompt: int, max_output: int) -> Decimal | None:
        if max_output and self.output is None:
            return None
        options = (self.input, self.cache_read, self.cache_write, self.cache_write_long)
        dearest = max(rate for rate in options if rate is not None)
        return _per_mtok(dearest, prompt) + _per_mtok(self.output, max_output) + self.per_request


def _per_mtok(rate: Decimal | None, tokens: int) -> Decimal:
    # The same operations as genai-prices (rate * count / per), so results are equal to the digit.
    return _ZERO if rate is None or not tokens else rate * tokens / _MILLION


class Rate:
    """The price source for one deployment: computes exact costs and worst cases."""

    def __init__(self, source: str, fixed: Price | None = None, model: ModelInfo | None = None) -> None:
        self.source = source
        self._model = model
        self._fixed = None
        if fixed is not None:
            self._fixed = _Rates(
                fixed.input_per_mtok,
                fixed.output_per_mtok,
                fixed.cache_read_per_mtok,
                fixed.cache_write_per_mtok,
                None,
                _ZERO,
            )

    def cost(
        self, usage: Usage, *, cached_tokens: int = 0, cache_write_tokens: int = 0, at: datetime | None = None
    ) -> Decimal | None:
        """What a finished call cost; None when this source has no price for part of it."""
        rates = self._rates(usage.prompt_tokens, at)
        if rates is None:
            return None
        return rates.cost(usage.prompt_tokens, usage.completion_tokens, cached_tokens, cache_write_tokens)

    def worst_case(
        self, prompt_tokens: int, max_output_tokens: int, *, at: datetime | None = None
    ) -> Decimal | None:
        """The most a call can cost: every prompt token at the dearest input rate (cache writes
        included), every allowed output token. Not below the cost of any usage within those bounds."""
        rates = self._rates(prompt_tokens, at)
        return None if rates is None else rates.worst_case(prompt_tokens, max_output_tokens)

    def _rates(self, prompt_tokens: int, at: datetime | None) -> _Rates | None:
        if self._fixed is not None:
            return self._fixed
        assert self._model is not None
        return _catalog_rates(self._model.get_prices(at or datetime.now(UTC)), prompt_tokens)


def _catalog_rates(price: ModelPrice, prompt_tokens: int) -> _Rates | None:
    def tier(value: Decimal | TieredPrices | None) -> Decimal | None:
        if not isinstance(value, TieredPrices):
            return value
        for step in reversed(value.tiers):
            if prompt_tokens > step.start:
                return step.price
        return value.base

    base = tier(price.input_mtok)
    if base is None:  # no token price at all (free tiers, per-page or per-second models): unknown
        return None
    long_writes = [tier(getattr(price, key)) for key in ("cache_write_5m_mtok", "cache_write_1h_mtok")]
    per_thousand_requests = tier(price.requests_kcount)
    return _Rates(
        base,
        tier(price.output_mtok),
        tier(price.cache_read_mtok),
        tier(price.cache_write_mtok),
        max((rate for rate in long_writes if rate is not None), default=None),
        _ZERO if per_thousand_requests is None else per_thousand_requests * 1 / _THOUSAND,
    )


class PriceBook:
    """Prices of calls to deployments: scoped overrides, then the bundled `genai-prices` data."""

    def __init__(
        self,
        *,
        deployments: Mapping[str, Price] | None = None,
        models: Mapping[str, Price] | None = None,
        free_providers: frozenset[str] = frozenset({"local"}),
    ) -> None:
        self._by_deployment = dict(deployments or {})
        self._by_model = {key.lower(): price for key, price in (models or {}).items()}
        for key in self._by_model:
            if "/" not in key:
                raise InvalidInputError(f"model price override {key!r} must be named 'provider/model'")
        self._free = free_providers
        self._cache: dict[tuple[object, ...], Rate | None] = {}

    def rate(self, name: str, deployment: PricedDeployment) -> Rate | None:
        """Where this deployment's price comes from, or None when nobody knows it."""
        prices = deployment.prices
        own = None if prices is None else (prices.input_per_mtok, prices.output_per_mtok)
        key = (name, deployment.provider, deployment.upstream_model, str(deployment.base_url or ""), own)
        try:
            return self._cache[key]
        except KeyError:
            rate = self._cache[key] = self._resolve(name, deployment)
            return rate

    def cost(
        self,
        usage: Usage,
        name: str,
        deployment: PricedDeployment,
        *,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
        at: datetime | None = None,
    ) -> Decimal | None:
        """The exact cost of a finished call in USD; None when the price is unknown (never 0)."""
        rate = self.rate(name, deployment)
        if rate is None:
            return None
        return rate.cost(usage, cached_tokens=cached_tokens, cache_write_tokens=cache_write_tokens, at=at)

    def worst_case(
        self,
        prompt_tokens: int,
        max_output_tokens: int,
        name: str,
        deployment: PricedDeployment,
        *,
        at: datetime | None = None,
    ) -> Decimal | None:
        """The most a call with this prompt and output limit can cost (for reservations)."""
        rate = self.rate(name, deployment)
        return None if rate is None else rate.worst_case(prompt_tokens, max_output_tokens, at=at)

    def _resolve(self, name: str, deployment: PricedDeployment) -> Rate | None:
        model_key = f"{deployment.provider}/{deployment.upstream_model}".lower()
        if name in self._by_deployment:
            return Rate(f"override:deployment:{name}", fixed=self._by_deployment[name])
        if deployment.prices is not None:
            own = deployment.prices
            return Rate(f"deployment:{name}", fixed=Price(own.input_per_mtok, own.output_per_mtok))
        if model_key in self._by_model:
            return Rate(f"override:model:{model_key}", fixed=self._by_model[model_key])
        if deployment.provider in self._free:
            return Rate(f"free:{deployment.provider}", fixed=Price(_ZERO, _ZERO))
        found = _catalog_model(deployment.provider, deployment.upstream_model, str(deployment.base_url or ""))
        if found is None:
            return None
        provider, model = found
        return Rate(f"genai-prices:{provider.id}/{model.id}", model=model)


@cache
def _catalog_model(kind: str, model_ref: str, base_url: str) -> tuple[Provider, ModelInfo] | None:
    provider = _catalog_provider(kind, base_url)
    if provider is None:
        return None
    model = provider.find_model(model_ref, all_providers=_bundled_providers)
    return None if model is None else (provider, model)


def _catalog_provider(kind: str, base_url: str) -> Provider | None:
    if base_url:
        # A URL no known vendor serves (vLLM, Ollama, a proxy) has no catalog price, whatever
        # its models are called.
        return next((p for p in _bundled_providers if re.match(p.api_pattern, base_url)), None)
    wanted = kind.lower().strip()
    return next((p for p in _bundled_providers if p.id == wanted), None)


class UnknownPricePolicy:
    """What to do with a call whose price is unknown: refuse it (`fail_closed`) or let it through
    counted (`flag`; the run then records `price_known=False` and a NULL cost, never $0)."""

    def __init__(self, mode: Literal["fail_closed", "flag"]) -> None:
        if mode not in ("fail_closed", "flag"):
            raise ConfigurationError(f"unknown-price policy must be fail_closed or flag, not {mode!r}")
        self.mode = mode
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def admit(self, name: str, deployment: PricedDeployment, worst_case: Decimal | None) -> None:
        """Check a call before it is sent, given its worst-case cost (None: unknown price)."""
        if worst_case is not None:
            return
        model = f"{deployment.provider}/{deployment.upstream_model}"
        if self.mode == "fail_closed":
            raise ConflictError(
                f"deployment {name!r} ({model}) has no known price, and unknown prices fail closed. Set "
                f"prices on the deployment (input_per_mtok, output_per_mtok, USD per million tokens), "
                f"add a price override for {name!r} or {model!r}, or set "
                "AIFACTORY_GATEWAY_UNKNOWN_PRICE=flag",
                deployment=name,
                model=model,
            )
        with self._lock:
            self._counts[model] = self._counts.get(model, 0) + 1

    @property
    def unpriced_calls(self) -> int:
        """How many calls were let through without a price."""
        with self._lock:
            return sum(self._counts.values())

    def unpriced_by_model(self) -> dict[str, int]:
        """Calls let through without a price, per `provider/model`."""
        with self._lock:
            return dict(self._counts)
