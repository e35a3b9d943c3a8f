"""The Reflector: keeps a Store in step with the API server by listing, then watching.

Mirrors client-go v0.32 `tools/cache/reflector.go`. It lists through
`pager.py`, calls a `ListerWatcher` (listwatch_types.py) and reads a
`k8slab.watch.Watch`: it knows no HTTP. Every wait is on the injected clock.

Kept, with client-go's reasons:
- List RV: "0" first (any cached state: cheap, maybe stale), then the last
  synced RV; "" (a consistent etcd read) only after an "expired" or "too
  large RV" error, retried at once.
- Pages of 500 when the RV is "" or "0" (and always once an RV "0" list came
  back paginated); none at a specific RV, so the watch cache can answer. An
  expired continue token falls back to one full list (pager.py).
- Watch from the last synced RV with bookmarks and a timeout drawn from
  [5, 10) minutes. A BOOKMARK only moves the RV; so does an event the store
  refuses (logged): only one whose metadata cannot be read is skipped. A
  watch that ends is re-opened from there without a relist, unless it lasted
  under a second with no event (`errors.VeryShortWatch`). 410 Gone ends the cycle and `run` relists;
  an unreachable server or a 429 backs off and re-watches. Backoff 0.8 s ->
  30 s, factor 2, jitter 1.0, reset after 2 quiet minutes; `run` also waits
  one step between cycles.
- Resync makes no API call: every `resync_period`, `store.resync()`.
- WatchList (off by default, as in v0.32): a watch with send_initial_events
  and NotOlderThan into a temporary store until the bookmark annotated
  `k8s.io/initial-events-end`, then one `replace`; on error, list instead.
Left out: type/GVK checks of event objects, retrying internal errors, the
data-consistency detector, metrics, abandoning a list in progress on stop.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Callable

from k8slab import errors
from k8slab._clock import REAL_CLOCK, Clock, sleep_or_stop
from k8slab.cache import _wait
from k8slab.cache.listwatch_types import ListerWatcher
from k8slab.cache.pager import PAGE_SIZE, is_resource_expired, list_pages
from k8slab.cache.store import Store, deletion_handling_meta_namespace_key_func, new_store
from k8slab.watch import ADDED, BOOKMARK, DELETED, ERROR, INITIAL_EVENTS_END, MODIFIED, Watch, status_error

__all__ = ["ListerWatcher", "Reflector", "Watch", "INITIAL_EVENTS_END_ANNOTATION"]

log = logging.getLogger(__name__)

# Defaults, in one place (client-go's values).
MIN_WATCH_TIMEOUT = 300.0  # watch timeout is random in [5, 10) minutes
BACKOFF = dict(initial=0.8, cap=30.0, reset_after=120.0, factor=2.0, jitter=1.0)
VERY_SHORT_WATCH = 1.0  # a watch closing sooner, with no event, is an error
INITIAL_EVENTS_END_ANNOTATION = INITIAL_EVENTS_END  # the name k8slab.cache.testing imports


WatchErrorHandler = Callable[["Reflector", Exception], None]
"""Called with the reflector and the error whenever a list-and-watch cycle fails."""


class _StopRequested(Exception):
    """The stop event was set while a watch was being read."""


class _Cycle:
    """What one list_and_watch call shares with its supervisor thread."""

    def __init__(self) -> None:
        self.done = threading.Event()  # the cycle has ended
        self.watching = threading.Event()  # the watch phase has begun: resyncs may start
        self.lock = threading.Lock()
        self.watch: Watch | None = None
        self.stopping = False
        self.resync_from = 0.0  # the clock's time when the watch phase began
        self.resync_failed = False

    def start_watching(self, now: float) -> None:
        self.resync_from = now
        self.watching.set()

    def open(self, w: Watch) -> None:
        with self.lock:
            self.watch = w
            stopping = self.stopping
        if stopping:
            w.stop()

    def stop_watch(self) -> None:
        with self.lock:
            self.stopping = True
            w = self.watch
        if w is not None:
            w.stop()


class Reflector:
    """Lists and watches one resource into `store`. `expected_type` names it in logs."""

    def __init__(self, lister_watcher: ListerWatcher, expected_type: str, store: Store, resync_period: float = 0.0,
                 *, name: str = "", clock: Clock = REAL_CLOCK, use_watch_list: bool = False,
                 watch_list_page_size: int = 0, should_resync: Callable[[], bool] | None = None,
                 rand: Callable[[], float] = random.random) -> None:
        self.name = name or f"reflector({expected_type or 'unspecified'})"
        self.expected_type = expected_type
        self.resync_period = resync_period
        self.use_watch_list = use_watch_list
        self.watch_list_page_size = watch_list_page_size
        self.should_resync = should_resync
        self.watch_error_handler: WatchErrorHandler = default_watch_error_handler
        self._lw = lister_watcher
        self._store = store
        self._clock = clock
        self._rand = rand
        self._backoff = _wait.ExponentialBackoff(**BACKOFF, clock=clock, rand=rand)
        self._rv_lock = threading.Lock()
        self._last_sync_resource_version = ""
        self._last_sync_rv_unavailable = False  # the last list/watch said "expired" or "too large"
        self._paginated_result = False

    # -- public ----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set, waiting one backoff step between cycles."""
        log.debug("starting %s", self.name)
        while not stop.is_set():
            try:
                self.list_and_watch(stop)
            except Exception as err:
                self.watch_error_handler(self, err)
            if self._back_off(stop):
                break
        log.debug("stopping %s", self.name)

    def list_and_watch(self, stop: threading.Event) -> None:
        """One cycle: list (or stream) everything, then watch until the watch must be rebuilt."""
        cycle = _Cycle()
        name = f"k8slab-{self.name}-supervisor"
        supervisor = threading.Thread(target=self._supervise, args=(stop, cycle), name=name, daemon=True)
        supervisor.start()
        try:
            w = None
            if self.use_watch_list:
                try:
                    w = self._watch_list(stop, cycle)
                    if w is None:
                        return  # stopped
                except Exception as err:
                    log.warning("%s: watch-list failed, falling back to list: %s", self.name, err)
            if w is None:
                self._list()
            cycle.start_watching(self._clock.now())
            self._watch(w, stop, cycle)
        finally:
            cycle.done.set()
            supervisor.join(timeout=5)

    def last_sync_resource_version(self) -> str:
        """The RV of the last list, event or bookmark applied to the store."""
        with self._rv_lock:
            return self._last_sync_resource_version

    # -- list ------------------------------------------------------------------

    def _list(self) -> None:
        rv = self._relist_resource_version()
        if self.watch_list_page_size:
            page_size = self.watch_list_page_size
        elif self._paginated_result:
            page_size = PAGE_SIZE  # the server paginates this resource: keep doing so
        elif rv not in ("", "0"):
            page_size = 0  # let the watch cache answer; it only can without a limit
        else:
            page_size = PAGE_SIZE
        try:
            result, paginated = list_pages(self._lw.list, {"resource_version": rv}, page_size)
        except Exception as err:
            if not (is_resource_expired(err) or _is_too_large_resource_version(err)):
                raise
            self._set_unavailable(True)  # retry at once with RV "": a consistent read
            options = {"resource_version": self._relist_resource_version()}
            result, paginated = list_pages(self._lw.list, options, page_size)
        if rv == "0" and paginated:
            self._paginated_result = True
        self._set_unavailable(False)
        new_rv = (result.get("metadata") or {}).get("resourceVersion", "")
        self._store.replace(result.get("items") or [], new_rv)
        self._set_last_sync_rv(new_rv)

    # -- watch -----------------------------------------------------------------

    def _watch(self, w: Watch | None, stop: threading.Event, cycle: _Cycle) -> None:
        """Watch from the last synced RV, re-opening the watch until it must relist."""
        while True:
            if stop.is_set():
                if w is not None:
                    w.stop()
                return
            start = self._clock.now()
            if w is None:
                options = {"resource_version": self.last_sync_resource_version(),
                           "timeout_seconds": self._watch_timeout(), "allow_watch_bookmarks": True}
                try:
                    w = self._lw.watch(options)
                except Exception as err:
                    if not _is_retriable(err):
                        raise
                    log.debug("%s: watch failed with %s, backing off", self.name, err)
                    if self._back_off(stop):
                        return
                    continue
            cycle.open(w)
            error: Exception | None = None
            try:
                self._handle_watch(w, self._store, stop, self._set_last_sync_rv, start)
            except Exception as err:
                error = err
            finally:
                w.stop()
                w = None
            if cycle.resync_failed or isinstance(error, _StopRequested):
                return
            if error is None:
                continue  # ended normally: watch again from the last RV, no relist
            if is_resource_expired(error):
                log.debug("%s: watch closed with %s; will relist", self.name, error)
                return
            if isinstance(error, errors.TooManyRequests):
                if self._back_off(stop):
                    return
                continue
            log.warning("%s: watch of %s ended with: %s", self.name, self.expected_type, error)
            return

    def _handle_watch(self, w: Watch, store: Store, stop: threading.Event, set_rv: Callable[[str], None],
                      start: float, exit_on_initial_end: bool = False) -> bool:
        """Apply events to `store` until the watch ends; True if initial-events-end came."""
        count = 0
        initial_events_end = False
        for event in w:
            if stop.is_set():
                raise _StopRequested()
            kind, obj = event["type"], event["object"]
            if kind == ERROR:
                raise status_error(event, f"watch of {self.expected_type}")
            try:
                metadata = obj["metadata"]
                rv = metadata.get("resourceVersion", "")
            except Exception:
                log.exception("%s: unable to understand a %s watch event", self.name, kind)
                continue  # the only event skipped: one whose metadata cannot be read
            try:
                if kind == ADDED:
                    store.add(obj)
                elif kind == MODIFIED:
                    store.update(obj)
                elif kind == DELETED:
                    store.delete(obj)
                elif kind == BOOKMARK:
                    annotations = metadata.get("annotations") or {}
                    if annotations.get(INITIAL_EVENTS_END) == "true":
                        initial_events_end = True
                else:
                    log.error("%s: unable to understand watch event type %r", self.name, kind)
            except Exception:  # logged, and the watch moves past it, as client-go's
                log.exception("%s: unable to apply a %s watch event to the store", self.name, kind)
            set_rv(rv)
            count += 1
            if exit_on_initial_end and initial_events_end:
                return True
        if stop.is_set():
            raise _StopRequested()
        if count == 0 and self._clock.now() - start < VERY_SHORT_WATCH:
            raise errors.VeryShortWatch(f"very short watch: {self.name}: closed within a second, no event came")
        return initial_events_end

    def _watch_list(self, stop: threading.Event, cycle: _Cycle) -> Watch | None:
        """Stream the initial state into a temporary store; returns the still-open watch."""
        while True:
            if stop.is_set():
                return None
            temporary = new_store(deletion_handling_meta_namespace_key_func)
            streamed_rv = ""

            def set_rv(rv: str) -> None:
                nonlocal streamed_rv
                streamed_rv = rv

            options = {
                "resource_version": self._rewatch_resource_version(),
                "allow_watch_bookmarks": True,
                "send_initial_events": True,
                "resource_version_match": "NotOlderThan",
                "timeout_seconds": self._watch_timeout(),
            }
            start = self._clock.now()
            try:
                w = self._lw.watch(options)
            except Exception as err:
                if self._retry_watch_list(err, stop):
                    continue
                raise
            cycle.open(w)
            try:
                if self._handle_watch(w, temporary, stop, set_rv, start, exit_on_initial_end=True):
                    break
                w.stop()  # ended before the initial events did: start over
            except _StopRequested:
                w.stop()
                return None
            except Exception as err:
                w.stop()
                if self._retry_watch_list(err, stop):
                    continue
                raise
        self._set_unavailable(False)
        self._store.replace(temporary.list(), streamed_rv)
        self._set_last_sync_rv(streamed_rv)
        return w

    def _retry_watch_list(self, err: Exception, stop: threading.Event) -> bool:
        if _is_retriable(err):
            self._back_off(stop)
            return True
        if is_resource_expired(err) or _is_too_large_resource_version(err):
            self._set_unavailable(True)
            return True
        return False

    def _supervise(self, stop: threading.Event, cycle: _Cycle) -> None:
        """Go's `select` on the stop channel and `startResync`'s timer, one thread per cycle.

        Stops the open watch once `stop` is set; from the start of the watch
        phase calls `store.resync()` every `resync_period` of the clock's time
        (no API call). A resync that raises ends the watch, and the cycle.
        """
        clock = self._clock
        clock.wait_until(None, stop, cycle.done, cycle.watching)
        if self.resync_period > 0 and cycle.watching.is_set():
            next_resync = cycle.resync_from + self.resync_period
            while not clock.wait_until(next_resync, stop, cycle.done):
                if self.should_resync is None or self.should_resync():
                    try:
                        self._store.resync()
                    except Exception:
                        log.exception("%s: resync failed; ending the watch", self.name)
                        cycle.resync_failed = True
                        cycle.stop_watch()
                        return
                next_resync = clock.now() + self.resync_period
        clock.wait_until(None, stop, cycle.done)
        if stop.is_set():
            cycle.stop_watch()

    # -- resource versions -----------------------------------------------------

    def _set_last_sync_rv(self, rv: str) -> None:
        with self._rv_lock:
            self._last_sync_resource_version = rv

    def _relist_resource_version(self) -> str:
        with self._rv_lock:
            if self._last_sync_rv_unavailable:
                return ""
            return self._last_sync_resource_version or "0"

    def _rewatch_resource_version(self) -> str:
        with self._rv_lock:
            return "" if self._last_sync_rv_unavailable else self._last_sync_resource_version

    def _set_unavailable(self, unavailable: bool) -> None:
        with self._rv_lock:
            self._last_sync_rv_unavailable = unavailable

    def _back_off(self, stop: threading.Event) -> bool:
        """Wait one backoff step of the clock's time; True if `stop` came first."""
        return sleep_or_stop(self._clock, stop, self._backoff.next_delay())

    def _watch_timeout(self) -> int:
        return int(MIN_WATCH_TIMEOUT * (self._rand() + 1.0))


def default_watch_error_handler(reflector: Reflector, err: Exception) -> None:
    """Log why a list-and-watch cycle ended (client-go's DefaultWatchErrorHandler)."""
    if is_resource_expired(err):
        log.debug("%s: watch of %s closed with: %s", reflector.name, reflector.expected_type, err)
    else:
        log.warning("%s: failed to list/watch %s: %s", reflector.name, reflector.expected_type, err)


def _is_too_large_resource_version(err: BaseException) -> bool:
    if not isinstance(err, errors.APIError):
        return False
    causes = (err.status.get("details") or {}).get("causes") or []
    if any(c.get("reason") == "ResourceVersionTooLarge" for c in causes):
        return True
    too_large = "Too large resource version"  # API servers before 1.18.6 set no cause, only this message
    in_message = too_large in str(err.status.get("message", ""))
    return err.code == 504 and (in_message or any(c.get("message") == too_large for c in causes))


def _is_retriable(err: BaseException) -> bool:
    return isinstance(err, (errors.ServerUnreachable, errors.TooManyRequests))
