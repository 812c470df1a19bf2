"""The gateway benchmark's markdown: one column per target, one row per measure, then the goals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["markdown", "policy_markdown"]

Row = Callable[[dict[str, Any], str], str]
NAMES = ("aifactory", "litellm")


def _pair(a: float | None, b: float | None, digits: int = 2) -> str:
    if a is None or b is None:
        return "-"
    return f"{a:.{digits}f} / {b:.{digits}f}"


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _stat(key: str, low: str = "p50_ms", high: str = "p99_ms") -> Row:
    return lambda r, n: _pair(_get(r, "sequential", n, key, low), _get(r, "sequential", n, key, high))


def _capacity_rate(r: dict[str, Any], name: str) -> str:
    found = _get(r, "capacity", name)
    if not found:
        return "-"
    if found["rate"] is None:
        return f"< {found['failed_rate']:.0f}" if found["failed_rate"] else "-"
    more = "≥ " if found["failed_rate"] is None else ""
    unsure = "" if found["resolved"] else " (budget ran out)"
    return f"{more}{found['rate']:.0f}{unsure}"


def _capacity(key: str, digits: int = 0, where: str = "at") -> Row:
    def cell(r: dict[str, Any], name: str) -> str:
        value = _get(r, "capacity", name, where, key)
        return "-" if value is None else f"{value:.{digits}f}"

    return cell


def _soak(key: str, digits: int = 0) -> Row:
    def cell(r: dict[str, Any], name: str) -> str:
        value = _get(r, "soak", name, key)
        return "-" if value is None else f"{value:.{digits}f}"

    return cell


def _rss_growth(r: dict[str, Any], name: str) -> str:
    soak = _get(r, "soak", name)
    if not soak:
        return "-"
    total = soak["samples"][-1]["requests"]
    points = ", ".join(f"{s['rss_mb']:.0f}" for s in soak["samples"])
    return f"{soak['growth_after_first_batch_mb']:+.1f} MB over {total:,} ({points})"


ROWS: list[tuple[str, Row]] = [
    ("latency p50 / p99, ms (sequential)", _stat("latency")),
    ("overhead p50 / p99, ms (percentile of via - same percentile of direct)", _stat("overhead")),
    (
        "overhead p50 / p99, ms (percentiles of per-round differences)",
        _stat("overhead", "paired_p50_ms", "paired_p99_ms"),
    ),
    ("streaming time to first token p50 / p99, ms", _stat("ttft")),
    ("TTFT overhead p50 / p99, ms (percentile difference)", _stat("ttft_overhead")),
    (
        "CPU seconds per 1000 requests (sequential)",
        lambda r, n: f"{_get(r, 'sequential', n, 'cpu_seconds_per_1000'):.2f}",
    ),
    ("highest open-loop rate with p99 <= direct p99 + {limit} ms, req/s", _capacity_rate),
    ("p99 at that rate, ms", _capacity("p99_ms", 1)),
    ("direct p99 at that rate, ms", _capacity("p99_ms", 1, "direct_at")),
    ("CPU cores the server used at that rate", _capacity("server_cores", 2)),
    ("req/s per core at that rate", _capacity("per_core_rate")),
    ("saturated req/s (soak, closed loop)", _soak("saturated_rate")),
    ("CPU cores the server used when saturated", _soak("server_cores", 2)),
    ("req/s per core when saturated", _soak("per_core_rate")),
    (
        "RSS idle / at the end, MB",
        lambda r, n: _pair(_get(r, "rss", n, "idle_mb"), _get(r, "rss", n, "end_mb"), 0),
    ),
    ("RSS growth after the first soak batch (samples, MB)", _rss_growth),
]


def _per_core_goal(r: dict[str, Any]) -> list[str]:
    """The per-core ratio at the 10 ms point when both gateways have one, else at saturation."""
    at_limit = [_get(r, "capacity", n, "at", "per_core_rate") for n in NAMES]
    saturated = [_get(r, "soak", n, "per_core_rate") for n in NAMES]
    limit = r["options"]["limit_ms"]
    for (ours, theirs), label in ((at_limit, f"at p99 <= direct + {limit:g} ms"), (saturated, "saturated")):
        if ours and theirs:
            ratio = f"{ours:.0f} / {theirs:.0f} req/s per core = {ours / theirs:.1f}x"
            return [f"- >= 4x LiteLLM's throughput per core ({label}): {ratio}"]
    return []


def _goals(r: dict[str, Any]) -> list[str]:
    ours = _get(r, "sequential", "aifactory", "overhead", "p50_ms")
    theirs = _get(r, "sequential", "litellm", "overhead", "p50_ms")
    lines = [f"- overhead p50 <= 1.5 ms with auth, ledger and durable run records: {ours:.2f} ms"]
    if theirs:
        lines.append(
            f"- at most 1/3 of LiteLLM's overhead: {ours:.2f} / {theirs:.2f} ms = {ours / theirs:.2f}"
        )
    lines += _per_core_goal(r)
    growth = _get(r, "soak", "aifactory", "growth_after_first_batch_mb")
    if growth is not None:
        lines.append(f"- RSS flat: {growth:+.1f} MB after the first soak batch")
    return lines


def _heading(r: dict[str, Any]) -> str:
    machine, options = r["machine"], r["options"]
    return (
        f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"LiteLLM {r['litellm_version'] or '(not run)'}; {options['requests']} sequential rounds, "
        f"{options['stream_requests']} streamed; open-loop runs of {options['step_seconds']:g} s; "
        f"{r['wall_seconds']:.0f} s in all."
        + (f" aifactory env: {' '.join(options['aifactory_env'])}." if options.get("aifactory_env") else "")
    )


NOTES = [
    "Overhead: a gateway's latency minus direct's (the fake upstream called without a gateway).",
    "Direct's open-loop rate is the ceiling of this setup (generator + fake): its p99 within the",
    "limit of its own p99 at a low rate. A gateway figure near it says little about the gateway.",
]


def markdown(result: dict[str, Any]) -> str:
    """A heading line, the table, notes and the goal lines."""
    names = list(result["sequential"])
    limit = f"{result['options']['limit_ms']:g}"
    head = f"| measure | {' | '.join(names)} |\n| --- |{' ---: |' * len(names)}"
    rows = [
        f"| {label.format(limit=limit)} | {' | '.join(cell(result, n) for n in names)} |"
        for label, cell in ROWS
    ]
    return "\n".join([_heading(result), "", head, *rows, "", *NOTES, "", *_goals(result)])


POLICY_ROWS: list[tuple[str, Row]] = [
    *ROWS[:6],
    ("added over aifactory without packs, p50 / p99, ms (percentile difference)", _stat("versus_overhead")),
    (
        "added over aifactory without packs, p50 / p99, ms (per-round differences)",
        _stat("versus_overhead", "paired_p50_ms", "paired_p99_ms"),
    ),
    ("TTFT added over aifactory without packs, p50 / p99, ms", _stat("versus_ttft_overhead")),
]


def policy_markdown(result: dict[str, Any]) -> str:
    """The `--policy` run: a heading line and the sequential rows, with what the packs add."""
    names = list(result["sequential"])
    machine, options = result["machine"], result["options"]
    heading = (
        f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}; "
        f"{options['requests']} sequential rounds, {options['stream_requests']} streamed; "
        f"{result['wall_seconds']:.0f} s in all."
    )
    head = f"| measure | {' | '.join(names)} |\n| --- |{' ---: |' * len(names)}"
    rows = [f"| {label} | {' | '.join(cell(result, n) for n in names)} |" for label, cell in POLICY_ROWS]
    return "\n".join([heading, "", head, *rows])
