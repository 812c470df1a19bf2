"""Latency of `Authorizer.decide` in-process: cached (one key, a working set) and uncached.

Run: `.venv/bin/python bench/bench_permissions.py [calls]`. Goal: p99 <= 100 µs cached.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable

from aifactory.identity.actions import ACTIONS
from aifactory.identity.permissions import Authorizer, Resource, Subject
from aifactory.identity.roles import ROLES

Request = tuple[Subject, str, Resource]


def working_set(size: int) -> list[Request]:
    """`size` distinct requests spread over every role and action."""
    roles, actions = sorted(ROLES), sorted(ACTIONS)
    requests = []
    for n in range(size):
        subject = Subject(f"p{n % 97}", "person", (roles[n % len(roles)],), f"team{n % 5}")
        resource = Resource("Asset", f"a{n}", {"author": f"p{n % 13}", "critical": n % 2 == 0})
        requests.append((subject, actions[n % len(actions)], resource))
    return requests


def measure(
    decide: Callable[[Subject, str, Resource], object], requests: list[Request], calls: int
) -> list[int]:
    """Nanoseconds per call, cycling through `requests`."""
    timings = []
    clock = time.perf_counter_ns
    for n in range(calls):
        subject, action, resource = requests[n % len(requests)]
        start = clock()
        decide(subject, action, resource)
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
    cached, uncached = Authorizer.load(), Authorizer.load(cache_size=0)
    one, thousand = working_set(1), working_set(1000)
    measure(cached.decide, thousand, 2000)  # warm up: fill the cache, load Cedar
    print(f"python {platform.python_version()}, {calls} calls per row, times in µs")
    print("| scenario                     |   calls |      p50 |      p99 |    p99.9 |     mean |")
    print("| ---------------------------- | ------: | -------: | -------: | -------: | -------: |")
    print(row("cached, same key", measure(cached.decide, one, calls)))
    print(row("cached, 1000 distinct keys", measure(cached.decide, thousand, calls)))
    print(row("uncached (Cedar every call)", measure(uncached.decide, thousand, calls)))


if __name__ == "__main__":
    main()
