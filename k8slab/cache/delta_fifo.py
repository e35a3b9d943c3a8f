"""DeltaFIFO: a queue of keys, each holding every change seen since it was last popped.

Mirrors client-go v0.32 `tools/cache/delta_fifo.go`, the queue between the
Reflector (producer) and the informer (consumer) of the classic pipeline, the
one every book, diagram and blog post describes. It is still in client-go
v0.37.2, but informers no longer use it: since 1.36 `InOrderInformers` is GA
and locked on, and they queue through a RealFIFO (real_fifo.py). Build the
classic pipeline with `SharedIndexInformer(..., pipeline="classic")`.

Kept: per key an ordered list of deltas (Added, Updated, Deleted, Replaced,
Sync) holding the object's state after each change; only two consecutive
Deleted deltas merge (the one with more information wins, i.e. not the
tombstone), nothing else is deduplicated; `delete` of a key neither queued
nor known is ignored; `replace(list, rv)` queues Replaced (or Sync when
`emit_delta_type_replaced` is off) for every listed object and a Deleted
`DeletedFinalStateUnknown` tombstone for every key queued or known but no
longer listed; `has_synced` once everything from the first replace was
popped; `resync` queues Sync only for known keys with nothing pending (a
queued delta is newer than the store, so a Sync would carry a stale object);
`pop` blocks while empty and runs the process function under the queue's lock
so the consumer's store and the queue never disagree; `Requeue` (client-go's
ErrRequeue) puts an item back; the optional transformer; `close`.
What v0.37.2 changed here: `AddIfNotPresent` and `ErrRequeue` are gone (its
`Pop` no longer requeues; k8slab keeps both, as v0.32 had them); the delta
types gained ReplacedAll, SyncAll and Bookmark, which only RealFIFO's atomic
mode queues; `HasSyncedChecker` offers `HasSynced` as a channel to wait on
(left out here: poll `has_synced`).
Left out: tracing of slow pops, the deprecated `NewDeltaFIFO`, KeyError
wrapping. `emit_delta_type_replaced` defaults to True here (informers set it;
client-go's default is False only for backwards compatibility).
Changed, for Python: a key with a single pending delta holds that `Delta`
itself, not a one-element list (`pop` and `get_by_key` still hand out lists).
A first list then allocates one container per object, not two, and an
informer's initial sync no longer sets off CPython's full garbage collection
of the heap the LIST has just grown (45-90 ms of the 0.32 s sync of 10,000
ConfigMaps in bench/informer.py); as after a bare LIST, it comes later, when
something else allocates.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, NamedTuple, Protocol

from k8slab import errors
from k8slab.cache.store import KeyFunc, meta_namespace_key_func

__all__ = [
    "Delta", "DeletedFinalStateUnknown", "DeltaFIFO", "DeltaType", "Deltas", "FIFOClosed",
    "KeyListerGetter", "Requeue",
]


class DeltaType(str, Enum):
    """What happened to an object. The values are client-go's strings."""

    ADDED = "Added"
    UPDATED = "Updated"
    DELETED = "Deleted"
    REPLACED = "Replaced"  # seen again in a relist: maybe changed, maybe not
    SYNC = "Sync"  # a periodic resync replayed it from the local store
    # Since 1.36, queued only by an atomic RealFIFO (real_fifo.py), each as one delta:
    REPLACED_ALL = "ReplacedAll"  # a whole relist; the object is a ReplacedAllInfo
    SYNC_ALL = "SyncAll"  # a whole resync; the object is a SyncAllInfo
    BOOKMARK = "Bookmark"  # a watch bookmark; the object is a BookmarkInfo

    def __str__(self) -> str:
        return self.value


class Delta(NamedTuple):
    """One change: its type and the object after it (the last known state for a deletion)."""

    type: DeltaType
    object: Any


Deltas = list[Delta]
"""The changes to one key, oldest first."""


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """A tombstone: the object was deleted while we were not watching.

    A relist no longer contained `key`; `obj` is the last state we knew, which
    may be stale. Delete handlers must be ready to receive one of these.
    """

    key: str
    obj: Any


FIFOClosed = errors.FIFOClosed  # `pop` on a closed, empty queue (client-go's ErrFIFOClosed)


class Requeue(Exception):
    """Raise from a pop process function to put the item back (client-go's ErrRequeue).

    Control flow, not an error (so not a K8sLabError): `pop` re-adds the deltas
    (unless the key was queued again meanwhile) and then raises `err` if one
    was given, else returns normally.
    """

    def __init__(self, err: BaseException | None = None) -> None:
        super().__init__(str(err) if err else "requeue")
        self.err = err


