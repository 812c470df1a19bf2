"""Latency of `PolicyEngine.decide` in process, over the built-in packs (all active): cached (one
context, a working set of 1000) and uncached (every rule and condition evaluated on every call).

Run: `.venv/bin/python bench/policy_decisions.py [calls]`. Goal: p99 <= 100 µs cached.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from aifactory.policy import RequestContext
from aifactory.policy.builtin import BUILTIN_PACKS, PACK_DIR
from aifactory.policy.engine import PolicyEngine
from aifactory.policy.pack_files import load_pack_file
from aifactory.policy.rules import ActivePack

JURISDICTIONS = ("DE", "FR", "US-CO", "US-CA", "US-NY", "NO", "JP")
SURFACES = ("chat", "voice", "api", "batch", "agent")
PURPOSES = (None, "employment", "credit_scoring", "marketing", "housing", "social_scoring")
CATEGORIES = (frozenset(), frozenset({"personal_data"}))


def working_set(size: int) -> list[RequestContext]:
    """`size` distinct contexts over jurisdictions, surfaces, purposes, data and days."""
    start = datetime(2027, 2, 1, 9, tzinfo=UTC)
    return [
        RequestContext(
            principal=f"prn_{n % 50}",
            at=start + timedelta(days=n % 3, seconds=n),
            jurisdiction=JURISDICTIONS[n % len(JURISDICTIONS)],
            surface=SURFACES[n % len(SURFACES)],
            risk_class="high" if n % 4 == 0 else "limited",
            use_case=f"uc{n % 11}",
            purpose=PURPOSES[n % len(PURPOSES)],
            data_categories=CATEGORIES[n % 2],
            attributes={"frontier_developer": "true"} if n % 9 == 0 else {},
        )
        for n in range(size)
    ]


def engine(cache_size: int) -> PolicyEngine:
    """The built-in packs, all active as version 1."""
    packs = [ActivePack(n, 1, load_pack_file(PACK_DIR / f"{n}.yaml")[0]) for n in BUILTIN_PACKS]
    return PolicyEngine(packs, cache_size=cache_size)


def measure(policy: PolicyEngine, contexts: list[RequestContext], calls: int) -> list[int]:
    """Nanoseconds per call, cycling through `contexts`."""
    timings = []
    clock = time.perf_counter_ns
    decide = policy.decide
    for n in range(calls):
        ctx = contexts[n % len(contexts)]
        start = clock()
        decide(ctx)
        timings.append(clock() - start)
    return timings


def row(name: str, timings: list[int]) -> str:
    """One table row: p50, p99, p99.9 and mean in microseconds."""
    cuts = statistics.quantiles(timings, n=1000)
    p50, p99, p999 = cuts[499] / 1000, cuts[989] / 1000, cuts[998] / 1000
    mean = statistics.fmean(timings) / 1000
    return f"| {name:<28} | {len(timings):>7} | {p50:>8.1f} | {p99:>8.1f} | {p999:>8.1f} | {mean:>8.1f} |"


def main() -> None:
    """Run the three scenarios and print a table."""
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cached, uncached = engine(4096), engine(0)
    one, thousand = working_set(1), working_set(1000)
    measure(cached, thousand, 3000)  # warm up: fill the caches
    print(f"python {platform.python_version()}, {calls} calls per row, times in µs")
    print("| scenario                     |   calls |      p50 |      p99 |    p99.9 |     mean |")
    print("| ---------------------------- | ------: | -------: | -------: | -------: | -------: |")
    print(row("cached, same context", measure(cached, one, calls)))
    print(row("cached, 1000 contexts", measure(cached, thousand, calls)))
    print(row("uncached (every rule)", measure(uncached, thousand, calls // 10)))


if __name__ == "__main__":
    main()
