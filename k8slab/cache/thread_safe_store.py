"""A key -> object map guarded by one lock, with indices kept up to date.

Mirrors client-go v0.37.2 `tools/cache/thread_safe_store.go`.

Kept: every add/update/delete updates every index under the same lock; a
value whose key set becomes empty is removed from its index (client-go does
this since kubernetes#84959, so short-lived objects with unique index values
do not leak memory); `replace` swaps the items and rebuilds the indices;
`add_indexers` refuses a name already in use and back-fills the new indices
from the items already stored (client-go refused to add indexers to a
non-empty store until 1.27; v0.32 back-fills); the fast path for the common
case of one unchanged value. New since v0.32: the store's own resourceVersion
(`last_store_sync_resource_version`): every add, update and delete of an
object (not of a tombstone) sets it to that object's RV, `replace` to the
list's, `bookmark(rv)` to a bookmark's (client-go returns it only with the
AtomicFIFO gate on, since only then do bookmarks reach the store); and
`transaction`, several writes under one lock acquisition, the RV taken from
the last one (the batched informer pipeline writes through it).
Left out: the read/write lock (Python's GIL and one plain lock serve), and the
split into `storeIndex` and `threadSafeMap` (one class here).

Objects are stored as given and handed out shared: never mutate what a store
returns, deep-copy it first (see `store.deep_copy`).
"""

from __future__ import annotations

import threading
from typing import Any

from k8slab import errors
from k8slab.cache.index import Index, Indexers, Indices

__all__ = ["ThreadSafeStore"]


