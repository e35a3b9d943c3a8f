"""Waiting and backing off, for the reflector and the informer.

Mirrors the parts of k8s.io/apimachinery v0.32 `pkg/util/wait` (backoff.go,
wait.go) that tools/cache uses.

Kept: `ExponentialBackoff`, the manager behind the reflector's retries:
each delay is the base duration plus up to `jitter` times itself (so
0.8-1.6 s first), the base doubles up to the cap, and it starts over when no
backoff was asked for during `reset_after` seconds. The interruptible sleep
it is used with is `k8slab._clock.sleep_or_stop`, shared with leader election.
Left out: timers as objects, `BackoffUntil`'s crash handling, Steps.
"""

from __future__ import annotations

import random
import threading
from typing import Callable

from k8slab._clock import Clock

__all__ = ["ExponentialBackoff"]


class ExponentialBackoff:
    """client-go's `NewExponentialBackoffManager(init, max, reset, factor, jitter, clock)`."""

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
        self._last_backoff = clock.now()
        self._lock = threading.Lock()

    def next_delay(self) -> float:
        """How long to wait now; grows the next delay."""
        with self._lock:
            now = self._clock.now()
            if now - self._last_backoff > self.reset_after:
                self._duration = self.initial  # healthy long enough: start over
            self._last_backoff = now
            base = self._duration
            self._duration = min(base * self.factor, self.cap)
            return base + self._rand() * self.jitter * base if self.jitter > 0 else base
