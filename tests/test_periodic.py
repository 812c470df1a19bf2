"""`Periodic`: background work that runs on an interval, survives its failures, and stops cleanly."""

from __future__ import annotations

import threading
import time

import pytest

from aifactory.periodic import Periodic


def test_work_runs_again_after_a_failure_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []
    third = threading.Event()

    def work() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("database away")
        if len(calls) == 3:
            third.set()

    loop = Periodic("test-loop", 0.01, work)
    loop.start()
    assert third.wait(5)
    loop.stop()
    assert loop.stopping
    count = len(calls)
    time.sleep(0.05)
    assert len(calls) == count  # stopped means stopped
    assert "test-loop failed" in caplog.text


def test_immediately_runs_before_the_first_interval_and_zero_never_starts() -> None:
    ran = threading.Event()
    loop = Periodic("now", 3600, ran.set, immediately=True)
    loop.start()
    assert ran.wait(5)
    loop.stop()
    never = threading.Event()
    idle = Periodic("off", 0, never.set, immediately=True)
    idle.start()
    assert not never.wait(0.1)
    idle.stop()
