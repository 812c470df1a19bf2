"""The policy a process decides with: the pack versions under the serving label, as one engine.

Built from the catalog at start and rebuilt whenever the catalog changes (here or on another
replica, through the change feed), like the gateway's snapshot; decisions never touch the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import ValidationError

from aifactory.catalog import Catalog
from aifactory.policy.decision import Decision, RequestContext
from aifactory.policy.engine import Explanation, PolicyEngine
from aifactory.policy.packs import PackSpec
from aifactory.policy.rules import ActivePack

__all__ = ["PACK_KIND", "Policy", "load_active_packs"]

PACK_KIND = "policy-pack"
"""The catalog asset kind of policy packs."""

log = logging.getLogger(__name__)


def load_active_packs(catalog: Catalog, label: str) -> list[ActivePack]:
    """Every policy pack version carrying `label` (retired assets and invalid content left out,
    the latter logged as an error: it passed validation when pushed, so the format changed)."""
    found = []
    for asset in catalog.assets(PACK_KIND):
        number = asset.labels.get(label)
        if number is None or asset.status == "retired":
            continue
        content = catalog.version(asset.id, number).content
        try:
            found.append(ActivePack(asset.name, number, PackSpec.model_validate(content)))
        except ValidationError as exc:
            log.error("policy pack %s@%s is not valid any more, left out: %s", asset.name, number, exc)
    return found


class Policy:
    """The active packs of this process and the engine built from them; `decide` is the hot path."""

    def __init__(self, catalog: Catalog, *, label: str, tracks: Mapping[str, str] | None = None) -> None:
        self.catalog = catalog
        self.label = label
        self.tracks = dict(tracks or {})
        self.engine = PolicyEngine((), tracks=self.tracks)

    def refresh(self) -> None:
        """Rebuild the engine from the catalog (called at start and on every catalog change)."""
        packs = load_active_packs(self.catalog, self.label)
        if [p.ref for p in sorted(packs, key=lambda p: p.name)] == [p.ref for p in self.engine.packs]:
            return  # another asset changed: keep the engine and its caches
        self.engine = PolicyEngine(packs, tracks=self.tracks)

    @property
    def packs(self) -> tuple[ActivePack, ...]:
        """The active pack versions, by name."""
        return self.engine.packs

    def decide(self, ctx: RequestContext) -> Decision:
        """The decision for a request context. With no active pack: allow, no obligations, no reasons."""
        return self.engine.decide(ctx)

    def explain(self, ctx: RequestContext) -> Explanation:
        """The decision and why each other rule did not apply."""
        return self.engine.explain(ctx)
