"""The controller loop that drains a DeltaFIFO, and the event handler types.

Mirrors client-go v0.32 `tools/cache/controller.go`.

Kept: `Config` (queue, lister-watcher, process function, resync period, ...);
`Controller.run(stop)` starting a Reflector that fills the queue and a loop
popping it, closing the queue when stopped; `process_deltas`, the one place
where deltas become store writes and handler calls (Sync, Replaced, Added and
Updated become an update if the key is cached, else an add; Deleted deletes
and may hand a `DeletedFinalStateUnknown` to OnDelete); the handler interface
`ResourceEventHandler`, `ResourceEventHandlerFuncs` (optional callables) and
`FilteringResourceEventHandler` (an update that enters or leaves the filter
becomes an add or a delete); `new_informer`, an unshared informer.
Left out: `RetryOnError` (informers leave it off: a failed item is logged and
dropped), `ResourceEventHandlerDetailedFuncs`, the transforming variants
(pass `transform=`), `MinWatchTimeout`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from k8slab._clock import REAL_CLOCK, Clock
from k8slab.cache.delta_fifo import Deltas, DeltaFIFO, DeltaType, FIFOClosed
from k8slab.cache.index import Indexers
from k8slab.cache.listwatch_types import ListerWatcher
from k8slab.cache.reflector import Reflector
from k8slab.cache.store import Store, deletion_handling_meta_namespace_key_func, new_indexer

__all__ = [
    "Config", "Controller", "FilteringResourceEventHandler", "ResourceEventHandler",
    "ResourceEventHandlerFuncs", "new_informer", "process_deltas",
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
    handler: ResourceEventHandler, client_state: Store, deltas: Deltas, is_in_initial_list: bool
) -> None:
    """Write each delta to the store, then tell the handler, oldest delta first."""
    for kind, obj in deltas:
        if kind is DeltaType.DELETED:
            client_state.delete(obj)
            handler.on_delete(obj)
            continue
        old = client_state.get(obj)  # Sync, Replaced, Added, Updated
        if old is not None:
            client_state.update(obj)
            handler.on_update(old, obj)
        else:
            client_state.add(obj)
            handler.on_add(obj, is_in_initial_list)


@dataclass
class Config:
    """Everything a Controller needs."""

    queue: DeltaFIFO
    lister_watcher: ListerWatcher
    process: Callable[[Deltas, bool], None]  # called by pop, under the queue's lock
    object_description: str = ""
    full_resync_period: float = 0.0
    should_resync: Callable[[], bool] | None = None
    watch_error_handler: Callable[[Reflector, Exception], None] | None = None
    watch_list_page_size: int = 0
    use_watch_list: bool = False
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
        reflector = Reflector(
            c.lister_watcher,
            c.object_description,
            c.queue,
            c.full_resync_period,
            clock=c.clock,
            use_watch_list=c.use_watch_list,
            watch_list_page_size=c.watch_list_page_size,
            should_resync=c.should_resync,
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
        """True once the queue's initial list was popped (so the store holds it)."""
        return self.config.queue.has_synced()

    def last_sync_resource_version(self) -> str:
        with self._lock:
            return self._reflector.last_sync_resource_version() if self._reflector else ""

    def _process_loop(self) -> None:
        while True:
            try:
                self.config.queue.pop(self.config.process)
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
    clock: Clock = REAL_CLOCK,
) -> tuple[Store, Controller]:
    """An informer for one handler, no sharing (client-go's NewIndexerInformer)."""
    client_state = new_indexer(deletion_handling_meta_namespace_key_func, indexers or {})
    fifo = DeltaFIFO(
        known_objects=client_state, emit_delta_type_replaced=True, transformer=transform
    )

    def process(deltas: Deltas, is_in_initial_list: bool) -> None:
        process_deltas(handler, client_state, deltas, is_in_initial_list)

    config = Config(fifo, lister_watcher, process, object_description, resync_period, clock=clock)
    return client_state, Controller(config)
