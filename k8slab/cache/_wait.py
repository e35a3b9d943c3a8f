"""Waiting and backing off, for the reflector and the informer.

Mirrors the parts of k8s.io/apimachinery v0.37.2 `pkg/util/wait` (backoff.go,
delay.go) that tools/cache uses.

Kept: `ExponentialBackoff`, client-go v0.37.2's reflector backoff
(`Backoff{...}.DelayWithReset(clock, 2 min)`): each delay is the base
duration plus up to `jitter` times itself (so 0.8-1.6 s first), the base
doubles up to the cap (then stays there), and every `reset_after` seconds
counted from the last reset (or the start) it begins again at the initial
duration. v0.32 (`NewExponentialBackoffManager`) restarted only once no
backoff had been asked for during `reset_after`; v0.37.2's comment still says
so, its code resets on a fixed period. The interruptible sleep it is used
with is `k8slab._clock.sleep_or_stop`, shared with leader election.
Left out: timers as objects, `BackoffUntil`'s crash handling, Steps (38
for the reflector: more than the doublings before the 30 s cap).
"""

from __future__ import annotations

import random
import threading
from typing import Callable

from k8slab._clock import Clock

__all__ = ["ExponentialBackoff"]


class ExponentialBackoff:
    """apimachinery's `Backoff{init, factor, jitter, steps, cap}.DelayWithReset(clock, reset)`."""

    def __init__(
        self,
        initial: float,
        cap: float,
        reset_after: float,
        factor: float,
        jitter: float,
        clock: Clock,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial, self.cap, self.reset_after = initial, cap, reset_after
        self.factor, self.jitter = factor, jitter
        self._clock = clock
        self._rand = rand
        self._duration = initial
        self._last_start = clock.now()  # the last reset
        self._lock = threading.Lock()

    def next_delay(self) -> float:
        """How long to wait now; grows the next delay."""
        with self._lock:
            now = self._clock.now()
            if now - self._last_start > self.reset_after:
                self._duration = self.initial  # a reset period has passed: start over
                self._last_start = now
            base = self._duration
            self._duration = min(base * self.factor, self.cap)
            return base + self._rand() * self.jitter * base if self.jitter > 0 else base
