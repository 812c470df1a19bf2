"""Routing: which deployments a route may use for one request, and in which order.

Constraints come from outside (the policy layer will supply allowed regions and tags, and kill
switches exclude deployments): they are an explicit input, applied before any strategy.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from aifactory.gateway.reliability import LatencyStats
from aifactory.gateway.specs import Candidate, DeploymentSpec, RouteSpec

__all__ = ["Constraints", "order_candidates", "served_candidates"]


@dataclass(frozen=True)
class Constraints:
    """Limits on the deployments one request may use. None means no limit on that dimension."""

    regions: frozenset[str] | None = None
    required_tags: frozenset[str] = frozenset()
    allowed_tags: frozenset[str] | None = None
    excluded: frozenset[str] = field(default_factory=frozenset)

    def allows(self, name: str, spec: DeploymentSpec) -> bool:
        """Whether the deployment passes every constraint."""
        if name in self.excluded or spec.status == "retired":
            return False
        if self.regions is not None and not _in_region(spec, self.regions):
            return False
        if self.allowed_tags is not None and not self.allowed_tags & set(spec.tags):
            return False
        return self.required_tags <= set(spec.tags)


def _in_region(spec: DeploymentSpec, regions: frozenset[str]) -> bool:
    """Whether the deployment runs in one of the regions, named exactly (case-insensitive): no
    prefixes, since `eu-west-2` is London and `eu-central-2` Zurich. A `local` deployment runs inside
    this process, so data sent to it goes to no other processor and stays where the platform runs:
    it passes every region constraint."""
    if spec.provider == "local":
        return True
    return spec.region.lower() in {r.lower() for r in regions}


PriceOf = Callable[[str, DeploymentSpec], Decimal | None]

_RNG = random.Random()
"""Shared: seeding a new generator per call reads the OS's random source (about 12 µs)."""


def order_candidates(
    route: RouteSpec,
    deployments: Mapping[str, DeploymentSpec],
    constraints: Constraints,
    *,
    latency: LatencyStats,
    price_of: PriceOf,
    rng: random.Random | None = None,
) -> list[str]:
    """The deployments to try, best first, after the constraints."""
    rng = rng or _RNG
    allowed = [
        c
        for c in served_candidates(route, deployments)
        if constraints.allows(c.deployment, deployments[c.deployment])
    ]
    if route.strategy == "weighted":
        allowed = _weighted_order(allowed, rng)
    elif route.strategy == "lowest_cost":
        allowed = _by_cost(allowed, deployments, price_of)
    elif route.strategy == "lowest_latency":
        allowed = _power_of_two(allowed, latency, rng)
    return [c.deployment for c in allowed]


def served_candidates(route: RouteSpec, deployments: Mapping[str, DeploymentSpec]) -> list[Candidate]:
    """The route's candidates whose deployment is served and serves the route's operation."""
    return [
        c
        for c in route.candidates
        if c.deployment in deployments and deployments[c.deployment].operation == route.operation
    ]


def _weighted_order(candidates: list[Candidate], rng: random.Random) -> list[Candidate]:
    """A random order where each next pick is proportional to weight (sampling without replacement)."""
    # Efraimidis-Spirakis: sort by u^(1/w), descending.
    return sorted(candidates, key=lambda c: rng.random() ** (1 / c.weight), reverse=True)


def _by_cost(
    candidates: list[Candidate], deployments: Mapping[str, DeploymentSpec], price_of: PriceOf
) -> list[Candidate]:
    """Cheapest first (sum of input and output price per token); unknown prices last, stable."""

    def key(c: Candidate) -> tuple[int, Decimal]:
        price = price_of(c.deployment, deployments[c.deployment])
        return (1, Decimal(0)) if price is None else (0, price)

    return sorted(candidates, key=key)


def _power_of_two(candidates: list[Candidate], latency: LatencyStats, rng: random.Random) -> list[Candidate]:
    """Power of two choices on the latency EWMA: of two random candidates, the faster goes first;
    the rest follow by EWMA. Unmeasured deployments count as fastest, so they get measured."""

    def ewma(c: Candidate) -> float:
        value = latency.get(c.deployment)
        return -1.0 if value is None else value

    if len(candidates) < 2:
        return candidates
    a, b = rng.sample(candidates, 2)
    first = a if ewma(a) <= ewma(b) else b
    rest = sorted((c for c in candidates if c is not first), key=ewma)
    return [first, *rest]
