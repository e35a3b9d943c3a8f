"""RealFIFO: every notification from the reflector, popped one by one in arrival order.

Mirrors client-go v0.33 `tools/cache/the_real_fifo.go` (the queue behind the
`InOrderInformers` feature: beta and on by default in 1.33, GA in 1.36),
without the atomic and batching modes 1.36 added (`AtomicFIFO`,
`InOrderInformersBatchProcess`, `UnlockWhileProcessingFIFO`).

What changes against DeltaFIFO (delta_fifo.py): the queue is one flat list
of Deltas instead of a list per key. Nothing is grouped or merged, so the
consumer sees the events of different objects in the order the server sent
them, and every intermediate state of an object, even of one deleted since.

Kept: `add`/`update`/`delete` append (a delete is queued even for a key the
consumer does not know); `replace(list, rv)` queues a Deleted tombstone for
every key queued or known but not listed (unless its last queued delta is
already a deletion), then Replaced for every listed object; `resync` queues
Sync for known keys with nothing queued; `pop` hands `process` a one-delta
Deltas under the lock; `has_synced` after the first replace's items were
popped; the transformer; `close`.
Left out: the slow-pop trace, metrics, batches, atomic Replace/Resync events.
Its lock, initial-list count, keys and closing are DeltaFIFO's (`_FIFO` in delta_fifo.py).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

from k8slab import errors
from k8slab.cache.delta_fifo import (
    Delta, DeletedFinalStateUnknown, Deltas, DeltaType, KeyListerGetter, PopProcessFunc, _FIFO,
)
from k8slab.cache.store import KeyFunc, meta_namespace_key_func

__all__ = ["RealFIFO"]


class RealFIFO(_FIFO):
    """A FIFO of every Delta, in arrival order; the consumer is the informer. Thread-safe."""

    def __init__(
        self,
        key_func: KeyFunc = meta_namespace_key_func,
        known_objects: KeyListerGetter | None = None,
        *,
        transformer: Callable[[Any], Any] | None = None,
    ) -> None:
        if known_objects is None:
            raise errors.UsageError("RealFIFO needs known_objects: the consumer's store")
        super().__init__(key_func, known_objects, transformer)
        self._known_objects: KeyListerGetter = known_objects
        self._items: deque[Delta] = deque()

    # -- producer side ---------------------------------------------------------

    def add(self, obj: Any) -> None:
        self._append(DeltaType.ADDED, obj)

    def update(self, obj: Any) -> None:
        self._append(DeltaType.UPDATED, obj)

    def delete(self, obj: Any) -> None:
        self._append(DeltaType.DELETED, obj)

    def _append(self, kind: DeltaType, obj: Any) -> None:
        with self._lock:
            self._populated = True
            self._append_locked(kind, obj)

    def replace(self, objects: list[Any], resource_version: str = "") -> None:
        """A relist: tombstones for keys that vanished, then Replaced for every listed object."""
        with self._lock:
            new_keys = {self.key_of(obj) for obj in objects}
            last_queued: dict[str, Delta] = {}  # insertion order = first time queued
            for delta in self._items:
                last_queued[self.key_of(delta.object)] = delta
            for key, delta in last_queued.items():
                if key in new_keys or delta.type is DeltaType.DELETED:
                    continue
                tombstone = DeletedFinalStateUnknown(key, delta.object)
                self._append_locked(DeltaType.DELETED, tombstone, transform=False)
            for key in self._known_objects.list_keys():
                if key in new_keys or key in last_queued:
                    continue
                last = self._known_objects.get_by_key(key)
                self._append_locked(DeltaType.DELETED, DeletedFinalStateUnknown(key, last))
            for obj in objects:
                self._append_locked(DeltaType.REPLACED, obj)
            if not self._populated:
                self._populated = True
                self._initial_population_count = len(self._items)

    def resync(self) -> None:
        """Queue a Sync for every known object that has nothing queued."""
        with self._lock:
            queued = {self.key_of(delta.object) for delta in self._items}
            for key in self._known_objects.list_keys():
                if key in queued:
                    continue
                obj = self._known_objects.get_by_key(key)
                if obj is not None:
                    self._append_locked(DeltaType.SYNC, obj, transform=False)

    # -- consumer side ---------------------------------------------------------

    def pop(self, process: PopProcessFunc, timeout: float | None = None) -> Deltas:
        """Wait for the oldest delta, remove it, run `process([delta], is_in_initial_list)`."""
        with self._lock:
            self._wait_locked(self._items, timeout)
            is_in_initial_list = not self._has_synced_locked()
            deltas = [self._items.popleft()]
            if self._initial_population_count > 0:
                self._initial_population_count -= 1
            process(deltas, is_in_initial_list)
            return deltas

    # -- reading ---------------------------------------------------------------

    def list(self) -> list[Any]:
        """Every queued object, oldest first (a key may appear many times)."""
        with self._lock:
            return [delta.object for delta in self._items]

    def list_keys(self) -> list[str]:
        with self._lock:
            return [self.key_of(delta.object) for delta in self._items]

    def deltas(self) -> list[Delta]:
        """A copy of the queue, oldest first (for notebooks and tests)."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    # -- helpers (lock held) ---------------------------------------------------

    def _append_locked(self, kind: DeltaType, obj: Any, *, transform: bool = True) -> None:
        self.key_of(obj)  # refuse an object without a key now, not when popped
        if transform and self._transformer is not None:
            if not isinstance(obj, DeletedFinalStateUnknown):
                obj = self._transformer(obj)
        self._items.append(Delta(kind, obj))
        self._cond.notify_all()
