"""Ledger benchmarks: durable group-commit appends, sequencing, proof latency at scale, verify speed.

    python bench/bench_ledger.py --db sqlite --entries 1000000
    python bench/bench_ledger.py --db postgres --entries 1000000

Results go in docs/benchmarks.md (with the machine and the date).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import secrets
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from aifactory.bootstrap import initialize
from aifactory.ledger import Event
from aifactory.runtime import Runtime
from aifactory.settings import Settings
from aifactory.store import ledger_rows

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _settings(db: str, work: Path) -> tuple[Settings, str | None]:
    if db == "sqlite":
        return Settings(data_dir=work), None
    schema = f"bench_{secrets.token_hex(4)}"
    with create_engine(POSTGRES, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    return Settings(data_dir=work, database_url=f"{POSTGRES}?options=-csearch_path%3D{schema}"), schema


def _drop(schema: str | None) -> None:
    if schema:
        engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return {"p50_ms": pick(0.50) * 1000, "p99_ms": pick(0.99) * 1000, "max_ms": samples[-1] * 1000}


def bench_appends(rt: Runtime, producers: int, seconds: float) -> dict[str, float]:
    """Concurrent callers append through the group-commit writer; each returns when durable."""
    rt.ledger.writer.start()
    count = [0] * producers
    stop = time.monotonic() + seconds

    def produce(slot: int) -> None:
        n = 0
        while time.monotonic() < stop:
            rt.ledger.append(Event("bench.append", f"thing:{slot}", "prn_bench", {"n": n}))
            n += 1
        count[slot] = n

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    rt.ledger.writer.stop()
    return {"producers": producers, "acknowledged": sum(count), "per_second": sum(count) / elapsed}


def bench_sustained(rt: Runtime, producers: int, seconds: float) -> dict[str, float]:
    """Appends while the sequencer runs too (as in a server): throughput, drain lag, checkpoints."""
    rt.ledger.sync()  # start from an empty queue: no backlog from an earlier phase
    with rt.db.read() as conn:
        checkpoints_before = len(ledger_rows.checkpoints(conn))
    rt.ledger.start()
    result = bench_appends(rt, producers, seconds)
    ended = time.monotonic()
    while True:
        with rt.db.read() as conn:
            if ledger_rows.count_queued(conn) == 0:
                break
        time.sleep(0.01)
    drained = time.monotonic() - ended
    rt.ledger.stop()
    with rt.db.read() as conn:
        signed = len(ledger_rows.checkpoints(conn)) - checkpoints_before
    return result | {"drain_seconds_after_last_ack": drained, "checkpoints_signed": signed}


def bench_sequencing(rt: Runtime, entries: int) -> dict[str, float]:
    """Fill the queue in bulk, then time integrating it into the tree (indices, nodes, state)."""
    event = Event("bench.fill", "thing:0", "prn_bench", {"payload": "x" * 64}).to_json()
    chunk = 50_000
    started = time.monotonic()
    for start in range(0, entries, chunk):
        with rt.db.write() as conn:
            ledger_rows.enqueue(conn, [event] * min(chunk, entries - start))
    enqueued = time.monotonic() - started
    started = time.monotonic()
    rt.ledger.sequencer.batch_size = 20_000
    integrated = rt.ledger.sequencer.integrate_all()
    elapsed = time.monotonic() - started
    rt.ledger.sequencer.checkpoint(force=True)
    return {
        "entries": integrated,
        "enqueue_per_second": entries / enqueued,
        "sequence_per_second": integrated / elapsed,
    }


def bench_proofs(rt: Runtime, samples: int) -> dict[str, dict[str, float]]:
    """Inclusion and consistency proof latency at the current tree size, from the database."""
    size = rt.ledger.size()
    rng = random.Random(7)
    inclusion, consistency = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        started = time.perf_counter()
        rt.ledger.inclusion(index, size)
        inclusion.append(time.perf_counter() - started)
        first = rng.randrange(1, size)
        started = time.perf_counter()
        rt.ledger.consistency(first, size)
        consistency.append(time.perf_counter() - started)
    return {
        "tree_size": {"n": size},
        "inclusion": _percentiles(inclusion),
        "consistency": _percentiles(consistency),
    }


def bench_verify(rt: Runtime) -> dict[str, float]:
    """Full offline verification: recompute every hash, check every signed checkpoint."""
    started = time.monotonic()
    report = rt.ledger.verify()
    elapsed = time.monotonic() - started
    assert report.ok, report.problem
    return {"entries": report.entries, "seconds": elapsed, "per_second": report.entries / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--producers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--skip-fill", action="store_true", help="only the append benchmarks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        settings, schema = _settings(args.db, Path(work))
        try:
            initialize(settings)
            rt = Runtime.open(settings)
            results: dict[str, object] = {
                "db": args.db,
                "machine": platform.processor() or platform.machine(),
                "appends": bench_appends(rt, args.producers, args.seconds),
                "sustained": bench_sustained(rt, args.producers, args.seconds),
            }
            if not args.skip_fill:
                results["sequencing"] = bench_sequencing(rt, args.entries)
                results["proofs"] = bench_proofs(rt, args.samples)
                results["verify"] = bench_verify(rt)
            rt.close()
        finally:
            _drop(schema)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
