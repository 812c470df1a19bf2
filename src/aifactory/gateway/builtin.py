"""Built-in gateway plugin: the deployment and route asset kinds and the bundled providers."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from aifactory.gateway.provider import Model
from aifactory.gateway.providers.anthropic import AnthropicModel
from aifactory.gateway.providers.openai import OpenAIModel
from aifactory.gateway.specs import DeploymentSpec, RouteSpec
from aifactory.hookspecs import hookimpl

__all__ = ["ProviderContext"]


class ProviderContext:
    """What a provider factory may use: the shared HTTP client and the settings."""

    def __init__(self, http: Any, settings: Any) -> None:
        self.http = http
        self.settings = settings


def _openai(name: str, spec: DeploymentSpec, context: ProviderContext) -> OpenAIModel:
    return OpenAIModel(name, spec, context.http)


def _anthropic(name: str, spec: DeploymentSpec, context: ProviderContext) -> AnthropicModel:
    return AnthropicModel(name, spec, context.http)


def _local(name: str, spec: DeploymentSpec, context: ProviderContext) -> Model:
    # Imported here: the local runtime is an optional extra (torch, transformers).
    from aifactory.gateway.providers.local import LocalProvider

    return LocalProvider().model(
        SimpleNamespace(name=name, upstream_model=spec.upstream_model), context.settings
    )


@hookimpl
def aifactory_register_asset_kinds(
    register: Callable[[str, Callable[[dict[str, Any]], object]], None],
) -> None:
    """Deployments and routes are validated when a version is pushed."""
    register("deployment", DeploymentSpec.model_validate)
    register("route", RouteSpec.model_validate)


@hookimpl
def aifactory_register_providers(register: Callable[[str, Any], None]) -> None:
    """The `openai` provider (any OpenAI-compatible server), `anthropic` (the Messages API) and
    `local` (the bundled models)."""
    register("openai", _openai)
    register("anthropic", _anthropic)
    register("local", _local)
