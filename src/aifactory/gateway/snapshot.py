"""The gateway's view of the catalog: the deployments and routes under the serving label.

Built from the catalog at start and again whenever the catalog changes (this process's changes, or
another replica's, seen through the change feed); requests read it without touching the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aifactory.catalog import Catalog
from aifactory.gateway.specs import DeploymentSpec, RouteSpec

__all__ = ["Snapshot", "load_snapshot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Deployments and routes by name, as served now."""

    deployments: dict[str, DeploymentSpec] = field(default_factory=dict)
    routes: dict[str, RouteSpec] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)


def load_snapshot(catalog: Catalog, label: str) -> Snapshot:
    """Read every deployment and route version that carries `label`."""
    snapshot = Snapshot()
    for name, content in _labelled(catalog, "deployment", label, snapshot.versions):
        snapshot.deployments[name] = DeploymentSpec.model_validate(content)
    for name, content in _labelled(catalog, "route", label, snapshot.versions):
        snapshot.routes[name] = RouteSpec.model_validate(content)
    return snapshot


def _labelled(catalog: Catalog, kind: str, label: str, versions: dict[str, int]) -> list[tuple[str, Any]]:
    found = []
    for asset in catalog.assets(kind):
        number = asset.labels.get(label)
        if number is None or asset.status == "retired":
            continue
        content = catalog.version(asset.id, number).content
        found.append((asset.name, content))
        versions[f"{kind}:{asset.name}"] = number
    return found
