"""The clock that every timed part of k8slab reads: the real one, or a fake a test steps.

Mirrors k8s.io/utils/clock (`clock.go`) and its `testing/fake_clock.go`: code
asks an injected clock for the time and for every wait, so a test steps a
`FakeClock` instead of sleeping, and asserts on its waiters instead of
watching real time pass.

Kept:
- `now()` (monotonic seconds), `wall()` (UTC wall time, for Lease timestamps),
  `sleep(seconds)`.
- Waits with deadlines on the clock's time: `wait_until(deadline, *events)`
  returns when the clock reaches `deadline` or one of `events` is set (Go's
  `select` on `clock.After(d)` and a stop channel); `wait(cond, timeout)` (or
  `deadline=`) waits on a `threading.Condition` until notified or the time comes.
- The fake clock's waiters, as k8s.io/utils keeps them: each wait registers
  its deadline, and `step()` / `set()` wake exactly the waiters whose deadline
  it reaches, no others. `has_waiters()` and `waiters()` (Go's `HasWaiters`,
  `Waiters`), `deadlines()` to see what they wait for, and `block_until(n)` to
  let a test wait until n waiters are registered before it steps.
- `sleep_or_stop(clock, stop, s)`, the interruptible sleep of the reflector and
  the leader elector: `clock.wait_until(clock.now() + s, stop)`.
Left out: tickers and timers as objects (a loop waits again); `Since`,
`Until`. One thing Python forces: a thread cannot block on several events at
once, so a wait on more than one event (and, on a FakeClock, on any event
besides its deadline) checks them every `EVENT_POLL` seconds of real time.
Only noticing an event can lag by that much, never the clock.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Protocol

__all__ = ["Clock", "EVENT_POLL", "FakeClock", "REAL_CLOCK", "RealClock", "sleep_or_stop"]

EVENT_POLL = 0.05  # seconds of real time between checks of events a wait cannot block on


class Clock(Protocol):
    """What k8slab's timed code needs from a clock."""

    def now(self) -> float:
        """Monotonic seconds; only differences mean anything."""

    def wall(self) -> _dt.datetime:
        """The current UTC wall-clock time."""

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` of this clock's time."""

    def wait_until(self, deadline: float | None, *events: threading.Event) -> bool:
        """Block until one of `events` is set (True) or the clock reaches `deadline` (False).

        `deadline` is a `now()` value; None waits for an event only.
        """

    def wait(self, cond: threading.Condition, timeout: float | None = None, *,
             deadline: float | None = None) -> None:
        """Wait on `cond` (its lock held) until notified, or `timeout` of clock time passes,
        or the clock reaches `deadline` (a `now()` value; the race-free form for loops
        that computed it under `cond`). Neither: until notified.

        May return early (spurious wake-ups): callers loop and re-check.
        """


def _wait_events(events: tuple[threading.Event, ...], timeout: float | None) -> bool:
    """Real time: True once one of `events` is set, False after `timeout` seconds."""
    if len(events) == 1:
        return events[0].wait(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while not any(e.is_set() for e in events):
        remaining = EVENT_POLL if deadline is None else min(EVENT_POLL, deadline - time.monotonic())
        if remaining <= 0:
            return False
        if events:
            events[0].wait(remaining)
        else:
            time.sleep(remaining)
    return True


class RealClock:
    """The machine's clocks."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait_until(self, deadline: float | None, *events: threading.Event) -> bool:
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        return _wait_events(events, timeout)

    def wait(self, cond: threading.Condition, timeout: float | None = None, *,
             deadline: float | None = None) -> None:
        if deadline is not None:
            timeout = deadline - time.monotonic()
        cond.wait(None if timeout is None else max(timeout, 0.0))


REAL_CLOCK = RealClock()


class _Waiter:
    """One wait on a FakeClock: its deadline, and how to wake it."""

    __slots__ = ("deadline", "fired", "cond")

    def __init__(self, deadline: float, cond: threading.Condition | None = None) -> None:
        self.deadline = deadline
        self.fired = threading.Event()
        self.cond = cond

    def fire(self) -> None:
        self.fired.set()
        if self.cond is not None:
            with self.cond:
                self.cond.notify_all()


class FakeClock:
    """A clock that moves only when a test calls `step` or `set`.

    Every wait with a deadline is a registered waiter until it returns; a step
    wakes exactly the waiters whose deadline it reaches (k8s.io/utils'
    `setTimeLocked`). `sleep` blocks until other threads step the clock past
    its deadline (it returns at once if `seconds <= 0`).
    """

    _EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a waiter came or went
        self._waiters: list[_Waiter] = []

    def now(self) -> float:
        with self._lock:
            return self._t

    def wall(self) -> _dt.datetime:
        return self._EPOCH + _dt.timedelta(seconds=self.now())

    def step(self, seconds: float) -> None:
        """Move time forward by `seconds` and wake the waiters whose deadline that reaches."""
        with self._lock:
            self._t += seconds
            due = [w for w in self._waiters if w.deadline <= self._t]
            self._waiters = [w for w in self._waiters if w.deadline > self._t]
            self._changed.notify_all()
        for waiter in due:  # outside our lock: a waiter's condition is taken before ours
            waiter.fire()

    def set(self, t: float) -> None:
        """Move time to `t` (Go's `SetTime`)."""
        self.step(t - self.now())

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.wait_until(self.now() + seconds)

    def wait_until(self, deadline: float | None, *events: threading.Event) -> bool:
        if any(e.is_set() for e in events):
            return True
        if deadline is None:
            return _wait_events(events, None)
        waiter = self._add(deadline)
        if waiter is None:
            return False  # the deadline has passed already
        try:
            while not waiter.fired.wait(EVENT_POLL if events else None):
                if any(e.is_set() for e in events):
                    return True
            return any(e.is_set() for e in events)
        finally:
            self._remove(waiter)

    def wait(self, cond: threading.Condition, timeout: float | None = None, *,
             deadline: float | None = None) -> None:
        if deadline is None and timeout is not None:
            deadline = self.now() + timeout
        if deadline is None:
            cond.wait()
            return
        waiter = self._add(deadline, cond)
        if waiter is None:
            return
        try:
            cond.wait()  # a step notifies `cond` once the deadline is reached
        finally:
            self._remove(waiter)

    def _add(self, deadline: float, cond: threading.Condition | None = None) -> _Waiter | None:
        with self._lock:
            if deadline <= self._t:
                return None
            waiter = _Waiter(deadline, cond)
            self._waiters.append(waiter)
            self._changed.notify_all()
            return waiter

    def _remove(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                self._changed.notify_all()

    # -- for tests -------------------------------------------------------------------

    def has_waiters(self) -> bool:
        """True while some thread waits on this clock with a deadline."""
        return self.waiters() > 0

    def waiters(self) -> int:
        """How many threads wait on this clock with a deadline."""
        with self._lock:
            return len(self._waiters)

    def deadlines(self) -> list[float]:
        """The deadlines of the waiting threads, earliest first."""
        with self._lock:
            return sorted(w.deadline for w in self._waiters)

    def block_until(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least `n` threads wait on this clock; False after `timeout` real seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._waiters) >= n, timeout)


def sleep_or_stop(clock: Clock, stop: threading.Event, seconds: float) -> bool:
    """Wait `seconds` of `clock` time or until `stop` is set; True if stopped."""
    return clock.wait_until(clock.now() + seconds, stop)
