"""The work queue: fair, stingy, safe for many producers and many workers.

Mirrors client-go v0.37.2, `util/workqueue/queue.go` (the `Typed[T]` queue). Its behaviour
is v0.32's; since then `ShutDown` also waits for the queue's own metrics goroutine (left out
here with the metrics).

Kept:
- the three structures and their invariants: `queue` (FIFO order of work),
  `dirty` (every item that needs processing) and `processing` (items a worker
  holds right now);
- `add` collapses an item that is already waiting; an item added while a
  worker holds it waits in `dirty` and goes back on the queue at `done`, so
  no two workers ever hold the same item;
- `get` blocks while the queue is empty and reports shutdown only once it is
  empty *and* shutting down, so workers drain what was queued;
- `shut_down` (stop accepting, wake everyone), `shut_down_with_drain` (also
  wait until every held item is `done`; a later `shut_down` cuts the wait
  short), `shutting_down`, `len`;
- a `name` and plain counters (`adds`) in place of the Prometheus metrics.

Left out:
- the pluggable inner `Queue` (Touch/Push/Pop) used for priority queues;
- the metrics provider, unfinished-work and latency histograms, and the
  ticker goroutine that updates them;
- the deprecated untyped constructors (`New`, `NewNamed`, ...).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Generic, Hashable, TypeVar

__all__ = ["Queue", "new_queue"]

T = TypeVar("T", bound=Hashable)


class Queue(Generic[T]):
    """A work queue. Build it with `new_queue()`; see the module docstring.

    `queue`, `dirty` and `processing` are public so notebooks can draw them;
    read them through `snapshot()`, which copies them under the lock.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        # Invariant: every item in `queue` is in `dirty` and not in `processing`.
        self.queue: deque[T] = deque()
        # Everything that needs (re)processing, whether queued or held.
        self.dirty: set[T] = set()
        # Items a worker holds. An item may also be in `dirty`: it was added
        # again while held, and `done` puts it back on `queue`.
        self.processing: set[T] = set()
        self.adds = 0  # items that became dirty (client-go's adds_total)
        self._cond = threading.Condition(threading.Lock())
        self._shutting_down = False
        self._drain = False

    def add(self, item: T) -> None:
        """Mark `item` as needing processing. Ignored once shutting down."""
        with self._cond:
            if self._shutting_down or item in self.dirty:
                return  # already waiting (or held and already re-marked): collapse
            self.adds += 1
            self.dirty.add(item)
            if item in self.processing:
                return  # a worker holds it; `done` will queue it again
            self.queue.append(item)
            self._cond.notify()

    def len(self) -> int:
        """How many items wait in the queue. For display only: never gate
        `add` or `get` on it, the answer is stale as soon as it is returned."""
        with self._cond:
            return len(self.queue)

    __len__ = len

    def get(self) -> tuple[T | None, bool]:
        """Block until an item is ready; return `(item, False)`.

        Returns `(None, True)` when the queue is shutting down and empty: the
        worker should then exit. Every item got must be handed back to `done`.
        """
        with self._cond:
            while not self.queue and not self._shutting_down:
                self._cond.wait()
            if not self.queue:
                return None, True
            item = self.queue.popleft()
            self.processing.add(item)
            self.dirty.discard(item)
            return item, False

    def done(self, item: T) -> None:
        """Release `item`; if it was added again meanwhile, queue it again."""
        with self._cond:
            self.processing.discard(item)
            if item in self.dirty:
                self.queue.append(item)
                self._cond.notify()
            elif not self.processing:
                self._cond.notify()  # shut_down_with_drain may be waiting for this

    def shut_down(self) -> None:
        """Stop accepting items; workers drain the queue, then `get` says stop.

        Does not wait for held items, and ends a `shut_down_with_drain` wait."""
        with self._cond:
            self._drain = False
            self._shutting_down = True
            self._cond.notify_all()

    def shut_down_with_drain(self) -> None:
        """Like `shut_down`, then block until every held item is `done`.

        Workers must call `done` on everything they get, or this never returns
        (unless another thread calls `shut_down`)."""
        with self._cond:
            self._drain = True
            self._shutting_down = True
            self._cond.notify_all()
            while self.processing and self._drain:
                self._cond.wait()

    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutting_down

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the queue's state, for notebooks and tests."""
        with self._cond:
            return {
                "name": self.name,
                "queue": list(self.queue),
                "dirty": set(self.dirty),
                "processing": set(self.processing),
                "adds": self.adds,
                "shutting_down": self._shutting_down,
            }


def new_queue(name: str = "") -> Queue[Any]:
    """A new work queue (client-go's `NewTyped` / `NewTypedWithConfig`)."""
    return Queue(name)
