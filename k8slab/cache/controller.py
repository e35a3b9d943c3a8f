"""The controller loop that drains the informer's queue, and the event handler types.

Mirrors client-go v0.37.2 `tools/cache/controller.go`; the classic pipeline's
parts are v0.32's, which this file then was.

Kept: `Config` (queue, lister-watcher, process and process-batch functions,
resync period, ...); `Controller.run(stop)` starting a Reflector that fills the
queue and a loop popping it, closing the queue when stopped;
`new_queue_fifo(gates, store, transform)`, the feature-gate switch between the
pipelines (features.py); `process_deltas`, the one place where deltas become
store writes and handler calls; the handler interface `ResourceEventHandler`,
`ResourceEventHandlerFuncs` (optional callables) and
`FilteringResourceEventHandler` (an update that enters or leaves the filter
becomes an add or a delete); `new_informer`, an unshared informer.

What a delta does (`process_deltas`), oldest first:
- Sync, Replaced, Added, Updated: an update if the key is cached (OnUpdate(old,
  new)), else an add (OnAdd(obj, is_in_initial_list)); Deleted: delete, then
  OnDelete (maybe with a `DeletedFinalStateUnknown`). The classic pipeline
  knows only these; its DeltaFIFO has already turned a relist into Replaced
  deltas followed by tombstones (for an empty queue: updates and adds first,
  in list order, deletions last).
- ReplacedAll (v0.37.2, a whole relist, `process_replaced_all_info`): compute
  against the store as it is now a tombstone for every cached key not listed
  and, for each listed object in list order, an update (cached) or an add;
  replace the store in one step (so it holds the new list before any handler
  runs); then call OnDelete for every tombstone first, then OnUpdate/OnAdd in
  list order. client-go takes the deletions in its store's key order, a Go
  map's (random); k8slab in its store's key order.
- SyncAll (a resync): OnUpdate(obj, obj) for every cached object.
- Bookmark: `store.bookmark(rv)`, no handler call.
`process_deltas_in_batch` (v0.37.2, InOrderInformersBatchProcess): a batch of
deltas of distinct objects written to the store in one transaction, then the
handler calls in order; a write whose key cannot be computed is skipped (no
call) and the batch raises afterwards.
Left out: `RetryOnError` (informers leave it off: a failed item is logged and
dropped), `ResourceEventHandlerDetailedFuncs`, the typed handler variants, the
transforming constructors (pass `transform=`), metrics and identifiers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from k8slab import errors
from k8slab._clock import REAL_CLOCK, Clock
from k8slab.cache.delta_fifo import Delta, DeletedFinalStateUnknown, Deltas, DeltaFIFO, DeltaType, FIFOClosed
from k8slab.cache.features import FeatureGates, Pipeline, feature_gates
from k8slab.cache.index import Indexers
from k8slab.cache.listwatch_types import ListerWatcher
from k8slab.cache.real_fifo import RealFIFO, ReplacedAllInfo
from k8slab.cache.reflector import Reflector
from k8slab.cache.store import (
    KeyFunc, Store, Transaction, TransactionType, deletion_handling_meta_namespace_key_func, new_indexer,
)

__all__ = [
    "Config", "Controller", "FilteringResourceEventHandler", "ResourceEventHandler",
    "ResourceEventHandlerFuncs", "new_informer", "new_queue_fifo", "process_deltas",
    "process_deltas_in_batch", "process_replaced_all_info",
]

log = logging.getLogger(__name__)


class ResourceEventHandler(Protocol):
    """Notifications about one resource. Handlers must not mutate the objects they get.

    `on_delete` may receive a `DeletedFinalStateUnknown` instead of the object
    when the deletion was only noticed by a relist.
    """

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None: ...
    def on_update(self, old: Any, new: Any) -> None: ...
    def on_delete(self, obj: Any) -> None: ...


@dataclass
class ResourceEventHandlerFuncs:
    """A handler from optional callables; a missing one ignores its event."""

    add_func: Callable[[Any], None] | None = None
    update_func: Callable[[Any, Any], None] | None = None
    delete_func: Callable[[Any], None] | None = None

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if self.add_func is not None:
            self.add_func(obj)

    def on_update(self, old: Any, new: Any) -> None:
        if self.update_func is not None:
            self.update_func(old, new)

    def on_delete(self, obj: Any) -> None:
        if self.delete_func is not None:
            self.delete_func(obj)


@dataclass
class FilteringResourceEventHandler:
    """Passes on only objects that satisfy `filter_func`.

    An update whose object starts satisfying it is passed on as an add, one
    whose object stops satisfying it as a delete.
    """

    filter_func: Callable[[Any], bool]
    handler: ResourceEventHandler

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if self.filter_func(obj):
            self.handler.on_add(obj, is_in_initial_list)

    def on_update(self, old: Any, new: Any) -> None:
        newer, older = self.filter_func(new), self.filter_func(old)
        if newer and older:
            self.handler.on_update(old, new)
        elif newer:
            self.handler.on_add(new, False)
        elif older:
            self.handler.on_delete(old)

    def on_delete(self, obj: Any) -> None:
        if self.filter_func(obj):
            self.handler.on_delete(obj)


def process_deltas(
    handler: ResourceEventHandler, client_state: Store, deltas: Deltas, is_in_initial_list: bool,
    key_func: KeyFunc = deletion_handling_meta_namespace_key_func,
) -> None:
    """Write each delta to the store, then tell the handler, oldest delta first.

    `key_func` (the store's) tells a ReplacedAll's listed objects apart.
    """
    for kind, obj in deltas:
        if kind is DeltaType.DELETED:
            client_state.delete(obj)
            handler.on_delete(obj)
        elif kind is DeltaType.REPLACED_ALL:
            process_replaced_all_info(handler, client_state, obj, is_in_initial_list, key_func)
        elif kind is DeltaType.SYNC_ALL:
            for cached in client_state.list():
                handler.on_update(cached, cached)
            return  # client-go returns here too
        elif kind is DeltaType.BOOKMARK:
            client_state.bookmark(obj.resource_version)
        else:  # Sync, Replaced, Added, Updated
            old = client_state.get(obj)
            if old is not None:
                client_state.update(obj)
                handler.on_update(old, obj)
            else:
                client_state.add(obj)
                handler.on_add(obj, is_in_initial_list)


def process_replaced_all_info(
    handler: ResourceEventHandler, client_state: Store, info: ReplacedAllInfo, is_in_initial_list: bool,
    key_func: KeyFunc = deletion_handling_meta_namespace_key_func,
) -> None:
    """A whole relist: the store replaced in one step, then deletions, then updates and adds."""
    # client-go's reconcileReplacement(nil queue, the store, the list): with nothing queued it
    # comes to this, done here with each key computed once (10,000 keys on a first sync).
    objects = info.objects
    keys = [key_func(obj) for obj in objects]
    listed = set(keys)
    get = client_state.get_by_key
    deletions = [DeletedFinalStateUnknown(key, get(key)) for key in client_state.list_keys() if key not in listed]
    olds = [get(key) for key in keys]  # each listed object's cached state, or None: the replacements
    client_state.replace(objects, info.resource_version)  # the store shows what handlers are told
    for tombstone in deletions:
        handler.on_delete(tombstone)
    on_add, on_update = handler.on_add, handler.on_update
    # Two flat lists, not a (old, new) pair per object: 10,000 more containers would
    # set off a full garbage collection of the whole heap in the middle of a first sync.
    for old, new in zip(olds, objects):
        if old is not None:
            on_update(old, new)
        else:
            on_add(new, is_in_initial_list)


def process_deltas_in_batch(
    handler: ResourceEventHandler, client_state: Store, deltas: list[Delta], is_in_initial_list: bool,
    key_func: KeyFunc = deletion_handling_meta_namespace_key_func,
) -> None:
    """Deltas of distinct objects: one store transaction, then the handler calls in order."""
    transaction = getattr(client_state, "transaction", None)
    if transaction is None:  # a store without transactions: one delta at a time
        for delta in deltas:
            process_deltas(handler, client_state, [delta], is_in_initial_list, key_func)
        return
    txns: list[Transaction] = []
    calls: list[tuple[str, Any, Any]] = []
    for kind, obj in deltas:
        if kind is DeltaType.DELETED:
            txns.append(Transaction(TransactionType.DELETE, obj))
            calls.append(("delete", obj, None))
        elif kind in _ADD_OR_UPDATE:
            old = client_state.get(obj)  # one old object each: the objects are distinct
            if old is not None:
                txns.append(Transaction(TransactionType.UPDATE, obj))
                calls.append(("update", old, obj))
            else:
                txns.append(Transaction(TransactionType.ADD, obj))
                calls.append(("add", obj, None))
        else:
            raise errors.UsageError(f"delta type {kind} is not supported in batch processing")
    failed = transaction(txns)
    done = range(len(calls)) if failed is None else failed.successful_indices
    for i in done:
        what, a, b = calls[i]
        if what == "update":
            handler.on_update(a, b)
        elif what == "add":
            handler.on_add(a, is_in_initial_list)
        else:
            handler.on_delete(a)
    if failed is not None:
        raise errors.UsageError(f"not all items in the batch successfully processed: {failed}")


_ADD_OR_UPDATE = frozenset((DeltaType.SYNC, DeltaType.REPLACED, DeltaType.ADDED, DeltaType.UPDATED))


def new_queue_fifo(
    gates: FeatureGates, client_state: Store, transform: Callable[[Any], Any] | None = None
) -> DeltaFIFO | RealFIFO:
    """The informer's queue, as the feature gates choose (client-go's newQueueFIFO)."""
    if not gates.in_order_informers:  # v0.32
        return DeltaFIFO(known_objects=client_state, emit_delta_type_replaced=True, transformer=transform)
    if gates.atomic_fifo:  # v0.37.2: the consumer reconciles a relist, so no known objects
        return RealFIFO(transformer=transform, atomic_events=True, emit_delta_type_bookmark=True,
                        unlock_while_processing=gates.unlock_while_processing_fifo)
    return RealFIFO(known_objects=client_state, transformer=transform)  # 1.33-1.35


@dataclass
class Config:
    """Everything a Controller needs."""

    queue: DeltaFIFO | RealFIFO
    lister_watcher: ListerWatcher
    process: Callable[[Deltas, bool], None]  # called by pop (under the queue's lock unless it unlocks)
    object_description: str = ""
    full_resync_period: float = 0.0
    should_resync: Callable[[], bool] | None = None
    watch_error_handler: Callable[[Reflector, Exception], None] | None = None
    watch_list_page_size: int = 0
    use_watch_list: bool | None = None  # None: the WatchListClient gate of `gates`
    process_batch: Callable[[list[Delta], bool], None] | None = None
    min_watch_timeout: float = 0.0
    gates: FeatureGates = FeatureGates()
    clock: Clock = REAL_CLOCK


class Controller:
    """Runs a Reflector into the queue and pops the queue into `config.process`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._reflector: Reflector | None = None
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Block until `stop` is set; then close the queue and wait for the reflector."""
        c = self.config

        def close_on_stop() -> None:
            stop.wait()
            c.queue.close()

        name = f"k8slab-fifo-closer[{c.object_description}]"
        threading.Thread(target=close_on_stop, name=name, daemon=True).start()
        use_watch_list = c.gates.watch_list_client if c.use_watch_list is None else c.use_watch_list
        reflector = Reflector(
            c.lister_watcher,
            c.object_description,
            c.queue,
            c.full_resync_period,
            clock=c.clock,
            use_watch_list=use_watch_list,
            watch_list_page_size=c.watch_list_page_size,
            should_resync=c.should_resync,
            min_watch_timeout=c.min_watch_timeout,
        )
        if c.watch_error_handler is not None:
            reflector.watch_error_handler = c.watch_error_handler
        with self._lock:
            self._reflector = reflector
        thread = threading.Thread(
            target=reflector.run, args=(stop,), name=f"k8slab-{reflector.name}", daemon=True
        )
        thread.start()
        self._process_loop()
        thread.join()

    def has_synced(self) -> bool:
        """True once the queue's initial list was popped and processed (so the store holds it)."""
        return self.config.queue.has_synced()

    def last_sync_resource_version(self) -> str:
        with self._lock:
            return self._reflector.last_sync_resource_version() if self._reflector else ""

    def _process_loop(self) -> None:
        c = self.config
        pop_batch = getattr(c.queue, "pop_batch", None)
        batched = pop_batch is not None and c.process_batch is not None and c.gates.in_order_informers_batch_process
        while True:
            try:
                if batched:
                    pop_batch(c.process_batch, c.process)
                else:
                    c.queue.pop(c.process)
            except FIFOClosed:
                return
            except Exception:
                log.exception("processing an item from the queue failed; dropping it")


def new_informer(
    lister_watcher: ListerWatcher,
    object_description: str,
    resync_period: float,
    handler: ResourceEventHandler,
    indexers: Indexers | None = None,
    *,
    transform: Callable[[Any], Any] | None = None,
    pipeline: Pipeline = "today",
    clock: Clock = REAL_CLOCK,
) -> tuple[Store, Controller]:
    """An informer for one handler, no sharing (client-go's NewInformerWithOptions)."""
    gates = feature_gates(pipeline)
    client_state = new_indexer(deletion_handling_meta_namespace_key_func, indexers or {})
    fifo = new_queue_fifo(gates, client_state, transform)

    def process(deltas: Deltas, is_in_initial_list: bool) -> None:
        process_deltas(handler, client_state, deltas, is_in_initial_list)

    def process_batch(deltas: list[Delta], is_in_initial_list: bool) -> None:
        process_deltas_in_batch(handler, client_state, deltas, is_in_initial_list)

    config = Config(fifo, lister_watcher, process, object_description, resync_period,
                    process_batch=process_batch, gates=gates, clock=clock)
    return client_state, Controller(config)
