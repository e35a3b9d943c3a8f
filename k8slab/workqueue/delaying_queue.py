"""A work queue that can add an item later, so a failing item is retried
without a hot loop.

Mirrors client-go v0.37.2, `util/workqueue/delaying_queue.go` (unchanged since v0.32 but for
its logger).

Kept:
- `add_after(item, seconds)`: a non-positive delay adds at once; otherwise
  the item waits in a min-heap ordered by ready time, watched by one
  background "waiting loop" that adds items as they come due, earliest first
  (started by the first delayed add: a queue that never delays needs no
  thread; client-go starts it with the queue);
- an item already waiting keeps the EARLIEST of its ready times (a later
  `add_after` never postpones it);
- the loop re-checks at least every 10 s (client-go's `maxWait` heartbeat);
- time comes from an injected clock, so tests step a `FakeClock`;
- shutting down stops the loop; items still waiting are dropped;
- a `retries` counter (every `add_after` call, as client-go's retry metric).

Left out:
- the buffered channel (capacity 1000) between `AddAfter` and the loop:
  `add_after` puts the entry in the heap itself, under the loop's lock;
- heap index bookkeeping: an earlier time for a waiting item pushes a new
  heap entry and the old one is skipped when it surfaces;
- wrapping an arbitrary inner queue: `DelayingQueue` extends `Queue`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from typing import Any

from k8slab._clock import REAL_CLOCK, Clock
from k8slab.workqueue.queue import Queue, T

__all__ = ["DelayingQueue", "new_delaying_queue"]

# Insurance against a missed wake-up: the loop never sleeps longer than this.
_MAX_WAIT = 10.0


class DelayingQueue(Queue[T]):
    """A `Queue` plus `add_after`. Build it with `new_delaying_queue()`.

    Call `shut_down` (or `shut_down_with_drain`) when finished: it stops the
    background thread."""

    def __init__(self, name: str = "", clock: Clock | None = None) -> None:
        super().__init__(name)
        self._clock: Clock = clock or REAL_CLOCK
        self._waiting_cond = threading.Condition(threading.Lock())
        # Heap of (ready_at, seq, item); seq breaks ties in arrival order.
        self._waiting: list[tuple[float, int, T]] = []
        # The live heap entry of each waiting item; any other entry for the
        # same item is stale (superseded by an earlier time) and is skipped.
        self._waiting_by_item: dict[T, tuple[float, int, T]] = {}
        self._seq = itertools.count()
        self._stopping = False
        self.retries = 0
        self._loop: threading.Thread | None = None  # started by the first delayed add

    def add_after(self, item: T, seconds: float) -> None:
        """Add `item` once `seconds` have passed on the queue's clock."""
        if self.shutting_down():
            return
        with self._waiting_cond:
            self.retries += 1
        if seconds <= 0:
            self.add(item)
            return
        with self._waiting_cond:
            self._insert_locked(item, self._clock.now() + seconds)
            if self._loop is None and not self._stopping:
                self._loop = threading.Thread(
                    target=self._waiting_loop, name=f"k8slab-workqueue-waiting-loop[{self.name}]", daemon=True
                )
                self._loop.start()
            self._waiting_cond.notify()  # the new entry may be the earliest

    def _insert_locked(self, item: T, ready_at: float) -> None:
        live = self._waiting_by_item.get(item)
        if live is not None and live[0] <= ready_at:
            return  # keep the earlier time
        entry = (ready_at, next(self._seq), item)
        heapq.heappush(self._waiting, entry)
        self._waiting_by_item[item] = entry

    def _add_ready_locked(self, now: float) -> None:
        while self._waiting and self._waiting[0][0] <= now:
            entry = heapq.heappop(self._waiting)
            item = entry[2]
            if self._waiting_by_item.get(item) is entry:
                del self._waiting_by_item[item]
                self.add(item)  # lock order: waiting lock, then queue lock

    def _waiting_loop(self) -> None:
        with self._waiting_cond:
            while not self._stopping:
                now = self._clock.now()
                self._add_ready_locked(now)
                deadline = now + _MAX_WAIT
                if self._waiting:
                    deadline = min(deadline, self._waiting[0][0])
                # Woken early by add_after or shut_down; on time by the clock.
                self._clock.wait(self._waiting_cond, deadline=deadline)

    def _stop_waiting_loop(self) -> None:
        with self._waiting_cond:
            self._stopping = True
            self._waiting_cond.notify_all()
            loop = self._loop
        if loop is not None and loop is not threading.current_thread():
            loop.join()

    def shut_down(self) -> None:
        super().shut_down()
        self._stop_waiting_loop()

    def shut_down_with_drain(self) -> None:
        self._stop_waiting_loop()  # nothing waiting may be added any more
        super().shut_down_with_drain()

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        with self._waiting_cond:
            live = sorted(self._waiting_by_item.values())
            snap["waiting"] = [(item, ready_at) for ready_at, _, item in live]
            snap["retries"] = self.retries
        return snap


def new_delaying_queue(name: str = "", clock: Clock | None = None) -> DelayingQueue[Any]:
    """A new delaying queue (client-go's `NewTypedDelayingQueueWithConfig`)."""
    return DelayingQueue(name, clock)