class KeyListerGetter(Protocol):
    """What DeltaFIFO needs from the consumer's store (the "known objects")."""

    def list_keys(self) -> list[str]: ...
    def get_by_key(self, key: str) -> Any | None: ...


PopProcessFunc = Callable[[Deltas, bool], None]
"""Called with the popped deltas and whether they belong to the initial list."""


class _FIFO:
    """What DeltaFIFO and RealFIFO share: the lock, the initial-list count, keys, closing."""

    def __init__(
        self, key_func: KeyFunc, known_objects: KeyListerGetter | None, transformer: Callable[[Any], Any] | None
    ) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._populated = False  # a first replace (or any add/update/delete) happened
        self._initial_population_count = 0  # items of the first replace not yet popped
        self._key_func = key_func
        self._known_objects = known_objects
        self._transformer = transformer
        self._closed = False

    def key_of(self, obj: Any) -> str:
        """The key of an object, a tombstone, a Delta, or a Deltas list (its newest object)."""
        if type(obj) is list:
            obj = obj[-1]
        if type(obj) is Delta:
            obj = obj.object
        if isinstance(obj, DeletedFinalStateUnknown):
            return obj.key
        return self._key_func(obj)

    def close(self) -> None:
        """Wake every `pop`; once empty, `pop` raises FIFOClosed."""
        with self._lock:
            self._closed = True
            self._cond.notify_all()

    def is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def has_synced(self) -> bool:
        """True once the first replace's items were all popped (or add/update/delete came first)."""
        with self._lock:
            return self._has_synced_locked()

    def _has_synced_locked(self) -> bool:
        return self._populated and self._initial_population_count == 0

    def _wait_locked(self, queue: Any, timeout: float | None) -> None:
        """Block while `queue` is empty; FIFOClosed once closed, TimeoutError after `timeout`."""
        while not queue:
            if self._closed:
                raise FIFOClosed(f"the {type(self).__name__} is closed")
            if not self._cond.wait(timeout):
                raise TimeoutError(f"nothing to pop after {timeout} s")


