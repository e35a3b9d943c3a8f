"""RealFIFO: every notification from the reflector, popped one by one (or in batches) in arrival order.

Mirrors client-go v0.37.2 `tools/cache/the_real_fifo.go`, the queue of every
informer since `InOrderInformers` went GA (1.36, locked on). v0.32 informers
used DeltaFIFO (delta_fifo.py); 1.33-1.35 used this queue without the atomic
mode.

What changes against DeltaFIFO: the queue is one flat list of Deltas instead of
a list per key. Nothing is grouped or merged, so the consumer sees the events of
different objects in the order the server sent them, and every intermediate
state of an object, even of one deleted since.

Two modes, as client-go's `RealFIFOOptions`:
- `RealFIFO(known_objects=store)` (1.33-1.35, AtomicFIFO off): `replace(list,
  rv)` queues a Deleted tombstone for every key queued or known but not listed
  (unless its last queued delta is already a deletion), then Replaced for every
  listed object; `resync` queues Sync for known keys with nothing queued.
- `RealFIFO(atomic_events=True)` (v0.37.2 informers, AtomicFIFO on): no known
  objects; `replace` queues ONE `ReplacedAll` delta carrying the whole
  (transformed) list and its RV, `resync` one `SyncAll`, and with
  `emit_delta_type_bookmark` a bookmark queues a `Bookmark` delta, so its RV
  reaches the store in order with the events. The consumer works out the
  deletions when it pops the ReplacedAll (controller.py), against its store
  as it is then: a relist is applied in one step.
  `unlock_while_processing` (UnlockWhileProcessingFIFO) releases the lock
  while `process` runs (unless 2,000 items wait), so the reflector never waits
  for handlers; there must then be a single consumer.

Kept: `add`/`update`/`delete` append (a delete is queued even for a key the
consumer does not know); `pop` hands `process` a one-delta Deltas;
`pop_batch(process_batch, process_single)`: up to 1,000 deltas of distinct
keys, of batchable types only (not ReplacedAll, SyncAll, Bookmark), never
mixing the initial list with what follows; `has_synced` once the first
replace's items were popped AND processed (the count drops after `process`
returns, so `has_synced` cannot turn true while the last item is still being
handled); the transformer (run once per object; not on Sync or tombstones);
`close`; the options' consistency checks (client-go panics, k8slab raises
`errors.UsageError`).
Left out: the slow-pop trace, metrics, names and loggers, `HasSyncedChecker`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from k8slab import errors
from k8slab.cache.delta_fifo import (
    Delta, DeletedFinalStateUnknown, Deltas, DeltaType, KeyListerGetter, PopProcessFunc, _FIFO,
)
from k8slab.cache.store import KeyFunc, meta_namespace_key_func

__all__ = [
    "BATCH_SIZE", "BookmarkInfo", "ProcessBatchFunc", "RealFIFO", "ReplacedAllInfo", "SyncAllInfo",
    "reconcile_replacement",
]

BATCH_SIZE = 1000  # client-go's defaultBatchSize: the most deltas one pop_batch hands out

ProcessBatchFunc = Callable[[list[Delta], bool], None]
"""Called with deltas of distinct objects, oldest first, and whether they are the initial list."""

_BATCHABLE = frozenset((DeltaType.SYNC, DeltaType.REPLACED, DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED))


@dataclass(frozen=True)
class ReplacedAllInfo:
    """The object of a ReplacedAll delta: a whole relist, transformed, and its RV."""

    resource_version: str
    objects: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class BookmarkInfo:
    """The object of a Bookmark delta."""

    resource_version: str


@dataclass(frozen=True)
class SyncAllInfo:
    """The object of a SyncAll delta: replay the whole store as updates."""


class RealFIFO(_FIFO):
    """A FIFO of every Delta, in arrival order; the consumer is the informer. Thread-safe."""

    def __init__(
        self,
        key_func: KeyFunc = meta_namespace_key_func,
        known_objects: KeyListerGetter | None = None,
        *,
        transformer: Callable[[Any], Any] | None = None,
        atomic_events: bool = False,
        unlock_while_processing: bool = False,
        emit_delta_type_bookmark: bool = False,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if atomic_events and known_objects is not None:
            raise errors.UsageError("RealFIFO(atomic_events=True) takes no known_objects: the consumer reconciles")
        if not atomic_events:
            if unlock_while_processing:
                raise errors.UsageError("RealFIFO: unlock_while_processing needs atomic_events=True")
            if emit_delta_type_bookmark:
                raise errors.UsageError("RealFIFO: emit_delta_type_bookmark needs atomic_events=True")
            if known_objects is None:
                raise errors.UsageError("RealFIFO needs known_objects (the consumer's store) unless atomic_events=True")
        super().__init__(key_func, known_objects, transformer)
        self._items: deque[Delta] = deque()
        self._atomic = atomic_events
        self._unlock_while_processing = unlock_while_processing
        self._emit_bookmarks = emit_delta_type_bookmark
        self.batch_size = batch_size

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

    def bookmark(self, resource_version: str) -> None:
        """Queue a Bookmark delta (only with `emit_delta_type_bookmark`; else nothing)."""
        if not self._emit_bookmarks:
            return
        with self._lock:
            self._items.append(Delta(DeltaType.BOOKMARK, BookmarkInfo(resource_version)))
            self._cond.notify_all()

    def replace(self, objects: list[Any], resource_version: str = "") -> None:
        """A relist: one ReplacedAll (atomic), or tombstones for vanished keys then Replaced for each object."""
        with self._lock:
            if self._atomic:
                if self._transformer is not None:
                    objects = [self._transformer(obj) for obj in objects]
                info = ReplacedAllInfo(resource_version, list(objects))
                self._items.append(Delta(DeltaType.REPLACED_ALL, info))
                self._cond.notify_all()
            else:
                reconcile_replacement(
                    self._items, self._known_objects, objects, self.key_of,
                    lambda tombstone: self._append_locked(DeltaType.DELETED, tombstone, transform=False),
                    lambda obj: self._append_locked(DeltaType.REPLACED, obj),
                )
            if not self._populated:
                self._populated = True
                self._initial_population_count = len(self._items)

    def resync(self) -> None:
        """One SyncAll (atomic), or a Sync for every known object that has nothing queued."""
        with self._lock:
            if self._atomic:
                self._items.append(Delta(DeltaType.SYNC_ALL, SyncAllInfo()))
                self._cond.notify_all()
                return
            queued = {self.key_of(delta.object) for delta in self._items}
            for key in self._known_objects.list_keys():
                if key in queued:
                    continue  # a queued delta is newer than the store: a Sync would go back in time
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
            try:
                self._process_locked(lambda: process(deltas, is_in_initial_list))
            finally:
                if self._initial_population_count > 0:
                    self._initial_population_count -= 1
            return deltas

    def pop_batch(self, process_batch: ProcessBatchFunc, process_single: PopProcessFunc,
                  timeout: float | None = None) -> None:
        """Pop as many deltas of distinct keys as may go together; one goes to `process_single`."""
        with self._lock:
            self._wait_locked(self._items, timeout)
            is_in_initial_list = not self._has_synced_locked()
            batch = self._take_batch_locked()
            try:
                if len(batch) == 1:
                    self._process_locked(lambda: process_single(batch, is_in_initial_list))
                else:
                    self._process_locked(lambda: process_batch(batch, is_in_initial_list))
            finally:
                if self._initial_population_count > 0:
                    self._initial_population_count -= len(batch)

    def _take_batch_locked(self) -> list[Delta]:
        items, limit = self._items, self.batch_size
        if self._initial_population_count > 0:
            limit = min(limit, self._initial_population_count)  # the initial list goes alone
        batch: list[Delta] = []
        keys: set[str] = set()
        while items and len(batch) < limit:
            delta = items[0]
            if delta.type not in _BATCHABLE:
                if not batch:
                    batch.append(items.popleft())  # an unbatchable delta first: it goes alone
                break
            try:
                key = self.key_of(delta.object)
            except Exception:
                batch.append(items.popleft())  # a broken item closes the batch (client-go's choice)
                break
            if key in keys:
                break  # a second delta of the same object: next batch
            keys.add(key)
            batch.append(items.popleft())
        return batch

    def _process_locked(self, process: Callable[[], None]) -> None:
        """Run `process`, releasing the lock meanwhile if allowed and fewer than two batches wait."""
        if self._unlock_while_processing and len(self._items) < self.batch_size * 2:
            self._lock.release()
            try:
                process()
            finally:
                self._lock.acquire()
        else:
            process()

    # -- reading ---------------------------------------------------------------

    def list(self) -> list[Any]:
        """Every queued object, oldest first (a key may appear many times)."""
        with self._lock:
            return [delta.object for delta in self._items]

    def list_keys(self) -> list[str]:
        with self._lock:
            return [self.key_of(delta.object) for delta in self._items if delta.type in _BATCHABLE]

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


def reconcile_replacement(
    queued: Iterable[Delta],
    known_objects: KeyListerGetter,
    new_items: list[Any],
    key_of: Callable[[Any], str],
    on_delete: Callable[[DeletedFinalStateUnknown], None],
    on_replace: Callable[[Any], None],
) -> None:
    """What a relist means, given what is queued and what the consumer knows (client-go's reconcileReplacement).

    Calls `on_delete` with a tombstone for every key queued (last delta not a
    deletion) or known but not in `new_items`, the queued ones first, then
    `on_replace` for every new item, in the list's order. The tombstone
    carries the newest state: the last queued object, else the known one.
    """
    new_keys = {key_of(obj) for obj in new_items}
    last_queued: dict[str, Delta] = {}  # insertion order = first time queued
    for delta in queued:
        if delta.type in _BATCHABLE:
            last_queued[key_of(delta.object)] = delta
    for key, delta in last_queued.items():
        if key in new_keys or delta.type is DeltaType.DELETED:
            continue
        on_delete(DeletedFinalStateUnknown(key, delta.object))
    for key in known_objects.list_keys():
        if key in new_keys or key in last_queued:
            continue
        on_delete(DeletedFinalStateUnknown(key, known_objects.get_by_key(key)))
    for obj in new_items:
        on_replace(obj)
