"""Client-side rate limiting: how many requests per second a client may send.

Mirrors client-go v0.37.2 `util/flowcontrol/throttle.go` (`RateLimiter`,
`NewTokenBucketRateLimiterWithClock`, `Accept`, `TryAccept`) and the defaults of
`rest/config.go` (`DefaultQPS = 5`, `DefaultBurst = 10`, read in
`RESTClientForConfigAndClient`). The `kubernetes` 37.x client has none: it sends as
fast as it is asked. The defaults are a seat belt: a controller listing in a tight
loop cannot bury the API server (which defends itself too, with API Priority and
Fairness and 429 answers).

Kept: one bucket per RESTClient, which a clientset shares among its group versions
only when QPS > 0 or a RateLimiter is given (with QPS 0 each gets its own: see
`clientset.new_for_config`); `accept()` blocks
until the token is due, `try_accept()` never blocks; waits over 50 ms are worth
reporting (client-go logs them; `accept` returns the wait and the trace shows it);
QPS 0 means the default, QPS < 0 no limiter. The bucket is `k8slab/_tokenbucket.py`.
Left out: `Wait(ctx)`, `Stop`, the fake limiters, metrics.
"""

from __future__ import annotations

from typing import Protocol

from k8slab._clock import REAL_CLOCK, Clock
from k8slab._tokenbucket import TokenBucket

__all__ = ["DEFAULT_BURST", "DEFAULT_QPS", "LONG_THROTTLE_LATENCY", "RateLimiter", "TokenBucketRateLimiter",
           "new_token_bucket_rate_limiter", "rate_limiter_for"]

DEFAULT_QPS = 5.0  # rest.DefaultQPS
DEFAULT_BURST = 10  # rest.DefaultBurst
LONG_THROTTLE_LATENCY = 0.050  # request.go's longThrottleLatency: waits above it get logged


class RateLimiter(Protocol):
    """What the REST layer needs from a limiter."""

    qps: float

    def accept(self) -> float:
        """Block until a token is ours; return the seconds waited."""

    def try_accept(self) -> bool:
        """Take a token if one is there now; never block."""


class TokenBucketRateLimiter:
    """`burst` requests at once, then `qps` per second; starts full.

    `accept` reserves a token first and sleeps after, so callers that arrive
    together leave 1/qps apart, in the order they arrived."""

    def __init__(self, qps: float, burst: int, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or REAL_CLOCK
        self._bucket = TokenBucket(qps, burst, self._clock, owner="TokenBucketRateLimiter")
        self.qps = float(qps)
        self.burst = burst

    def accept(self) -> float:
        delay = self._bucket.reserve()
        self._clock.sleep(delay)
        return delay

    def try_accept(self) -> bool:
        return self._bucket.allow()

    def tokens(self) -> float:
        """Tokens in the bucket now (negative while reservations wait)."""
        return self._bucket.tokens()

    def __repr__(self) -> str:
        return f"TokenBucketRateLimiter(qps={self.qps:g}, burst={self.burst}, tokens={self.tokens():.2f})"


def new_token_bucket_rate_limiter(qps: float, burst: int, clock: Clock | None = None) -> TokenBucketRateLimiter:
    """client-go's `NewTokenBucketRateLimiterWithClock`."""
    return TokenBucketRateLimiter(qps, burst, clock)


def rate_limiter_for(qps: float = 0.0, burst: int = 0, clock: Clock | None = None) -> TokenBucketRateLimiter | None:
    """The limiter a rest config asks for, with client-go's reading of the numbers:
    0 means the default (5 QPS, burst 10), a negative QPS means none at all."""
    qps = DEFAULT_QPS if qps == 0 else qps
    burst = DEFAULT_BURST if burst == 0 else burst
    if qps < 0:
        return None
    return TokenBucketRateLimiter(qps, burst, clock)
