"""The Store and Indexer contracts, the key functions, and the cache behind them.

Mirrors client-go v0.37.2 `tools/cache/store.go` (plus `DeletionHandlingMetaNamespaceKeyFunc`
from `controller.go`).

Kept: `Store` (add/update/delete/list/list_keys/get/get_by_key/replace/resync,
and since v0.32 `bookmark(rv)` and `last_store_sync_resource_version()`: the
store knows the RV it reflects, see thread_safe_store.py) and `Indexer` (a
Store with named indices) as interfaces; `transaction(txns)`, client-go's
`TransactionStore` (new since v0.32): many writes under one lock, returning a
`TransactionError` naming the ones whose key could not be computed; keys are
"namespace/name", or "name" for cluster-scoped objects; a key function that
unwraps `DeletedFinalStateUnknown` tombstones; `new_store(key_func)` and
`new_indexer(key_func, indexers)` returning a private cache over a
`ThreadSafeStore`.
Left out: `ExplicitKey`, `ObjectName`, and the (item, exists, err) triple:
`get` and `get_by_key` return the object or None (stored objects are never
None), and key functions raise instead of returning an error.

Objects are plain dicts (parsed JSON) and are shared with everyone who reads
the store. Never mutate them: `deep_copy` first, as client-go's `DeepCopy()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Protocol

from k8slab import errors
from k8slab.cache.index import Indexers
from k8slab.cache.thread_safe_store import ThreadSafeStore

__all__ = [
    "Indexer", "KeyFunc", "Store", "Transaction", "TransactionError", "TransactionType", "deep_copy", "deletion_handling_meta_namespace_key_func",
    "meta_namespace_key_func", "new_indexer", "new_store", "split_meta_namespace_key",
]

KeyFunc = Callable[[Any], str]


class Store(Protocol):
    """A keyed collection of objects: the cache a reflector fills.

    `replace(objects, resource_version)` swaps the whole content for a fresh
    list; `resync()` means "replay what you hold" and is a no-op for a plain
    store (a DeltaFIFO, which is also a Store, queues Sync deltas).
    """

    def add(self, obj: Any) -> None: ...
    def update(self, obj: Any) -> None: ...
    def delete(self, obj: Any) -> None: ...
    def list(self) -> list[Any]: ...
    def list_keys(self) -> list[str]: ...
    def get(self, obj: Any) -> Any | None: ...
    def get_by_key(self, key: str) -> Any | None: ...
    def replace(self, objects: list[Any], resource_version: str) -> None: ...
    def resync(self) -> None: ...
    def bookmark(self, resource_version: str) -> None: ...
    def last_store_sync_resource_version(self) -> str: ...


class TransactionType:
    """What a `Transaction` does (client-go's TransactionType strings)."""

    ADD, UPDATE, DELETE = "Add", "Update", "Delete"


class Transaction(NamedTuple):
    """One write of a batch: `TransactionType.ADD`, `.UPDATE` or `.DELETE`, and the object."""

    type: str
    object: Any


@dataclass
class TransactionError:
    """Which writes of a `transaction` were applied: the others' keys could not be computed."""

    total_transactions: int
    successful_indices: list[int] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    def __str__(self) -> str:
        failed = self.total_transactions - len(self.successful_indices)
        return f"failed to execute ({failed}/{self.total_transactions}) transactions failed due to: {self.errors}"


class Indexer(Store, Protocol):
    """A Store that also answers "which objects have this indexed value?"."""

    def index(self, index_name: str, obj: Any) -> list[Any]: ...
    def index_keys(self, index_name: str, indexed_value: str) -> list[str]: ...
    def list_index_func_values(self, index_name: str) -> list[str]: ...
    def by_index(self, index_name: str, indexed_value: str) -> list[Any]: ...
    def get_indexers(self) -> Indexers: ...
    def add_indexers(self, new_indexers: Indexers) -> None: ...


def meta_namespace_key_func(obj: dict[str, Any]) -> str:
    """The store key of an object: "namespace/name", or "name" without a namespace."""
    try:
        metadata = obj["metadata"]
        name = metadata["name"]
    except (KeyError, TypeError):
        raise errors.UsageError(f"cannot compute a key: no metadata.name in {obj!r:.200}") from None
    namespace = metadata.get("namespace")
    return f"{namespace}/{name}" if namespace else name


def deletion_handling_meta_namespace_key_func(obj: Any) -> str:
    """Like `meta_namespace_key_func`, but a tombstone's key is the key it carries.

    A `DeletedFinalStateUnknown` is recognised by shape (a non-dict with a
    `key`), which keeps this module free of an import cycle with delta_fifo.
    """
    if type(obj) is dict:
        return meta_namespace_key_func(obj)
    key = getattr(obj, "key", None)
    if isinstance(key, str):
        return key
    return meta_namespace_key_func(obj)


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """"ns/name" -> ("ns", "name"); "name" -> ("", "name")."""
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise errors.UsageError(f"unexpected key format: {key!r} (want 'namespace/name' or 'name')")


def deep_copy(obj: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, scalars).

    About 3-4x faster than `copy.deepcopy` on a ConfigMap-sized object (a
    recursive copy knows only dicts and lists can be mutable; measured on
    Python 3.11: 3.9 us vs 14.4 us), and faster than a pickle or json round trip.
    """
    t = type(obj)
    if t is dict:
        return {k: deep_copy(v) for k, v in obj.items()}
    if t is list:
        return [deep_copy(v) for v in obj]
    return obj


class _Cache:
    """What `new_store` and `new_indexer` return: a key function over a ThreadSafeStore."""

    def __init__(self, key_func: KeyFunc, indexers: Indexers | None) -> None:
        self._key_func = key_func
        self._store = ThreadSafeStore(indexers)
        ts = self._store  # the read-only methods need no key: hand them straight through
        self.list, self.list_keys, self.get_by_key = ts.list, ts.list_keys, ts.get
        self.index, self.index_keys, self.by_index = ts.index, ts.index_keys, ts.by_index
        self.list_index_func_values, self.get_indexers = ts.list_index_func_values, ts.get_indexers
        self.add_indexers = ts.add_indexers

    def add(self, obj: Any) -> None:
        self._store.update(self._key_func(obj), obj)

    def update(self, obj: Any) -> None:
        self._store.update(self._key_func(obj), obj)

    def delete(self, obj: Any) -> None:
        self._store.delete_with_object(self._key_func(obj), obj)

    def get(self, obj: Any) -> Any | None:
        return self._store.get(self._key_func(obj))

    def replace(self, objects: list[Any], resource_version: str = "") -> None:
        key_func = self._key_func
        self._store.replace({key_func(o): o for o in objects}, resource_version)

    def resync(self) -> None:
        self._store.resync()

    def bookmark(self, resource_version: str) -> None:
        self._store.bookmark(resource_version)

    def last_store_sync_resource_version(self) -> str:
        return self._store.last_store_sync_resource_version()

    def transaction(self, txns: list[Transaction]) -> TransactionError | None:
        """Apply the writes whose key can be computed, under one lock; None if all were."""
        keyed, failed = [], TransactionError(len(txns))
        for i, (kind, obj) in enumerate(txns):
            try:
                keyed.append((kind, self._key_func(obj), obj))
            except Exception as err:  # client-go's KeyError
                failed.errors.append(err)
                continue
            failed.successful_indices.append(i)
        self._store.transaction(keyed)
        return failed if failed.errors else None

    def __len__(self) -> int:
        return len(self._store.list_keys())

    def __repr__(self) -> str:
        return f"<cache with {len(self)} objects>"


def new_store(key_func: KeyFunc = meta_namespace_key_func) -> Store:
    """A thread-safe Store without indices."""
    return _Cache(key_func, None)


def new_indexer(
    key_func: KeyFunc = meta_namespace_key_func, indexers: Indexers | None = None
) -> Indexer:
    """A thread-safe Store with the given named indices."""
    return _Cache(key_func, indexers or {})
