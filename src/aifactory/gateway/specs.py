"""Deployment and route specs: the content of `deployment` and `route` catalog assets.

A deployment is one model at one upstream (provider kind, base URL, upstream model id, region,
tags, limits, prices, credentials by reference). A route is what product teams ask for
(`chat-default`): an ordered list of candidate deployments and a strategy to pick among them.
Both are versioned catalog assets; the gateway serves the version under the configured label, so
every change goes through the catalog's choke point.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from aifactory.records import InputModel

__all__ = ["BreakerSpec", "Candidate", "DeploymentSpec", "Prices", "RetrySpec", "RouteSpec"]

ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
TAG = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"


class Prices(InputModel):
    """Prices in USD per million tokens; they override the bundled price data for this deployment."""

    input_per_mtok: Decimal = Field(ge=0, max_digits=20, decimal_places=10)
    output_per_mtok: Decimal = Field(ge=0, max_digits=20, decimal_places=10)


class BreakerSpec(InputModel):
    """When the deployment's circuit breaker opens, and for how long."""

    window_seconds: float = Field(default=30, gt=0, le=3600, description="Rolling window of outcomes.")
    min_calls: int = Field(default=5, ge=1, le=100_000, description="Fewest calls in the window to judge.")
    failure_ratio: float = Field(default=0.5, gt=0, le=1, description="Failure share that opens it.")
    cooldown_seconds: float = Field(default=10, gt=0, le=3600, description="Open time before a probe.")


class DeploymentSpec(InputModel):
    """One model at one upstream."""

    provider: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="openai, anthropic, local, ...")
    upstream_model: str = Field(min_length=1, max_length=200, description="The model id the upstream knows.")
    base_url: HttpUrl | None = Field(default=None, description="Upstream base URL (e.g. .../v1).")
    operation: Literal["chat", "embeddings"] = "chat"
    region: str = Field(
        default="local",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="Where the upstream processes data (e.g. eu-west-1, EU, local).",
    )
    tags: list[str] = Field(
        default_factory=list, max_length=50, description="e.g. eu-resident, zero-retention"
    )
    context_window: int | None = Field(default=None, ge=1, le=100_000_000)
    max_output_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    prices: Prices | None = None
    credentials_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="Name of the env var holding the API key."
    )
    timeout_seconds: float = Field(default=60, gt=0, le=3600, description="Per-attempt deadline.")
    status: Literal["active", "deprecated", "retired"] = "active"
    breaker: BreakerSpec = Field(default_factory=BreakerSpec)
    rpm_limit: int | None = Field(default=None, ge=1, le=10_000_000, description="Requests per minute.")
    tpm_limit: int | None = Field(default=None, ge=1, le=10_000_000_000, description="Tokens per minute.")

    @model_validator(mode="after")
    def _check(self) -> DeploymentSpec:
        for tag in self.tags:
            if not _match(TAG, tag):
                raise ValueError(f"tag {tag!r} must be lowercase letters, digits and . _ : -")
        if self.provider == "openai" and self.base_url is None:
            raise ValueError("an openai deployment needs base_url (e.g. https://api.openai.com/v1)")
        return self


class Candidate(InputModel):
    """One deployment a route may use, with its weight for the weighted strategy."""

    deployment: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
    weight: int = Field(default=1, ge=1, le=1000)


class RetrySpec(InputModel):
    """Retries on one deployment before falling over to the next."""

    max_attempts: int = Field(default=2, ge=1, le=10)
    base_delay_seconds: float = Field(default=0.1, ge=0, le=60)
    max_delay_seconds: float = Field(default=2.0, ge=0, le=300)


class RouteSpec(InputModel):
    """An alias product teams call, resolved to candidate deployments."""

    operation: Literal["chat", "embeddings"] = "chat"
    strategy: Literal["priority", "weighted", "lowest_cost", "lowest_latency"] = "priority"
    candidates: list[Candidate] = Field(min_length=1, max_length=50)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    timeout_seconds: float = Field(default=120, gt=0, le=3600, description="Whole-request deadline.")
    default_max_tokens: int = Field(
        default=1024,
        ge=1,
        le=10_000_000,
        description="Output limit for requests that set none: sent upstream and reserved as the worst case.",
    )

    @model_validator(mode="after")
    def _unique(self) -> RouteSpec:
        names = [c.deployment for c in self.candidates]
        if len(set(names)) != len(names):
            raise ValueError("a deployment appears twice among the candidates")
        return self


def _match(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None
