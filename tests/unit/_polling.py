"""Bounded polling for the unit tests: wait for a condition without hanging on a bug.

Every wait ends after `WAIT` seconds of real time at most, so a test that
waits for something that never happens fails instead of hanging. Nothing here
proves that something did NOT happen: for that, a test steps a FakeClock and
asserts on its waiters (`deadlines()`: who still waits, and for when).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

from k8slab._clock import FakeClock

WAIT = 10.0  # seconds of real time any single condition may take on a loaded machine


def eventually(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Return once `condition()` holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def stack_of(thread: threading.Thread) -> list[str]:
    """The functions on `thread`'s stack, innermost first ([] once it has ended).

    A thread blocked in `Condition.wait` called from `Queue.get` shows ["wait", "get", ...]:
    tests wait for that instead of sleeping and hoping the thread got there.
    """
    frame = sys._current_frames().get(thread.ident or -1)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names


def wait_until(cond: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Whether `cond()` came true within `timeout` seconds (checked once more at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.001)
    return cond()


def step_until(clock: FakeClock, condition: Callable[[], bool], step: float = 0.5) -> None:
    """Move the fake clock forward in steps until `condition` holds (for backoff waits)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        clock.step(step)
        time.sleep(0.01)