class DeltaFIFO(_FIFO):
    """Producer-consumer queue of per-key deltas. Thread-safe.

    Invariant: a key is in `_queue` if and only if it is in `_items`, and each
    `_items` entry holds at least one delta: a key with a single delta holds that
    `Delta` bare, not a one-element list (see `_queue_action_locked`); `_deltas`
    reads either form as a list.
    """

    def __init__(
        self,
        key_func: KeyFunc = meta_namespace_key_func,
        known_objects: KeyListerGetter | None = None,
        *,
        emit_delta_type_replaced: bool = True,
        transformer: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__(key_func, known_objects, transformer)
        self._items: dict[str, Delta | Deltas] = {}
        self._queue: deque[str] = deque()
        self._emit_delta_type_replaced = emit_delta_type_replaced

    # -- producer side ---------------------------------------------------------

    def add(self, obj: Any) -> None:
        with self._lock:
            self._populated = True
            self._queue_action_locked(DeltaType.ADDED, obj)
            self._cond.notify()

    def update(self, obj: Any) -> None:
        with self._lock:
            self._populated = True
            self._queue_action_locked(DeltaType.UPDATED, obj)
            self._cond.notify()

    def delete(self, obj: Any) -> None:
        """Queue a deletion, unless the key is neither queued nor known (already reported)."""
        key = self.key_of(obj)
        with self._lock:
            self._populated = True
            if key not in self._items:
                known = self._known_objects
                if known is None or known.get_by_key(key) is None:
                    return  # presumably deleted by a relist already: don't report it twice
            self._queue_action_locked(DeltaType.DELETED, obj, key)
            self._cond.notify()

    def add_if_not_present(self, deltas: Deltas) -> None:
        """Put popped deltas back, unless the key was queued again meanwhile."""
        with self._lock:
            self._add_if_not_present_locked(self.key_of(deltas), deltas)

    def replace(self, objects: list[Any], resource_version: str = "") -> None:
        """A relist: Replaced for every listed object, tombstones for the vanished ones."""
        with self._lock:
            action = DeltaType.REPLACED if self._emit_delta_type_replaced else DeltaType.SYNC
            keys = set()
            for obj in objects:
                key = self.key_of(obj)
                keys.add(key)
                self._queue_action_locked(action, obj, key, internal=DeltaType.REPLACED)

            queued_deletions = 0
            # Deletions missed while not watching. Copy out only the keys no longer listed:
            # copying every (key, deltas) pair made a tuple per listed object (10,000 on a first list).
            vanished = [key for key in self._items if key not in keys]
            for key in vanished:
                last = _deltas(self._items[key])[-1].object
                if isinstance(last, DeletedFinalStateUnknown):
                    last = last.obj
                queued_deletions += 1
                tombstone = DeletedFinalStateUnknown(key, last)
                self._queue_action_locked(DeltaType.DELETED, tombstone, key)

            if self._known_objects is not None:  # known to the consumer, nothing queued
                for key in self._known_objects.list_keys():
                    if key in keys or key in self._items:
                        continue
                    last = self._known_objects.get_by_key(key)
                    queued_deletions += 1
                    tombstone = DeletedFinalStateUnknown(key, last)
                    self._queue_action_locked(DeltaType.DELETED, tombstone, key)

            if not self._populated:
                self._populated = True
                self._initial_population_count = len(keys) + queued_deletions
            self._cond.notify_all()

    def resync(self) -> None:
        """Queue a Sync for every known object that has no delta waiting."""
        with self._lock:
            known = self._known_objects
            if known is None:
                return
            for key in known.list_keys():
                if key in self._items:
                    continue  # a pending delta is newer than the store: Sync would go back
                obj = known.get_by_key(key)
                if obj is not None:
                    self._queue_action_locked(DeltaType.SYNC, obj, key)
            self._cond.notify_all()

    # -- consumer side ---------------------------------------------------------

    def pop(self, process: PopProcessFunc, timeout: float | None = None) -> Deltas:
        """Wait for a key, remove it, run `process(deltas, is_in_initial_list)` under the lock.

        Raises FIFOClosed if the queue is closed and empty, TimeoutError if
        `timeout` seconds pass with nothing to pop.
        """
        with self._lock:
            self._wait_locked(self._queue, timeout)
            is_in_initial_list = not self._has_synced_locked()
            key = self._queue.popleft()
            if self._initial_population_count > 0:
                self._initial_population_count -= 1
            deltas = _deltas(self._items.pop(key))
            try:
                process(deltas, is_in_initial_list)
            except Requeue as requeue:
                self._add_if_not_present_locked(key, deltas)
                if requeue.err is not None:
                    raise requeue.err from None
            return deltas

    # -- reading ---------------------------------------------------------------

    def list(self) -> list[Any]:
        """The newest object of every queued key."""
        with self._lock:
            return [_deltas(pending)[-1].object for pending in self._items.values()]

    def list_keys(self) -> list[str]:
        with self._lock:
            return list(self._queue)

    def get(self, obj: Any) -> Deltas | None:
        return self.get_by_key(self.key_of(obj))

    def get_by_key(self, key: str) -> Deltas | None:
        """A copy of the deltas queued for `key`, or None."""
        with self._lock:
            pending = self._items.get(key)
            return list(_deltas(pending)) if pending is not None else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- helpers (lock held) ---------------------------------------------------

    def _queue_action_locked(
        self, action: DeltaType, obj: Any, key: str | None = None, internal: DeltaType | None = None
    ) -> None:
        """Append a delta for `obj`; merge two trailing deletions. The caller wakes poppers."""
        if key is None:
            key = self.key_of(obj)
        # Every object passes here once: the place to transform it. Tombstones and
        # Sync deltas carry objects that were transformed already.
        if self._transformer is not None and (internal or action) is not DeltaType.SYNC:
            if not isinstance(obj, DeletedFinalStateUnknown):
                obj = self._transformer(obj)
        delta = Delta(action, obj)
        pending = self._items.get(key)
        if pending is None:
            # Stored bare, not in a one-element list: half the containers on a first list,
            # which keeps a full garbage collection out of the sync (45-90 ms; see module doc).
            self._items[key] = delta
            self._queue.append(key)
            return
        if type(pending) is Delta:
            pending = self._items[key] = [pending]
        pending.append(delta)
        if action is DeltaType.DELETED and pending[-2].type is DeltaType.DELETED:
            _dedup_deletions(pending)

    def _add_if_not_present_locked(self, key: str, deltas: Deltas) -> None:
        self._populated = True
        if key in self._items:
            return
        self._items[key] = deltas[0] if len(deltas) == 1 else list(deltas)  # see the invariant
        self._queue.append(key)
        self._cond.notify()


def _deltas(pending: Delta | Deltas) -> Deltas:
    """The deltas of a queued key as a list (a key with one delta holds it bare)."""
    return [pending] if type(pending) is Delta else pending


def _dedup_deletions(deltas: Deltas) -> None:
    """Merge the last two deltas, both Deleted, keeping the one that is not a tombstone.

    Re-listing and watching can report the same deletion twice; this is the
    only duplicate client-go removes.
    """
    newer = deltas.pop()
    if isinstance(deltas[-1].object, DeletedFinalStateUnknown):
        deltas[-1] = newer
