"""Gateway overhead: direct to a fake upstream vs through aifactory vs through LiteLLM's proxy.

    .venv/bin/python bench/gateway_overhead.py            # full run, about 25 minutes on 2 cores
    .venv/bin/python bench/gateway_overhead.py --quick    # under 2 minutes: checks that it all works
    .venv/bin/python bench/gateway_overhead.py --policy   # policy packs and PII on and off: ~1 minute

One run, one machine, one fake upstream (`aifactory.testing`, no token delay), every server a
process of its own on 127.0.0.1: aifactory with auth, ledger and durable run records (the
defaults), aifactory with `AIFACTORY_GATEWAY_DURABLE_RUNS=false`, and LiteLLM's proxy (installed
once into its own virtualenv, `--litellm-venv`, never into ours; offline, master key, no
database). Phases: interleaved sequential rounds (overhead p50/p99, CPU per request), the same
streamed (time to first token), an open-loop rate search per target (highest rate whose p99 stays
within 10 ms of direct's at that rate, CPU cores used there), and a closed-loop soak (saturated
rate; RSS every `--soak-every` requests). Prints JSON, then a markdown table. Results go in
docs/benchmarks.md (with the machine and the date).

`--policy` measures something else, in sequential and streamed rounds only: direct, aifactory with
no active pack, and aifactory with every built-in pack active (`bench/_policy.py`), both aifactory
servers called with governance headers (DE, chat, personal_data) and a prompt with an e-mail
address and a phone number, so that the packs' decision, pseudonymization and restoring run on
every call; it reports what the packs add over aifactory without them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _capacity import MIN_RATE, Search, capacity
from _gateways import (
    LITELLM_SPEC,
    Target,
    ensure_litellm,
    start_aifactory,
    start_all,
    start_fake,
    start_litellm,
)
from _latency import overhead, rounds, summary
from _policy import start_policy_gateways, with_prompt
from _processes import Process
from _report import markdown, policy_markdown
from _throughput import MB, LoadGenerator, soak

FULL = {
    "requests": 2000,
    "warmup": 200,
    "stream_requests": 500,
    "step_seconds": 4.0,
    "step_warmup": 0.5,
    "search_budget": 50.0,
    "resolution": 1.2,
    "soak_requests": 100_000,
    "soak_every": 10_000,
    "litellm_soak_requests": 20_000,
    "soak_budget": 600.0,
}
QUICK = {
    "requests": 200,
    "warmup": 30,
    "stream_requests": 80,
    "step_seconds": 1.0,
    "step_warmup": 0.3,
    "search_budget": 5.0,
    "resolution": 1.5,
    "soak_requests": 2000,
    "soak_every": 500,
    "litellm_soak_requests": 800,
    "soak_budget": 20.0,
}
HELP = {
    "requests": "sequential rounds recorded (each sends one request to every target)",
    "warmup": "sequential rounds sent first and not recorded",
    "stream_requests": "streamed rounds recorded",
    "step_seconds": "recorded seconds of each open-loop run",
    "step_warmup": "seconds at the same rate before each open-loop run is recorded",
    "search_budget": "wall seconds of the rate search, per target",
    "resolution": "the search stops when the failing rate is within this factor of the passing one",
    "soak_requests": "requests through aifactory while its RSS is sampled",
    "soak_every": "requests between RSS samples (at least four samples per soak)",
    "litellm_soak_requests": "requests through LiteLLM while its RSS is sampled",
    "soak_budget": "wall seconds per soak; it stops after the batch that ends past them",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a check that it works")
    for name, value in FULL.items():
        flag, quick = f"--{name.replace('_', '-')}", QUICK[name]
        parser.add_argument(flag, type=type(value), help=f"{HELP[name]} ({value:g}; --quick: {quick:g})")
    parser.add_argument("--limit-ms", type=float, default=10.0, help="allowed p99 above direct's (10)")
    parser.add_argument(
        "--no-confirm", action="store_true", help="no re-run of a failing open-loop run (--quick: none)"
    )
    parser.add_argument("--soak-concurrency", type=int, default=8, help="closed-loop workers in the soak")
    parser.add_argument("--litellm-venv", type=Path, default=Path("/tmp/litellm-venv"))
    parser.add_argument("--litellm-spec", default=LITELLM_SPEC, help="what pip installs when it is missing")
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out")
    parser.add_argument("--no-nondurable", action="store_true", help="leave non-durable aifactory out")
    parser.add_argument(
        "--aifactory-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for both aifactory servers, e.g. AIFACTORY_LOG_LEVEL=WARNING (repeatable)",
    )
    parser.add_argument(
        "--policy",
        action="store_true",
        help="instead: aifactory without packs vs with the built-in packs, governance headers and PII "
        "in the prompt (sequential and streamed rounds only)",
    )
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    parser.add_argument("--keep", type=Path, help="work (data dirs, configs, logs) in this new dir, kept")
    return parser


def _options(argv: list[str] | None = None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.no_confirm = args.no_confirm or args.quick
    return args


def _machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "")
    return {"cpu": model or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


def _start_gateways(
    work: Path, args: argparse.Namespace, upstream: str, started: list[Process]
) -> list[tuple[Target, Process]]:
    """Start every gateway at once (they take seconds each); whatever started is in `started`."""
    env = dict(pair.split("=", 1) for pair in args.aifactory_env)
    jobs = [lambda: start_aifactory("aifactory", work, upstream, durable=True, extra_env=env)]
    if not args.no_nondurable:
        jobs.append(
            lambda: start_aifactory("aifactory-nondurable", work, upstream, durable=False, extra_env=env)
        )
    if not args.no_litellm:
        jobs.append(lambda: start_litellm(work, args.litellm_venv, upstream))
    return start_all(jobs, started)


def _sequential(
    targets: list[tuple[Target, Process]], args: argparse.Namespace, versus: str | None = None
) -> dict[str, Any]:
    """Whole answers, then streams: latency, overhead over direct (and over `versus`, when given,
    as `versus_overhead` and `versus_ttft_overhead`), CPU per 1000 requests."""
    names = [t.name for t, _ in targets]
    before = {t.name: p.cpu_seconds() for t, p in targets}
    whole = rounds([t for t, _ in targets], args.requests, args.warmup)
    sent = args.requests + args.warmup
    cpu = {t.name: (p.cpu_seconds() - before[t.name]) / sent * 1000 for t, p in targets}
    streams = rounds([t for t, _ in targets], args.stream_requests, args.warmup // 4, stream=True)
    direct = names[0]
    rows = {
        name: {
            "latency": summary(whole[name].values) | {"errors": whole[name].errors},
            "overhead": overhead(whole[direct], whole[name]) if name != direct else {},
            "ttft": summary(streams[name].values) | {"errors": streams[name].errors},
            "ttft_overhead": overhead(streams[direct], streams[name]) if name != direct else {},
            "cpu_seconds_per_1000": cpu[name],
        }
        for name in names
    }
    for name in names[names.index(versus) + 1 :] if versus else []:
        rows[name]["versus_overhead"] = overhead(whole[versus], whole[name])
        rows[name]["versus_ttft_overhead"] = overhead(streams[versus], streams[name])
    return rows


def _start_rates(sequential: dict[str, Any]) -> dict[str, float]:
    """Where each rate search starts: 30% of what one core serves at the target's sequential CPU cost."""
    return {
        name: min(400.0, max(MIN_RATE, 300 / row["cpu_seconds_per_1000"])) for name, row in sequential.items()
    }


