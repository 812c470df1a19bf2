"""Throughput at a p99 overhead limit: the highest open-loop rate at which a gateway's p99 stays
within `limit_ms` of the p99 of direct calls to the upstream at the same rate.

Per target: from a start rate, double while it passes, halve while it fails, then bisect
(geometrically) between the highest pass and the lowest fail until they are `resolution` apart
or the target's time budget is spent. Every gateway run is paired with a direct run at the same
rate just before it, so the two see the same machine. Direct itself is searched too, against its
own p99 at 50 req/s: that is the rate the generator and the fake sustain without a gateway.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from _gateways import Target
from _processes import Process
from _throughput import LoadGenerator

__all__ = ["MIN_RATE", "Search", "capacity"]

Server = tuple[Target, Process]
MIN_RATE = 5.0
BASELINE_RATE = 50.0
"""The rate of the direct run whose p99 direct's own search is held against."""
MIN_SAMPLES = 100
"""A run at a low rate lasts longer (up to 2x `seconds`) so its p99 rests on this many requests."""


@dataclass(frozen=True)
class Search:
    """How each open-loop run is made and how long the search for one target may take."""

    seconds: float
    """Recorded seconds of each run (after `warmup` seconds at the same rate)."""
    warmup: float
    budget: float
    """Wall seconds per target; the search reports what it found when they run out."""
    resolution: float = 1.2
    limit_ms: float = 10.0
    confirm: bool = True
    """Re-run a failing gateway run once (a shared machine is noisy); the second verdict stands."""


def _run(gen: LoadGenerator, server: Server, rate: float, search: Search) -> dict[str, Any]:
    """One open-loop run, with the CPU cores the server process used meanwhile."""
    target, proc = server
    seconds = min(2 * search.seconds, max(search.seconds, MIN_SAMPLES / rate))
    command = {"op": "open", "target": target.to_json(), "rate": rate, "seconds": seconds}
    cpu, wall = proc.cpu_seconds(), time.monotonic()
    result = gen.run(command | {"warmup": search.warmup, "seed": round(rate)})
    result["server_cores"] = (proc.cpu_seconds() - cpu) / (time.monotonic() - wall)
    if result["ok"] and result["server_cores"] > 0:
        result["per_core_rate"] = result["achieved_rate"] / result["server_cores"]
    return result


def _over(run: dict[str, Any], reference_p99: float) -> float:
    """How far the run's p99 is above the reference (infinite if any request failed)."""
    if run["errors"] or run["dropped"] or not run["ok"]:
        return math.inf
    return float(run["p99_ms"]) - reference_p99


def _attempt(
    gen: LoadGenerator, direct: Server, via: Server, rate: float, search: Search, baseline: float
) -> dict[str, Any]:
    """Direct, then via, at `rate`; a gateway that fails gets one re-run of its own when `confirm`."""
    d = _run(gen, direct, rate, search)
    if via is direct:  # the generator's own ceiling: direct against direct at a low rate
        return {"rate": rate, "over_ms": _over(d, baseline), "direct": d, "via": d}
    v = _run(gen, via, rate, search)
    if _over(v, d["p99_ms"]) > search.limit_ms and search.confirm:
        v = _run(gen, via, rate, search) | {"rerun": True}
    return {"rate": rate, "over_ms": _over(v, d["p99_ms"]), "direct": d, "via": v}


def _summary(attempt: dict[str, Any]) -> dict[str, Any]:
    """What the JSON keeps of one attempt: enough to see why it failed and who was busy."""
    via, over = attempt["via"], attempt["over_ms"]
    keys = ("p99_ms", "errors", "dropped", "lag_p99_ms", "cpu_share", "server_cores")
    return {
        "rate": round(attempt["rate"], 1),
        "over_ms": over if math.isfinite(over) else None,
        "direct_p99_ms": attempt["direct"].get("p99_ms"),
        **{key: via.get(key) for key in keys},
    }


def _next_rate(rate: float, passed: float | None, failed: float | None, search: Search) -> float | None:
    """Where to try next; None when the search is done."""
    if failed is None:
        return rate * 2
    if passed is None:
        return rate / 2 if rate / 2 >= MIN_RATE else None
    return None if failed / passed <= search.resolution else math.sqrt(passed * failed)


def _search(
    gen: LoadGenerator, direct: Server, via: Server, start: float, search: Search, baseline: float
) -> dict[str, Any]:
    deadline = time.monotonic() + search.budget
    passed: dict[str, Any] | None = None
    failed: float | None = None
    tries: list[dict[str, Any]] = []
    rate: float | None = start
    while rate is not None and time.monotonic() < deadline:
        attempt = _attempt(gen, direct, via, rate, search, baseline)
        over = attempt["over_ms"]
        tries.append(_summary(attempt))
        if over <= search.limit_ms:
            passed = attempt
        else:
            failed = rate
        rate = _next_rate(rate, passed["rate"] if passed else None, failed, search)
    return {
        "rate": passed["rate"] if passed else None,
        "at": passed["via"] if passed else None,
        "direct_at": passed["direct"] if passed else None,
        "failed_rate": failed,
        "resolved": rate is None,
        "tries": tries,
    }


def capacity(
    gen: LoadGenerator, direct: Server, gateways: list[Server], starts: dict[str, float], search: Search
) -> dict[str, Any]:
    """The search for direct and for every gateway; `starts` gives each target's first rate."""
    baseline = _run(gen, direct, BASELINE_RATE, search)
    if not math.isfinite(_over(baseline, 0)):
        raise RuntimeError(f"direct calls failed at {BASELINE_RATE:g} req/s: {baseline}")
    results: dict[str, Any] = {"baseline": {"rate": BASELINE_RATE, "p99_ms": baseline["p99_ms"]}}
    for server in [direct, *gateways]:
        name = server[0].name
        results[name] = _search(gen, direct, server, starts[name], search, baseline["p99_ms"])
    return results
