"""Child processes of the gateway benchmark: started, measured (CPU, RSS) from /proc, stopped by PID.

Linux only: CPU and memory are read from `/proc/<pid>/stat` and `/proc/<pid>/status` for the
process and every descendant, so a server that forks workers is measured whole.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

__all__ = ["Process", "free_port", "wait_until"]

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], what: str, deadline: float, alive: Callable[[], bool]) -> None:
    """Poll `ready` until it is true; fail after `deadline` seconds or when the process died."""
    end = time.monotonic() + deadline
    while not ready():
        if not alive():
            raise RuntimeError(f"{what} exited during start-up")
        if time.monotonic() > end:
            raise RuntimeError(f"{what} not ready after {deadline:.0f} s")
        time.sleep(0.1)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))


def _start_time(pid: int) -> int | None:
    """When the process started (ticks since boot): with the PID, it names one process for sure."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Process:
    """A child process we started; its logs go to a file, and it is stopped by its PID."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def is_alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the process and its live descendants."""
        return sum(_cpu_ticks(pid) for pid in _tree(self.pid)) / _TICKS

    def rss_bytes(self) -> int:
        """Resident memory of the process and its descendants."""
        return sum(_rss_bytes(pid) for pid in _tree(self.pid))

    def wait_http(self, url: str, deadline: float = 60, headers: dict[str, str] | None = None) -> None:
        """Wait until `GET url` answers 200."""

        def ready() -> bool:
            try:
                return httpx.get(url, headers=headers, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, self.name, deadline, self.is_alive)

    def tail(self, lines: int = 20) -> str:
        """The end of its log, for error messages."""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM the process (and its descendants, by PID); SIGKILL whatever is left after 10 s."""
        if not self.is_alive():
            return
        family = [(pid, _start_time(pid)) for pid in _tree(self.pid)]
        for pid, started in family:
            _signal(pid, started, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            _signal(self.pid, family[0][1], signal.SIGKILL)
            self.popen.wait(5)
        for pid, started in family[1:]:  # descendants that outlived the parent's shutdown
            _signal(pid, started, signal.SIGKILL)


def _signal(pid: int, started: int | None, sig: signal.Signals) -> None:
    """Signal `pid` only if it is still the process that started at `started` (PIDs get reused)."""
    if started is None or _start_time(pid) != started:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