def _soaks(gen: LoadGenerator, gateways: list[tuple[Target, Process]], args: argparse.Namespace) -> Any:
    """RSS growth under many requests, at least four samples each: aifactory (durable) and LiteLLM."""
    totals = {"aifactory": args.soak_requests, "litellm": args.litellm_soak_requests}
    found = {}
    for target, proc in gateways:
        total = totals.get(target.name, 0)
        if total:
            every = min(args.soak_every, max(1, total // 4))
            found[target.name] = soak(
                gen, target, proc, total, every, args.soak_concurrency, args.soak_budget
            )
    return found


def _run(
    work: Path, args: argparse.Namespace, procs: list[Process], gen: list[LoadGenerator]
) -> dict[str, Any]:
    started = time.monotonic()
    fake, direct = start_fake(work)
    procs.append(fake)
    version = None if args.no_litellm else ensure_litellm(args.litellm_venv, args.litellm_spec)
    gateways = _start_gateways(work, args, direct.base_url, procs)
    everyone = [(direct, fake), *gateways]
    rss = {t.name: {"idle_mb": p.rss_bytes() / MB} for t, p in everyone}
    result: dict[str, Any] = {"machine": _machine(), "litellm_version": version, "options": vars(args)}
    phases = {"start": time.monotonic() - started}
    result["sequential"] = _sequential(everyone, args)
    phases["sequential"] = time.monotonic() - started - sum(phases.values())
    gen.append(LoadGenerator())
    search = Search(
        args.step_seconds,
        args.step_warmup,
        args.search_budget,
        args.resolution,
        args.limit_ms,
        not args.no_confirm,
    )
    result["capacity"] = capacity(gen[0], everyone[0], gateways, _start_rates(result["sequential"]), search)
    phases["capacity"] = time.monotonic() - started - sum(phases.values())
    result["soak"] = _soaks(gen[0], gateways, args)
    phases["soak"] = time.monotonic() - started - sum(phases.values())
    result["phase_seconds"] = phases
    for target, proc in everyone:
        rss[target.name]["end_mb"] = proc.rss_bytes() / MB
    result["rss"] = rss
    result["wall_seconds"] = time.monotonic() - started
    return result


def _run_policy(
    work: Path, args: argparse.Namespace, procs: list[Process], _gen: list[LoadGenerator]
) -> dict[str, Any]:
    """Direct, aifactory without packs, aifactory with the built-in packs: sequential rounds."""
    started = time.monotonic()
    fake, direct = start_fake(work)
    procs.append(fake)
    env = dict(pair.split("=", 1) for pair in args.aifactory_env)
    gateways = start_policy_gateways(work, direct.base_url, env, procs)
    everyone = [(with_prompt(direct, governed=False), fake), *gateways]
    result: dict[str, Any] = {"machine": _machine(), "litellm_version": None, "options": vars(args)}
    result["sequential"] = _sequential(everyone, args, versus="aifactory")
    result["wall_seconds"] = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> None:
    """Run every phase, print JSON and a markdown table; stop every process started, by PID."""
    args = _options(argv)
    procs: list[Process] = []
    gen: list[LoadGenerator] = []
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            result = (_run_policy if args.policy else _run)(work, args, procs, gen)
        except BaseException:
            for proc in procs:
                print(f"--- {proc.name} (pid {proc.pid}) log tail:\n{proc.tail()}", file=sys.stderr)
            raise
        finally:
            for g in gen:
                g.stop()
            for proc in reversed(procs):
                proc.stop()
    result["options"] = {k: str(v) if isinstance(v, Path) else v for k, v in result["options"].items()}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    print()
    print(policy_markdown(result) if args.policy else markdown(result))


if __name__ == "__main__":
    main()
