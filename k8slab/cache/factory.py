"""A shared informer factory: one informer per resource, however many callers ask.

Mirrors client-go v0.37.2 `informers/factory.go` (`sharedInformerFactory`),
without the generated typed accessors.

Kept: `informer_for(key, new_func)` builds an informer the first time a
resource is asked for and returns the same one afterwards, with the
factory's resync period (or a per-resource one), transform and pipeline
(`pipeline="classic"` builds v0.32 informers; client-go picks its pipeline
with process-wide feature gates, k8slab per factory, see cache/features.py); `start(stop)`
runs every informer not started yet (call it again after asking for more);
`wait_for_cache_sync(stop)` reports, per started resource, whether it synced;
`shutdown()` waits for the informer threads, which end once `stop` is set.
Informers are keyed by a resource string ("configmaps", "deployments.apps")
instead of a Go type. The factory knows no HTTP: it is given a function that
builds a ListerWatcher for a resource key (namespace and selectors belong in
that function, as client-go's WithNamespace/WithTweakListOptions).
Left out: `ForResource`'s GVR table, typed group accessors, and what v0.37.2 added
since v0.32 (informer names for metrics, the `...WithContext` variants).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from k8slab._clock import REAL_CLOCK, Clock
from k8slab.cache.features import Pipeline
from k8slab.cache.listers import Lister
from k8slab.cache.listwatch_types import ListerWatcher
from k8slab.cache.shared_informer import SharedIndexInformer, wait_for_cache_sync

__all__ = ["NewInformerFunc", "SharedInformerFactory"]

NewInformerFunc = Callable[[ListerWatcher, float], SharedIndexInformer]
"""Builds an informer from a lister-watcher and a resync period."""


class SharedInformerFactory:
    """Hands out shared informers by resource key and runs them together."""

    def __init__(
        self,
        lister_watcher_for: Callable[[str], ListerWatcher],
        default_resync: float = 0.0,
        *,
        custom_resync: dict[str, float] | None = None,
        transform: Callable[[Any], Any] | None = None,
        pipeline: Pipeline = "today",
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self._lister_watcher_for = lister_watcher_for
        self._pipeline = pipeline
        self._default_resync = default_resync
        self._custom_resync = dict(custom_resync or {})
        self._transform = transform
        self._clock = clock
        self._lock = threading.Lock()
        self._informers: dict[str, SharedIndexInformer] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._shutting_down = False

    def informer_for(
        self, resource_key: str, new_func: NewInformerFunc | None = None
    ) -> SharedIndexInformer:
        """The informer for `resource_key`, created by `new_func` on first request."""
        with self._lock:
            informer = self._informers.get(resource_key)
            if informer is not None:
                return informer
            resync = self._custom_resync.get(resource_key, self._default_resync)
            lister_watcher = self._lister_watcher_for(resource_key)
            if new_func is None:
                informer = SharedIndexInformer(
                    lister_watcher, resource_key, resync, clock=self._clock, pipeline=self._pipeline
                )
            else:
                informer = new_func(lister_watcher, resync)
            if self._transform is not None:
                informer.set_transform(self._transform)
            self._informers[resource_key] = informer
            return informer

    def lister_for(self, resource_key: str) -> Lister:
        """A lister over the shared informer's cache for `resource_key`."""
        return Lister(self.informer_for(resource_key).get_indexer(), resource_key)

    def start(self, stop: threading.Event) -> None:
        """Run, each in its own thread, the informers not started yet."""
        with self._lock:
            if self._shutting_down:
                return
            for key, informer in self._informers.items():
                if key not in self._threads:
                    thread = threading.Thread(
                        target=informer.run, args=(stop,), name=f"k8slab-informer[{key}]", daemon=True
                    )
                    thread.start()
                    self._threads[key] = thread

    def wait_for_cache_sync(
        self, stop: threading.Event, timeout: float | None = None
    ) -> dict[str, bool]:
        """Wait for every started informer to sync; resource key -> synced.

        `timeout` (on the factory's clock) bounds the whole wait, not each informer's.
        """
        with self._lock:
            started = {key: self._informers[key] for key in self._threads}
        deadline = None if timeout is None else self._clock.now() + timeout
        synced = {}
        for key, informer in started.items():
            remaining = None if deadline is None else max(deadline - self._clock.now(), 0.0)
            synced[key] = wait_for_cache_sync(stop, informer.has_synced, timeout=remaining, clock=self._clock)
        return synced

    def shutdown(self, timeout: float | None = None) -> None:
        """Start nothing more and wait for the informer threads (set `stop` first)."""
        with self._lock:
            self._shutting_down = True
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
