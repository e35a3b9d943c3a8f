"""client-go's workqueue in Python: `util/workqueue` at client-go v0.37.2 (what k8slab keeps is unchanged since v0.32).

Three layers, each adding one job, one module each:

    queue.py                Queue               add / get / done / shut_down
    delaying_queue.py       DelayingQueue       + add_after (waiting loop, clock)
    rate_limiting_queue.py  RateLimitingQueue   + add_rate_limited / forget / num_requeues
    rate_limiters.py        RateLimiter and its implementations

Queues are built with the `new_*` functions, as Go code calls `New...`; the
classes are exported for type hints. Rate limiters are built by calling their
class (Go's `New...RateLimiter` functions only fill in a struct). Durations
are float seconds; clocks come from `k8slab._clock`.

A worker's loop, as in sample-controller:

    q = new_rate_limiting_queue(default_controller_rate_limiter(), name="foos")
    while True:
        key, shutdown = q.get()
        if shutdown:
            return
        try:
            sync(key)
            q.forget(key)            # success: reset its backoff
        except Exception:
            q.add_rate_limited(key)  # failure: retry later
        finally:
            q.done(key)              # always: release it
"""

from k8slab.workqueue.delaying_queue import DelayingQueue, new_delaying_queue
from k8slab.workqueue.queue import Queue, new_queue
from k8slab.workqueue.rate_limiters import (
    BucketRateLimiter, ItemExponentialFailureRateLimiter, ItemFastSlowRateLimiter, MaxOfRateLimiter,
    RateLimiter, WithMaxWaitRateLimiter, default_controller_rate_limiter,
    default_item_based_rate_limiter,
)
from k8slab.workqueue.rate_limiting_queue import RateLimitingQueue, new_rate_limiting_queue

__all__ = [
    "BucketRateLimiter", "DelayingQueue", "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter", "MaxOfRateLimiter", "Queue", "RateLimiter", "RateLimitingQueue",
    "WithMaxWaitRateLimiter", "default_controller_rate_limiter", "default_item_based_rate_limiter",
    "new_delaying_queue", "new_queue", "new_rate_limiting_queue",
]
