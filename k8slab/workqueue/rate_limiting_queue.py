"""A delaying queue that asks a rate limiter how long each retry must wait.

Mirrors client-go v0.37.2, `util/workqueue/rate_limiting_queue.go` (unchanged since v0.32).

Kept:
- `add_rate_limited(item)` = `add_after(item, rate_limiter.when(item))`;
- `forget(item)` ends the limiter's tracking of the item's failures (call it
  when the item succeeds or is given up on); it does NOT replace `done`;
- `num_requeues(item)` reports how many failures the limiter counts.

Left out:
- injecting a custom delaying queue: `RateLimitingQueue` extends `DelayingQueue`.
"""

from __future__ import annotations

from typing import Any

from k8slab._clock import Clock
from k8slab.workqueue.delaying_queue import DelayingQueue
from k8slab.workqueue.queue import T
from k8slab.workqueue.rate_limiters import RateLimiter

__all__ = ["RateLimitingQueue", "new_rate_limiting_queue"]


class RateLimitingQueue(DelayingQueue[T]):
    """A `DelayingQueue` plus a rate limiter. Build it with `new_rate_limiting_queue()`."""

    def __init__(
        self, rate_limiter: RateLimiter[T], name: str = "", clock: Clock | None = None
    ) -> None:
        super().__init__(name, clock)
        self.rate_limiter = rate_limiter

    def add_rate_limited(self, item: T) -> None:
        """Add `item` once the rate limiter says it may be retried."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Stop tracking `item`'s failures. The caller still calls `done`."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)


def new_rate_limiting_queue(
    rate_limiter: RateLimiter[Any], name: str = "", clock: Clock | None = None
) -> RateLimitingQueue[Any]:
    """A new rate-limited queue (client-go's `NewTypedRateLimitingQueueWithConfig`).

    Remember to `forget` items that succeed, or their failures count forever.
    """
    return RateLimitingQueue(rate_limiter, name, clock)
