"""PII detection: aifactory's built-in detector against Presidio's analyzer on the labelled corpus.

    python bench/pii_corpus.py                      # (re)generate bench/data/pii_corpus.jsonl
    python bench/pii_bench.py --presidio-python /tmp/presidio-venv/bin/python

Presidio runs in its own virtualenv (`python3 -m venv /tmp/presidio-venv &&
/tmp/presidio-venv/bin/pip install presidio-analyzer`), through `_presidio_worker.py`, which says
how it is configured: regex only, every default pattern recognizer for English plus its national-id
recognizers, a blank spaCy tokenizer for context words, no model. Without `--presidio-python` only
ours is measured.

Measured, for each: throughput (MB/s of UTF-8 text over one pass of the corpus, best of
`--repeat` for ours), latency per KB (p50 and p99 over documents of about 1 KB made of consecutive
records, each time divided by its size in KB), and precision, recall and F1 per entity type. A
finding counts as a true positive when it has the label's type and overlaps the labelled span (each
label matched once). Presidio's `DATE_TIME` is compared with `DATE_OF_BIRTH` (Presidio has no
birth-date type); its types that are not labelled anywhere in the corpus are counted apart.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aifactory.policy.pii import default_detector

CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"
ALIASES = {"DATE_TIME": "DATE_OF_BIRTH"}
Span = tuple[str, int, int]


def load(path: Path) -> list[dict[str, Any]]:
    """The corpus records."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def documents(records: Sequence[dict[str, Any]], size: int = 1024) -> list[str]:
    """Texts of about `size` UTF-8 bytes, each made of consecutive records."""
    docs, current = [], ""
    for record in records:
        current = f"{current} {record['text']}".strip()
        if len(current.encode()) >= size:
            docs.append(current)
            current = ""
    return docs


def score(labels: Sequence[Sequence[Span]], found: Sequence[Sequence[Span]]) -> dict[str, Counter[str]]:
    """Per type: true positives, false positives, false negatives."""
    counts: dict[str, Counter[str]] = {}
    for gold, predicted in zip(labels, found, strict=True):
        used: set[int] = set()
        for kind, start, end in predicted:
            c = counts.setdefault(kind, Counter())
            overlapping = (i for i, (k, s, e) in enumerate(gold) if k == kind and s < end and start < e)
            match = next((i for i in overlapping if i not in used), None)
            if match is None:
                c["fp"] += 1
            else:
                used.add(match)
                c["tp"] += 1
        for i, (kind, _, _) in enumerate(gold):
            if i not in used:
                counts.setdefault(kind, Counter())["fn"] += 1
    return counts


