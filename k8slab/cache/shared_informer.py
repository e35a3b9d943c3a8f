"""SharedIndexInformer: one list-watch, one cache, many handlers.

Mirrors client-go v0.37.2 `tools/cache/shared_informer.go`; its processor and
listeners live in `processor.py`.

    SharedIndexInformer(lw, "configmaps")                      # today's pipeline (v0.37.2)
    SharedIndexInformer(lw, "configmaps", pipeline="classic")  # v0.32's, the one in the books

Kept:
- One pipeline per informer, started by `run(stop)`, chosen by client-go's
  feature gates (features.py). Today's (v0.37.2): Reflector (streaming list,
  LIST as fallback) -> RealFIFO in atomic mode -> batches of up to 1,000
  deltas -> Indexer -> handlers; a relist reaches the store and the handlers
  as one ReplacedAll (deletions first, then updates and adds in list order,
  controller.py), a resync as one SyncAll, bookmarks move the store's RV.
  The classic one (v0.32): Reflector (paginated LIST) -> DeltaFIFO, one key's
  deltas at a time -> Indexer -> handlers.
- `handle_deltas` / `handle_batch_deltas` update the indexer and notify, under
  a lock shared with handler registration, so a late handler sees each object once.
- A processor with one listener per handler. A listener owns an unbounded
  buffer and a thread, so a slow handler delays only itself, never the watch
  or the other handlers.
- A handler added after start gets a synthetic add (is_in_initial_list=True)
  for every cached object; its registration's `has_synced` turns true once the
  informer has synced and those adds were handled.
- Resync periods per handler (at least 1 s); the informer checks every
  `resync_check_period` (the smallest period asked for before start), and a
  resync update goes only to the handlers whose period is due; an informer
  made with period 0 ignores handler periods (with a warning), as client-go
  does. An update whose resourceVersion did not change is a resync.
- `wait_for_cache_sync` polls every 100 ms (of the injected clock); `add_indexers`, `set_transform`,
  `remove_event_handler`, `get_store`, `get_indexer`, `last_sync_resource_version`
  (the reflector's; the store's own, moved by bookmarks too, is
  `get_indexer().last_store_sync_resource_version()`).
- `in_order=True` / `False` (k8slab's older switch) force a RealFIFO without
  the atomic mode (client-go 1.33-1.35) / a DeltaFIFO, whatever the pipeline.
What changed since v0.32: the queue (DeltaFIFO -> RealFIFO, atomic), batches,
streaming lists, the store's RV.
Left out: the mutation detector, `GetController`, metrics, `HasSyncedChecker`
and `WaitFor` (poll instead). One deliberate difference: a handler that raises
is logged and its notification skipped (client-go lets the panic crash the
process; see processor.py for what that means for `has_synced`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any, Callable, Protocol

from k8slab import errors
from k8slab._clock import REAL_CLOCK, Clock
from k8slab.cache.controller import (
    Config, Controller, FilteringResourceEventHandler, ResourceEventHandler,
    ResourceEventHandlerFuncs, new_queue_fifo, process_deltas, process_deltas_in_batch,
)
from k8slab.cache.delta_fifo import Delta, Deltas
from k8slab.cache.features import FeatureGates, Pipeline, feature_gates
from k8slab.cache.index import NAMESPACE_INDEX, Indexers, meta_namespace_index_func
from k8slab.cache.listwatch_types import ListerWatcher
from k8slab.cache.processor import (
    ADD, DELETE, UPDATE, ProcessorListener, SharedProcessor, determine_resync_period,
)
from k8slab.cache.reflector import Reflector
from k8slab.cache.store import Indexer, deletion_handling_meta_namespace_key_func, new_indexer

# FilteringResourceEventHandler and the handler types are defined in controller.py, as in client-go.
__all__ = [
    "MINIMUM_RESYNC_PERIOD", "FilteringResourceEventHandler", "ResourceEventHandler",
    "ResourceEventHandlerFuncs", "ResourceEventHandlerRegistration", "SharedIndexInformer",
    "wait_for_cache_sync",
]

log = logging.getLogger(__name__)

MINIMUM_RESYNC_PERIOD = 1.0  # seconds; shorter handler periods are raised to this
SYNCED_POLL_PERIOD = 0.1  # seconds between has_synced checks in wait_for_cache_sync


class ResourceEventHandlerRegistration(Protocol):
    """What `add_event_handler` returns: pass it to `remove_event_handler`."""

    def has_synced(self) -> bool: ...


def wait_for_cache_sync(
    stop: threading.Event,
    *has_synced: Callable[[], bool],
    timeout: float | None = None,
    clock: Clock = REAL_CLOCK,
) -> bool:
    """Poll `has_synced` functions every 100 ms: True once all are, False on stop or timeout.

    The polls and the timeout are on `clock` (on a FakeClock, each poll waits for a step).
    """
    deadline = None if timeout is None else clock.now() + timeout
    while not all(f() for f in has_synced):
        poll = clock.now() + SYNCED_POLL_PERIOD
        if deadline is not None:
            if clock.now() >= deadline:
                return False
            poll = min(poll, deadline)
        if clock.wait_until(poll, stop):
            return False
    return True


class SharedIndexInformer:
    """A cache of one resource, kept by a list-watch, feeding any number of handlers.

    `indexers` defaults to the namespace index (what listers use); pass `{}` for none.
    `pipeline`: "today" (client-go v0.37.2), "classic" (v0.32) or a
    `FeatureGates`; `use_watch_list` (True/False) overrides its WatchListClient
    gate, `in_order` its queue (see the module docstring).
    """

    def __init__(
        self,
        lister_watcher: ListerWatcher,
        expected_type: str = "",
        default_event_handler_resync_period: float = 0.0,
        indexers: Indexers | None = None,
        *,
        clock: Clock = REAL_CLOCK,
        pipeline: Pipeline = "today",
        use_watch_list: bool | None = None,
        in_order: bool | None = None,
    ) -> None:
        gates = feature_gates(pipeline)
        if use_watch_list is not None:
            gates = dataclasses.replace(gates, watch_list_client=use_watch_list)
        if in_order is not None:
            gates = dataclasses.replace(gates, in_order_informers=in_order, atomic_fifo=False,
                                        unlock_while_processing_fifo=False)
        self.gates: FeatureGates = gates
        if indexers is None:
            indexers = {NAMESPACE_INDEX: meta_namespace_index_func}
        self.object_description = expected_type
        self._lister_watcher = lister_watcher
        self._indexer = new_indexer(deletion_handling_meta_namespace_key_func, indexers)
        self._processor = SharedProcessor(clock)
        self._clock = clock
        self._resync_check_period = default_event_handler_resync_period
        self._default_resync_period = default_event_handler_resync_period
        self._started_lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._block_deltas = threading.Lock()  # no deltas are handled while a handler joins
        self._controller: Controller | None = None
        self._transform: Callable[[Any], Any] | None = None
        self._watch_error_handler: Callable[[Reflector, Exception], None] | None = None

    def run(self, stop: threading.Event) -> None:
        """Run the pipeline and the handlers until `stop` is set. Only once per informer."""
        with self._started_lock:
            if self._started:
                log.warning("informer for %s has already started", self.object_description)
                return
            config = Config(
                queue=new_queue_fifo(self.gates, self._indexer, self._transform),
                lister_watcher=self._lister_watcher,
                process=self.handle_deltas,
                process_batch=self.handle_batch_deltas,
                object_description=self.object_description,
                full_resync_period=self._resync_check_period,
                should_resync=self._processor.should_resync,
                watch_error_handler=self._watch_error_handler,
                gates=self.gates,
                clock=self._clock,
            )
            self._controller = Controller(config)
            self._started = True
        processor_stop = threading.Event()
        processor = threading.Thread(
            target=self._processor.run, args=(processor_stop,), name=f"k8slab-processor[{self.object_description}]", daemon=True
        )
        processor.start()
        try:
            self._controller.run(stop)
        finally:
            with self._started_lock:
                self._stopped = True  # no new handlers
            processor_stop.set()
            processor.join()

    # -- handlers ----------------------------------------------------------------

    def add_event_handler(
        self, handler: ResourceEventHandler, resync_period: float | None = None
    ) -> ResourceEventHandlerRegistration:
        """Register a handler; after start it first receives the whole cache as adds."""
        if resync_period is None:
            resync_period = self._default_resync_period
        with self._started_lock:
            if self._stopped:
                raise errors.UsageError(f"handler {handler!r} not added: the informer has stopped")
            if resync_period > 0:
                if resync_period < MINIMUM_RESYNC_PERIOD:
                    log.warning("resync period %s s too small; using 1 s", resync_period)
                    resync_period = MINIMUM_RESYNC_PERIOD
                if resync_period < self._resync_check_period:
                    if self._started:
                        check = self._resync_check_period
                        log.warning("informer started: resync period raised to %s s", check)
                        resync_period = self._resync_check_period
                    else:
                        self._resync_check_period = resync_period
                        self._processor.resync_check_period_changed(resync_period)
            listener = ProcessorListener(
                handler,
                resync_period,
                determine_resync_period(resync_period, self._resync_check_period),
                self._clock.now(),
                self.has_synced,
            )
            if not self._started:
                return self._processor.add_listener(listener)
            with self._block_deltas:  # the cache cannot change while we replay it
                registration = self._processor.add_listener(listener)
                for obj in self._indexer.list():
                    listener.add((ADD, obj, True), wake=False)
                listener.wake()
                return registration

    def remove_event_handler(self, registration: ResourceEventHandlerRegistration) -> None:
        """Stop notifying a handler (unknown registrations are ignored)."""
        with self._started_lock, self._block_deltas:
            self._processor.remove_listener(registration)

    def handle_deltas(self, deltas: Deltas, is_in_initial_list: bool) -> None:
        """The queue's process function: update the indexer, notify the handlers."""
        with self._block_deltas, self._processor.holding():
            process_deltas(self, self._indexer, deltas, is_in_initial_list)

    def handle_batch_deltas(self, deltas: list[Delta], is_in_initial_list: bool) -> None:
        """The queue's batch process function: one indexer transaction, then the notifications."""
        with self._block_deltas, self._processor.holding():
            process_deltas_in_batch(self, self._indexer, deltas, is_in_initial_list)

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self._processor.distribute((ADD, obj, is_in_initial_list), False)

    def on_update(self, old: Any, new: Any) -> None:
        # Same resourceVersion: nothing changed, this is a resync (or a relist's Replaced).
        is_sync = old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion")
        self._processor.distribute((UPDATE, old, new), is_sync)

    def on_delete(self, obj: Any) -> None:
        self._processor.distribute((DELETE, obj), False)

    # -- state -------------------------------------------------------------------

    def has_synced(self) -> bool:
        """True once the first list has been fully delivered into the cache."""
        with self._started_lock:
            return self._controller is not None and self._controller.has_synced()

    def has_started(self) -> bool:
        with self._started_lock:
            return self._started

    def is_stopped(self) -> bool:
        with self._started_lock:
            return self._stopped

    def last_sync_resource_version(self) -> str:
        with self._started_lock:
            return self._controller.last_sync_resource_version() if self._controller else ""

    def get_store(self) -> Indexer:
        return self._indexer

    def get_indexer(self) -> Indexer:
        return self._indexer

    def add_indexers(self, indexers: Indexers) -> None:
        """Add indices, back-filled from the cache; allowed until the informer stops."""
        with self._started_lock:
            if self._stopped:
                raise errors.UsageError("indexers not added: the informer has stopped")
            self._indexer.add_indexers(indexers)

    def set_transform(self, transform: Callable[[Any], Any] | None) -> None:
        """Transform every object before caching it (e.g. drop managedFields). Before start only."""
        with self._started_lock:
            if self._started:
                raise errors.UsageError("set_transform: the informer has already started")
            self._transform = transform

    def set_watch_error_handler(self, handler: Callable[[Reflector, Exception], None]) -> None:
        """Called whenever a list-and-watch cycle ends with an error. Before start only."""
        with self._started_lock:
            if self._started:
                raise errors.UsageError("set_watch_error_handler: the informer has already started")
            self._watch_error_handler = handler
