"""The clock that workqueue, reflector and leader election read.

Mirrors k8s.io/utils/clock (clock.go and testing/fake_clock.go): code asks an
injected clock for the time and for waits, so tests step a fake clock instead
of sleeping.

Kept: `now()` (monotonic seconds), `wall()` (UTC wall time, for Lease
timestamps), `sleep()`, and `wait(cond, timeout)` for loops that wait on a
`threading.Condition` until either someone notifies it or the time passes;
`sleep_or_stop(clock, stop, s)`, the interruptible sleep that the reflector
(as `cache._wait.sleep`) and the leader elector share.
Left out: tickers and timers as objects; a waiting loop re-reads `now()`.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "RealClock", "REAL_CLOCK", "sleep_or_stop"]


class Clock(Protocol):
    """What k8slab's timed code needs from a clock."""

    def now(self) -> float:
        """Monotonic seconds; only differences mean anything."""

    def wall(self) -> _dt.datetime:
        """The current UTC wall-clock time."""

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` of this clock's time."""

    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        """Wait on `cond` (its lock held) until notified or `timeout` of clock time passes.

        May return early (spurious wake-ups): callers loop and re-check.
        """


class RealClock:
    """The machine's clocks."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        cond.wait(None if timeout is None else max(timeout, 0.0))


REAL_CLOCK = RealClock()


class FakeClock:
    """A clock that moves only when a test calls `step` or `set`.

    Waiters on conditions are woken at every step, and re-check the time
    themselves. `sleep` blocks until other threads step the clock past the
    deadline (or returns at once if `seconds <= 0`).
    """

    _EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()
        self._stepped = threading.Condition(self._lock)
        self._waiting: set[threading.Condition] = set()

    def now(self) -> float:
        with self._lock:
            return self._t

    def wall(self) -> _dt.datetime:
        return self._EPOCH + _dt.timedelta(seconds=self.now())

    def step(self, seconds: float) -> None:
        """Move time forward and wake everything waiting on this clock."""
        with self._lock:
            self._t += seconds
            waiting = list(self._waiting)
            self._stepped.notify_all()
        for cond in waiting:
            with cond:
                cond.notify_all()

    def set(self, t: float) -> None:
        self.step(t - self.now())

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            deadline = self._t + seconds
            while self._t < deadline:
                self._stepped.wait()

    def wait(self, cond: threading.Condition, timeout: float | None) -> None:
        if timeout is not None and timeout <= 0:
            return
        with self._lock:
            self._waiting.add(cond)
        try:
            # A short real-time cap keeps a waiter from hanging forever if a
            # notify raced with registration; callers loop anyway.
            cond.wait(0.05)
        finally:
            with self._lock:
                self._waiting.discard(cond)

    def has_waiters(self) -> bool:
        """True while some thread waits on this clock (tests use it to sync)."""
        with self._lock:
            return bool(self._waiting)


def sleep_or_stop(clock: Clock, stop: threading.Event, seconds: float) -> bool:
    """Wait `seconds` of `clock` time or until `stop` is set; True if stopped.

    On the real clock this is `stop.wait`. A fake clock only moves when a test
    steps it, so we wait on it in short slices and re-check `stop`.
    """
    if isinstance(clock, RealClock):
        return stop.wait(max(seconds, 0.0))
    deadline = clock.now() + seconds
    cond = threading.Condition()
    with cond:
        while not stop.is_set():
            remaining = deadline - clock.now()
            if remaining <= 0:
                return False
            clock.wait(cond, remaining)
    return True