def prf(c: Counter[str]) -> tuple[float, float, float]:
    """Precision, recall, F1."""
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def latency_per_kb(docs: Sequence[str], seconds: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 of milliseconds per KB."""
    per_kb = sorted(s * 1000 / (len(d.encode()) / 1024) for d, s in zip(docs, seconds, strict=True))
    return statistics.median(per_kb), per_kb[min(len(per_kb) - 1, round(0.99 * (len(per_kb) - 1)))]


def run_ours(records: Sequence[dict[str, Any]], docs: Sequence[str], repeat: int) -> dict[str, Any]:
    """Predictions, best-of-`repeat` seconds for one corpus pass, and per-document latencies."""
    detector = default_detector()
    detector.analyze("warm up 4111 1111 1111 1111 jane@example.com")
    best, predictions = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        found = [detector.analyze(r["text"], language=r["language"]) for r in records]
        best = min(best, time.perf_counter() - start)
        predictions = [[[e.type, e.start, e.end, e.score] for e in f] for f in found]
    return {"predictions": predictions, "seconds": best, "latencies": timed(detector.analyze, docs)}


def timed(analyze: Any, docs: Sequence[str], rounds: int = 3) -> list[float]:
    """Seconds per document: the fastest of `rounds` (the machine is shared: the minimum is the
    least disturbed), after one untimed round (lazy loads, such as phone metadata per region)."""
    best = [float("inf")] * len(docs)
    for round_ in range(rounds + 1):
        for i, doc in enumerate(docs):
            t0 = time.perf_counter()
            analyze(doc)
            if round_:
                best[i] = min(best[i], time.perf_counter() - t0)
    return best


def run_presidio(python: str, records: Sequence[dict[str, Any]], docs: Sequence[str]) -> dict[str, Any]:
    """The worker's results, run in Presidio's virtualenv."""
    worker = Path(__file__).parent / "_presidio_worker.py"
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "out.json"
        body = {"texts": [r["text"] for r in records], "docs": list(docs), "rounds": 3}
        job.write_text(json.dumps(body), encoding="utf-8")
        subprocess.run([python, str(worker), str(job), str(out)], check=True)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def spans(predictions: Sequence[Sequence[Sequence[Any]]], threshold: float) -> list[list[Span]]:
    """Predictions at or above `threshold`, with Presidio's names mapped to the corpus's."""
    return [[(ALIASES.get(k, k), s, e) for k, s, e, sc in p if sc >= threshold] for p in predictions]


def report(
    name: str,
    result: dict[str, Any],
    records: Sequence[dict[str, Any]],
    docs: Sequence[str],
    threshold: float,
) -> dict[str, Any]:
    """Throughput, latency and per-type scores of one detector."""
    megabytes = sum(len(r["text"].encode()) for r in records) / 1e6
    labels = [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in records]
    counts = score(labels, spans(result["predictions"], threshold))
    p50, p99 = latency_per_kb(docs, result["latencies"])
    return {
        "name": name,
        "mb_per_s": megabytes / result["seconds"],
        "p50_ms_per_kb": p50,
        "p99_ms_per_kb": p99,
        "types": {k: (*prf(c), c) for k, c in sorted(counts.items())},
    }


def table(reports: Sequence[dict[str, Any]], labelled: set[str]) -> str:
    """Markdown tables of the reports."""
    lines = ["| detector | MB/s | p50 ms per KB | p99 ms per KB |", "| --- | --- | --- | --- |"]
    for r in reports:
        ms = f"{r['p50_ms_per_kb']:.3f} | {r['p99_ms_per_kb']:.3f}"
        lines.append(f"| {r['name']} | {r['mb_per_s']:.2f} | {ms} |")
    lines += [
        "",
        "| entity type | " + " | ".join(f"{r['name']} P / R / F1" for r in reports) + " |",
        "| --- |" + " --- |" * len(reports),
    ]
    for kind in sorted(labelled):
        cells = []
        for r in reports:
            p, rec, f1, _ = r["types"].get(kind, (0.0, 0.0, 0.0, Counter()))
            cells.append(f"{p:.3f} / {rec:.3f} / **{f1:.3f}**")
        lines.append(f"| `{kind}` | " + " | ".join(cells) + " |")
    for r in reports:
        other = {k: v[3]["fp"] for k, v in r["types"].items() if k not in labelled}
        if other:
            lines.append(
                f"\n{r['name']}: findings of types not in the corpus: "
                + ", ".join(f"{k} {n}" for k, n in sorted(other.items()))
            )
    return "\n".join(lines)


def main() -> None:
    """Measure and print markdown tables (and JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presidio-python", help="python of a virtualenv with presidio-analyzer")
    parser.add_argument("--repeat", type=int, default=3, help="corpus passes for ours (best is kept)")
    parser.add_argument("--docs", type=int, default=400, help="1 KB documents for the latency")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    records = load(CORPUS)
    docs = documents(records)[: args.docs]
    labelled = {e["type"] for r in records for e in r["entities"]}
    reports = [report("aifactory builtin", run_ours(records, docs, args.repeat), records, docs, 0.5)]
    if args.presidio_python:
        presidio = run_presidio(args.presidio_python, records, docs)
        reports.append(report("Presidio (threshold 0, its default)", presidio, records, docs, 0.0))
        reports.append(report("Presidio (threshold 0.5)", presidio, records, docs, 0.5))
    kb = sum(len(r["text"].encode()) for r in records) / 1024
    print(
        f"{len(records)} records, {kb:.0f} KB, {len(docs)} documents of ~1 KB; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n"
    )
    print(table(reports, labelled))
    if args.json:
        args.json.write_text(json.dumps(reports, default=dict, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
