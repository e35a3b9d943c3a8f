"""The token bucket that both rate limiters of client-go are made of.

Re-implements the arithmetic of golang.org/x/time/rate v0.15.0, the version client-go
v0.37.2 requires (`Limiter`:
`advance`, `reserveN`, `AllowN`, `TokensAt`), on k8slab's injected clock.
client-go wraps that limiter twice: `util/workqueue`'s `BucketRateLimiter`
(how long a retried item waits) and `util/flowcontrol`'s
`tokenBucketRateLimiter` (how long a REST request waits). k8slab's
`workqueue.rate_limiters.BucketRateLimiter` and `chain.flowcontrol` both use
this one class.

A bucket holds at most `burst` tokens and gains `qps` tokens per second; a
new bucket starts full. `reserve()` always takes a token, letting the balance
go negative, and says how long to wait until that token would have existed;
`allow()` takes one only if it is there now.

Kept: reservations that queue callers 1/qps apart; `allow` that leaves the
bucket untouched when it says no; a clock that went backwards counts as no
time passed; an infinite rate never waits.
Left out: reserving n tokens at once, cancelling a reservation, changing the
rate or burst later, `Wait(ctx)`; durations are float seconds.
"""

from __future__ import annotations

import math
import threading

from k8slab._clock import REAL_CLOCK, Clock
from k8slab.errors import UsageError

__all__ = ["TokenBucket"]


class TokenBucket:
    """`burst` tokens at most, refilled at `qps` per second, starting full."""

    def __init__(self, qps: float, burst: int, clock: Clock | None = None, *, owner: str = "TokenBucket") -> None:
        if not qps > 0 or isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise UsageError(f"{owner} needs qps > 0 and burst >= 1, got {qps}, {burst}")
        self.qps = float(qps)
        self.burst = burst
        self._clock: Clock = clock or REAL_CLOCK
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = self._clock.now()  # when `_tokens` was last brought up to date

    def _advance_locked(self, now: float) -> float:
        """The balance at `now`: what was there plus the refill, capped at burst."""
        elapsed = max(0.0, now - self._last)  # a clock that went backwards adds nothing
        return min(float(self.burst), self._tokens + elapsed * self.qps)

    def reserve(self) -> float:
        """Take a token, on credit if need be; return the seconds to wait for it."""
        if math.isinf(self.qps):
            return 0.0
        with self._lock:
            now = self._clock.now()
            self._tokens = self._advance_locked(now) - 1
            self._last = now
            # A negative balance is a debt, paid back at qps tokens per second.
            return -self._tokens / self.qps if self._tokens < 0 else 0.0

    def allow(self) -> bool:
        """Take a token if one is there now; otherwise change nothing and say no."""
        if math.isinf(self.qps):
            return True
        with self._lock:
            now = self._clock.now()
            tokens = self._advance_locked(now)
            if tokens < 1:
                return False
            self._tokens, self._last = tokens - 1, now
            return True

    def tokens(self) -> float:
        """The balance right now (negative while callers wait on reservations)."""
        if math.isinf(self.qps):
            return float(self.burst)
        with self._lock:
            return self._advance_locked(self._clock.now())
