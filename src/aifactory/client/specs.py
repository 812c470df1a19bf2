"""`client.deployments` and `client.routes`: the gateway's catalog assets, by name.

A thin layer over `client.assets` with the kind fixed. The server validates each pushed spec
(`aifactory.gateway.specs`) and refuses a bad one with `InvalidInputError` naming the field; a spec
for a new name is checked here first too, so that a refused spec leaves no empty asset behind. Nothing
here moves a label: the gateway serves a version once it is approved and promoted to its label
(`client.assets.move_label("deployment:NAME", "production", version)`).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from aifactory.catalog.records import Asset, AssetVersion
from aifactory.client.assets import AssetsApi
from aifactory.errors import ConflictError, InvalidInputError, NotFoundError
from aifactory.gateway.specs import DeploymentSpec, RouteSpec

__all__ = ["Published", "SpecsApi"]

_MODELS: dict[str, type[BaseModel]] = {"deployment": DeploymentSpec, "route": RouteSpec}


def _precheck(kind: str, spec: dict[str, Any]) -> None:
    """Refuse what the server would, before registering an asset for it (same message shape)."""
    try:
        _MODELS[kind].model_validate(spec)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'content'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise InvalidInputError(f"invalid {kind} content: {problems}") from None


class Published(NamedTuple):
    """An asset and, for each of its labels, the version (whose `content` is the spec) it points at."""

    asset: Asset
    labelled: dict[str, AssetVersion]


class SpecsApi:
    """Catalog assets of one kind (`deployment` or `route`) whose content is a spec."""

    def __init__(self, assets: AssetsApi, kind: str) -> None:
        self._assets = assets
        self.kind = kind

    def ref(self, name: str) -> str:
        """The catalog reference `kind:name`."""
        return f"{self.kind}:{name}"

    async def create(self, name: str, spec: dict[str, Any], *, message: str = "") -> AssetVersion:
        """Push `spec` as a version, registering the asset first if needed (`created` False: unchanged)."""
        try:
            return await self._assets.push(self.ref(name), spec, message)
        except NotFoundError:
            _precheck(self.kind, spec)
        with contextlib.suppress(ConflictError):  # registered concurrently: push to it all the same
            await self._assets.create(self.kind, name)
        return await self._assets.push(self.ref(name), spec, message)

    async def list(self) -> builtins.list[Asset]:
        """Every asset of this kind, with its labels."""
        return await self._assets.list(kind=self.kind)

    async def show(self, name: str) -> Published:
        """The asset and the version under each of its labels."""
        asset = await self._assets.get(self.ref(name))
        return Published(asset, await self._versions(asset.id, asset.labels))

    async def labelled(self, label: str = "production") -> dict[str, AssetVersion]:
        """The version under `label` of every asset of this kind that has it, by name."""
        assets = sorted((a for a in await self.list() if label in a.labels), key=lambda a: a.name)
        versions = await asyncio.gather(*(self._assets.version(a.id, a.labels[label]) for a in assets))
        return {asset.name: version for asset, version in zip(assets, versions, strict=True)}

    async def _versions(self, asset_id: str, labels: dict[str, int]) -> dict[str, AssetVersion]:
        names = sorted(labels)
        versions = await asyncio.gather(*(self._assets.version(asset_id, labels[n]) for n in names))
        return dict(zip(names, versions, strict=True))
