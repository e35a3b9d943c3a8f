"""Rate limiters: how long an item must wait before its next retry.

Mirrors client-go v0.37.2, `util/workqueue/default_rate_limiters.go` (unchanged since v0.32); the token
bucket re-implements the reservation arithmetic of golang.org/x/time/rate
v0.15.0 (`Limiter.Reserve().Delay()`, the version client-go v0.37.2 requires), which client-go wraps.

Kept:
- the `RateLimiter` contract: `when(item)` (seconds to wait; also records a
  failure), `forget(item)`, `num_requeues(item)`;
- `ItemExponentialFailureRateLimiter`: base * 2**failures per item, capped at
  the max, and still the max when the power overflows a float;
- `BucketRateLimiter`: one bucket shared by all items, starts full; each
  `when` reserves a token, so calls beyond the burst get growing delays
  spaced 1/qps apart (the bucket is `k8slab/_tokenbucket.py`);
- `ItemFastSlowRateLimiter`, `MaxOfRateLimiter`, `WithMaxWaitRateLimiter`;
- `default_controller_rate_limiter()` and `default_item_based_rate_limiter()`
  with client-go's numbers.

Left out:
- the rest of x/time/rate (Allow, Wait, cancelling a reservation, changing
  the limit); a zero rate or a burst below 1 is refused with `UsageError`
  instead of producing "wait forever" delays;
- durations are float seconds, not nanosecond integers.
"""

from __future__ import annotations

import threading
from typing import Generic, Hashable, Protocol, TypeVar

from k8slab._clock import Clock
from k8slab._tokenbucket import TokenBucket

__all__ = [
    "BucketRateLimiter", "ItemExponentialFailureRateLimiter", "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter", "RateLimiter", "WithMaxWaitRateLimiter", "default_controller_rate_limiter",
    "default_item_based_rate_limiter",
]

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)


class RateLimiter(Protocol[T_contra]):
    """What a rate-limited queue needs from a limiter."""

    def when(self, item: T_contra) -> float:
        """Seconds `item` should wait now; counts as one more failure."""

    def forget(self, item: T_contra) -> None:
        """Drop what is remembered about `item` (it succeeded or was given up)."""

    def num_requeues(self, item: T_contra) -> int:
        """How many failures of `item` are remembered."""


class _PerItemFailures(Generic[T]):
    """The failure counting shared by the per-item limiters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[T, int] = {}

    def _record_failure(self, item: T) -> int:
        """Count one more failure; return how many there were before it."""
        with self._lock:
            before = self._failures.get(item, 0)
            self._failures[item] = before + 1
            return before

    def forget(self, item: T) -> None:
        with self._lock:
            self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        with self._lock:
            return self._failures.get(item, 0)


class ItemExponentialFailureRateLimiter(_PerItemFailures[T]):
    """Wait `base_delay * 2**failures`, at most `max_delay`.

    Giving up after N failures, or forgetting old failures, is the caller's job."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        super().__init__()
        self.base_delay = base_delay
        self.max_delay = max_delay

    def when(self, item: T) -> float:
        exp = self._record_failure(item)
        try:
            backoff = self.base_delay * 2.0**exp
        except OverflowError:  # 2.0**1024 and beyond: a float cannot hold it
            return self.max_delay
        return min(backoff, self.max_delay)


class ItemFastSlowRateLimiter(_PerItemFailures[T]):
    """`fast_delay` for the first `max_fast_attempts` failures, `slow_delay` after."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        super().__init__()
        self.fast_delay = fast_delay
        self.slow_delay = slow_delay
        self.max_fast_attempts = max_fast_attempts

    def when(self, item: T) -> float:
        attempt = self._record_failure(item) + 1
        return self.fast_delay if attempt <= self.max_fast_attempts else self.slow_delay


class BucketRateLimiter(Generic[T]):
    """A token bucket over all items: `burst` at once, then `qps` per second.

    `when` takes a token even when the bucket is empty (a reservation), so
    the tokens go negative and each extra caller waits 1/qps longer than the
    one before. `qps=math.inf` never delays. Items are not tracked:
    `num_requeues` is always 0 and `forget` does nothing. The bucket itself
    is `k8slab._tokenbucket.TokenBucket`, shared with the REST client's
    limiter (`k8slab.chain.flowcontrol`)."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self._bucket = TokenBucket(qps, burst, clock, owner="BucketRateLimiter")
        self.qps = qps
        self.burst = burst

    def when(self, item: T) -> float:
        return self._bucket.reserve()

    def forget(self, item: T) -> None:
        pass

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """Ask every limiter (each records the failure) and wait the longest.

    With a bucket among them, an item delayed longer by another limiter still
    spent a token, so the bucket may seem to allow less than its burst."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        self.limiters = limiters

    def when(self, item: T) -> float:
        return max((limiter.when(item) for limiter in self.limiters), default=0.0)

    def forget(self, item: T) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return max((limiter.num_requeues(item) for limiter in self.limiters), default=0)


class WithMaxWaitRateLimiter(Generic[T]):
    """Another limiter's delay, never longer than `max_delay`."""

    def __init__(self, limiter: RateLimiter[T], max_delay: float) -> None:
        self.limiter = limiter
        self.max_delay = max_delay

    def when(self, item: T) -> float:
        return min(self.limiter.when(item), self.max_delay)

    def forget(self, item: T) -> None:
        self.limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.limiter.num_requeues(item)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter[Hashable]:
    """client-go's `DefaultTypedControllerRateLimiter`: per item, 5 ms doubling up
    to 1000 s; overall, a 10 qps / 100 burst bucket that only bounds how fast
    retries as a whole come back (sample-controller picks 50 qps / 300)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(qps=10.0, burst=100, clock=clock),
    )


def default_item_based_rate_limiter() -> ItemExponentialFailureRateLimiter[Hashable]:
    """client-go's `DefaultTypedItemBasedRateLimiter`: 1 ms doubling up to 1000 s."""
    return ItemExponentialFailureRateLimiter(0.001, 1000.0)
