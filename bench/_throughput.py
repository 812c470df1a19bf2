"""The load generator's handle, and the soak: many requests, the server's RSS sampled as they go.

`_loadgen.py` runs in a process of its own, so the generator's CPU is neither the gateway's nor
the measuring process's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from _gateways import Target
from _processes import Process

__all__ = ["MB", "LoadGenerator", "soak"]

MB = 1024 * 1024


class LoadGenerator:
    """`_loadgen.py` in a child process; one JSON command in, one JSON result out."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("_loadgen.py")
        self.popen = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.popen.stdin is not None
        assert self.popen.stdout is not None
        return self.popen.stdin, self.popen.stdout

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command, wait for its result."""
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError("the load generator exited")
        return dict(json.loads(line))

    def stop(self) -> None:
        """Close its stdin (it exits at EOF); kill it by PID if it does not."""
        if self.popen.poll() is not None:
            return
        self._pipes()[0].close()
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def soak(
    gen: LoadGenerator, target: Target, proc: Process, total: int, every: int, concurrency: int, budget: float
) -> dict[str, Any]:
    """`total` requests in batches of `every` (closed loop), the server's RSS after each batch;
    it stops after the batch that ends past `budget` wall seconds."""
    samples: list[dict[str, Any]] = [{"requests": 0, "rss_mb": proc.rss_bytes() / MB}]
    done, seconds, cpu_seconds = 0, 0.0, 0.0
    deadline = time.monotonic() + budget
    while done < total and time.monotonic() < deadline:
        batch = min(every, total - done)
        cpu = proc.cpu_seconds()
        command = {"op": "closed", "target": target.to_json(), "requests": batch, "concurrency": concurrency}
        result = gen.run(command)
        used = proc.cpu_seconds() - cpu
        done, seconds, cpu_seconds = done + batch, seconds + result["seconds"], cpu_seconds + used
        samples.append(
            {
                "requests": done,
                "rss_mb": proc.rss_bytes() / MB,
                "rate": result["rate"],
                "errors": result["errors"],
                "server_cores": used / result["seconds"],
                "generator_cpu_share": result["cpu_share"],
            }
        )
    rss = [s["rss_mb"] for s in samples]
    return {
        "requests": done,
        "stopped_by_budget": done < total,
        "saturated_rate": done / seconds,
        "server_cores": cpu_seconds / seconds,
        "per_core_rate": done / cpu_seconds,
        "samples": samples,
        "growth_mb": rss[-1] - rss[0],
        "growth_after_first_batch_mb": rss[-1] - rss[min(1, len(rss) - 1)],
        "errors": sum(int(s.get("errors", 0)) for s in samples),
    }