class ThreadSafeStore:
    """Objects by key, plus one `Index` per indexer. Every method takes the lock."""

    def __init__(self, indexers: Indexers | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}
        self._indexers: Indexers = dict(indexers or {})
        self._indices: Indices = {}
        self._rv = ""  # the resourceVersion of the last write or bookmark

    # -- items -----------------------------------------------------------------

    def add(self, key: str, obj: Any) -> None:
        self.update(key, obj)

    def update(self, key: str, obj: Any) -> None:
        rv = _rv_of(obj)
        with self._lock:
            old = self._items.get(key)
            self._items[key] = obj
            if self._indexers:
                self._update_indices_locked(old, obj, key)
            if rv is not None:
                self._rv = rv

    def delete(self, key: str) -> None:
        """Remove `key`; the store's RV stays (client-go recommends `delete_with_object`)."""
        self.delete_with_object(key, None)

    def delete_with_object(self, key: str, obj: Any) -> None:
        """Remove `key`; the store's RV becomes `obj`'s (unless it is None or a tombstone)."""
        rv = None if obj is None else _rv_of(obj)
        with self._lock:
            self._delete_locked(key)
            if rv is not None:
                self._rv = rv

    def transaction(self, txns: list[tuple[str, str, Any]]) -> None:
        """Apply (type, key, object) writes ("Add", "Update", "Delete") under one lock acquisition."""
        if not txns:
            return
        rv = _rv_of(txns[-1][2])
        with self._lock:
            items, indexed = self._items, bool(self._indexers)
            for kind, key, obj in txns:
                if kind == "Delete":
                    self._delete_locked(key)
                    continue
                old = items.get(key)
                items[key] = obj
                if indexed:
                    self._update_indices_locked(old, obj, key)
            if rv is not None:
                self._rv = rv

    def get(self, key: str) -> Any | None:
        with self._lock:
            return self._items.get(key)

    def list(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def list_keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def replace(self, items: dict[str, Any], resource_version: str = "") -> None:
        """Swap in a new item map (taken over, not copied) and rebuild every index."""
        with self._lock:
            self._items = items
            self._rv = resource_version
            self._indices = {name: _build_index(func, items) for name, func in self._indexers.items()}

    def resync(self) -> None:
        """Nothing to do: a plain store has no queue to replay into."""

    def bookmark(self, resource_version: str) -> None:
        """A bookmark came: the store has seen everything up to `resource_version`."""
        with self._lock:
            self._rv = resource_version

    def last_store_sync_resource_version(self) -> str:
        """The RV of the last write (of an object with metadata), replace or bookmark."""
        with self._lock:
            return self._rv

    # -- indices ---------------------------------------------------------------

    def index(self, index_name: str, obj: Any) -> list[Any]:
        """Stored objects sharing at least one indexed value with `obj`."""
        with self._lock:
            index = self._index_locked(index_name)
            keys: set[str] = set()
            for value in self._indexers[index_name](obj):
                keys |= index.get(value, set())
            return [self._items[k] for k in keys]

    def by_index(self, index_name: str, indexed_value: str) -> list[Any]:
        """Stored objects whose indexed values include `indexed_value`."""
        with self._lock:
            keys = self._index_locked(index_name).get(indexed_value, ())
            return [self._items[k] for k in keys]

    def index_keys(self, index_name: str, indexed_value: str) -> list[str]:
        """Sorted store keys of the objects whose indexed values include `indexed_value`."""
        with self._lock:
            return sorted(self._index_locked(index_name).get(indexed_value, ()))

    def list_index_func_values(self, index_name: str) -> list[str]:
        """Every value currently present in the named index."""
        with self._lock:
            return list(self._indices.get(index_name, {}))

    def get_indexers(self) -> Indexers:
        with self._lock:
            return dict(self._indexers)

    def add_indexers(self, new_indexers: Indexers) -> None:
        """Add indexers and index the objects already stored. Names must be new."""
        with self._lock:
            clash = sorted(set(self._indexers) & set(new_indexers))
            if clash:
                raise errors.UsageError(f"indexer conflict: {clash} already exist; pick new names")
            self._indexers.update(new_indexers)
            for key, obj in self._items.items():
                for name in new_indexers:
                    self._update_single_index_locked(name, None, obj, key)

    # -- helpers (lock held) ---------------------------------------------------

    def _delete_locked(self, key: str) -> None:
        old = self._items.pop(key, None)
        if old is not None and self._indexers:
            self._update_indices_locked(old, None, key)

    def _index_locked(self, index_name: str) -> Index:
        if index_name not in self._indexers:
            raise errors.UsageError(f"index with name {index_name!r} does not exist")
        return self._indices.get(index_name, {})

    def _update_indices_locked(self, old: Any, new: Any, key: str) -> None:
        for name in self._indexers:
            self._update_single_index_locked(name, old, new, key)

    def _update_single_index_locked(self, name: str, old: Any, new: Any, key: str) -> None:
        """Move `key` from the values of `old` to those of `new` (either may be None)."""
        index_func = self._indexers[name]
        old_values = index_func(old) if old is not None else []
        new_values = index_func(new) if new is not None else []
        index = self._indices.get(name)
        if index is None:
            index = self._indices[name] = {}
        if len(old_values) == 1 and len(new_values) == 1 and old_values[0] == new_values[0]:
            return  # the common case: one value, unchanged
        for value in old_values:
            keys = index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[value]  # no empty sets left behind
        for value in new_values:
            keys = index.get(value)
            if keys is None:
                index[value] = {key}
            else:
                keys.add(key)


def _build_index(index_func: Any, items: dict[str, Any]) -> Index:
    """value -> keys of the objects indexed under it (what adding each item would build, in one loop)."""
    index: Index = {}
    for key, obj in items.items():
        for value in index_func(obj):
            keys = index.get(value)
            if keys is None:
                index[value] = {key}
            else:
                keys.add(key)
    return index


def _rv_of(obj: Any) -> str | None:
    """An object's resourceVersion ("" if it has none); None for what has no metadata (a tombstone).

    client-go's `rvFromObject` (meta.Accessor): anything that is not an object
    with metadata leaves the store's RV as it was.
    """
    if type(obj) is dict:
        metadata = obj.get("metadata")
        if type(metadata) is dict:
            return metadata.get("resourceVersion", "")
    return None
