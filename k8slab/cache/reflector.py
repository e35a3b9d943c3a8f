"""The Reflector: keeps a Store in step with the API server by listing (or streaming), then watching.

Mirrors client-go v0.37.2 `tools/cache/reflector.go`; reading one watch and
classifying errors live in reflector_watch.py. It lists through `pager.py`,
calls a `ListerWatcher` (listwatch_types.py) and reads a `k8slab.watch.Watch`:
it knows no HTTP. Every wait is on the injected clock.

Kept, with client-go's reasons:
- The initial state: by default (WatchListClient, on since 1.35) a streaming
  list, a watch with send_initial_events, resource_version_match NotOlderThan
  and bookmarks, from the last synced RV ("" at first: a consistent snapshot),
  read into a temporary store until the BOOKMARK annotated
  `k8s.io/initial-events-end`, then one `store.replace` at the bookmark's RV;
  the same watch then goes on. A stream that ends before that bookmark is
  opened again; connection refused or 429 back off and retry; "expired" or
  "too large RV" retry at RV "". Any other failure (a server that cannot
  stream answers 422 Invalid, "sendInitialEvents is forbidden") falls back,
  for this cycle, to a LIST. A lister-watcher whose
  `is_watch_list_semantics_unsupported()` returns True never streams (client-go's
  `watchlist.DoesClientNotSupportWatchListSemantics`).
- The LIST: RV "0" first (any cached state: cheap, maybe stale), then the last
  synced RV; "" (a consistent etcd read) only after an "expired" or "too
  large RV" error, retried at once. Pages of 500 when the RV is "" or "0"
  (and always once an RV "0" list came back paginated); none at a specific
  RV, so the watch cache can answer. An expired continue token falls back to
  one full list (pager.py).
- The watch: from the last synced RV with bookmarks and a timeout drawn from
  [5, 10) minutes (or [m, 2m) for a `min_watch_timeout` m above 5 minutes). A
  BOOKMARK moves the RV and reaches the store (`store.bookmark`, for an atomic
  RealFIFO a Bookmark delta). From RV "" or "0" the RV is trusted only after
  something other than an ADDED came. A watch that ends is re-opened from
  there without a relist, unless it lasted under a second with no event
  (`errors.VeryShortWatch`). Re-watching without relisting after a backoff
  happens only for connection refused and 429 (`is_watch_error_retriable`):
  a watch ended by an ERROR event (410 Gone included) or by any other error
  ends the cycle, and so does a failure to open the watch, which is also
  handed to the watch error handler; `run` then waits one backoff step and
  relists. Backoff 0.8 s -> 30 s, factor 2, jitter 1.0, reset after 2 quiet
  minutes.
- Resync makes no API call: every `resync_period`, `store.resync()`.
What changed since v0.32: streaming lists by default (v0.32 had them off);
bookmarks reach the store; the RV of a watch from "" or "0" is held back past
the initial ADDED events; re-watching on any unreachable server (TLS, DNS,
timeouts) is k8slab's old rule, not client-go's: only connection refused is.
Left out: type/GVK checks of event objects, retrying internal errors
(`MaxInternalErrorRetryDuration`, off by default), the data-consistency
detector, metrics, custom backoffs, abandoning a list in progress on stop.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any, Callable

from k8slab import errors
from k8slab._clock import REAL_CLOCK, Clock, sleep_or_stop
from k8slab.cache import _wait
from k8slab.cache.listwatch_types import ListerWatcher
from k8slab.cache.pager import PAGE_SIZE, list_pages
from k8slab.cache.reflector_watch import (
    StopRequested, default_watch_error_handler, handle_any_watch, is_expired_error,
    is_too_large_resource_version_error, is_watch_error_retriable,
)
from k8slab.cache.store import deletion_handling_meta_namespace_key_func, meta_namespace_key_func
from k8slab.watch import INITIAL_EVENTS_END, Watch

__all__ = ["INITIAL_EVENTS_END_ANNOTATION", "ListerWatcher", "Reflector", "Watch", "default_watch_error_handler"]

log = logging.getLogger(__name__)

# Defaults, in one place (client-go's values).
MIN_WATCH_TIMEOUT = 300.0  # watch timeout is random in [5, 10) minutes; smaller minimums are not honoured
BACKOFF = dict(initial=0.8, cap=30.0, reset_after=120.0, factor=2.0, jitter=1.0)
INITIAL_EVENTS_END_ANNOTATION = INITIAL_EVENTS_END  # the name k8slab.cache.testing imports

WatchErrorHandler = Callable[["Reflector", Exception], None]
"""Called with the reflector and the error whenever a list-and-watch cycle fails."""


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


class _StreamedState:
    """The streaming list's temporary store (client-go's `NewStore` in watchList): key -> object.

    A plain dict: one thread writes it and nobody else reads it until the
    initial events are in, so it needs neither lock nor indices.
    """

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self._key = deletion_handling_meta_namespace_key_func

    def add(self, obj: Any) -> None:
        self.items[meta_namespace_key_func(obj) if type(obj) is dict else self._key(obj)] = obj

    update = add

    def delete(self, obj: Any) -> None:
        self.items.pop(self._key(obj), None)

    def list(self) -> list[Any]:
        return list(self.items.values())


class Reflector:
    """Lists and watches one resource into `store`. `expected_type` names it in logs.

    `use_watch_list`: None (the default) streams the initial list, as client-go
    v0.37.2 does, unless the lister-watcher says it cannot; False always LISTs.
    """

    def __init__(self, lister_watcher: ListerWatcher, expected_type: str, store: Any, resync_period: float = 0.0,
                 *, name: str = "", clock: Clock = REAL_CLOCK, use_watch_list: bool | None = None,
                 watch_list_page_size: int = 0, should_resync: Callable[[], bool] | None = None,
                 min_watch_timeout: float = 0.0, rand: Callable[[], float] = random.random) -> None:
        self.name = name or f"reflector({expected_type or 'unspecified'})"
        self.expected_type = expected_type
        self.resync_period = resync_period
        unsupported = getattr(lister_watcher, "is_watch_list_semantics_unsupported", None)
        self.use_watch_list = use_watch_list is not False and not (unsupported is not None and unsupported())
        self.watch_list_page_size = watch_list_page_size
        self.should_resync = should_resync
        self.min_watch_timeout = max(min_watch_timeout, MIN_WATCH_TIMEOUT)
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
        """One cycle: stream (or list) everything, then watch until the watch must be rebuilt.

        Raises what kept the cycle from watching at all (a failed list, a watch
        that could not be opened); returns when a watch ended for a relist, or on stop.
        """
        if stop.is_set():
            return
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
                    log.debug("%s: data could not be streamed, falling back to a LIST: %s", self.name, err)
            if w is None:
                self._list(stop)
                if stop.is_set():
                    return
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

    def _list(self, stop: threading.Event) -> None:
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
            if not (is_expired_error(err) or is_too_large_resource_version_error(err)):
                raise
            self._set_unavailable(True)  # retry at once with RV "": a consistent read
            options = {"resource_version": self._relist_resource_version()}
            result, paginated = list_pages(self._lw.list, options, page_size)
        if stop.is_set():
            return  # client-go abandons a list that outlived its context
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
            from_start = True  # a streamed watch is past its initial events already
            if w is None:
                options = {"resource_version": self.last_sync_resource_version(),
                           "timeout_seconds": self._watch_timeout(), "allow_watch_bookmarks": True}
                from_start = options["resource_version"] not in ("", "0")
                try:
                    w = self._lw.watch(options)
                except Exception as err:
                    if not is_watch_error_retriable(err):
                        raise
                    log.debug("%s: watch failed with %s, backing off", self.name, err)
                    if self._back_off(stop):
                        return
                    continue
            cycle.open(w)

            def set_rv(rv: str, besides_added: bool) -> None:
                if from_start or besides_added:
                    self._set_last_sync_rv(rv)

            try:
                handle_any_watch(w, self._store, stop, start, self.name, set_rv, self._clock)
                error: Exception | None = None
            except Exception as err:
                error = err
            w = None
            if cycle.resync_failed or isinstance(error, StopRequested):
                return
            if error is None:
                continue  # ended normally: watch again from the last RV, no relist
            if is_expired_error(error):
                log.debug("%s: watch closed with %s; will relist", self.name, error)
                return
            if isinstance(error, errors.TooManyRequests):
                log.debug("%s: watch returned 429, backing off", self.name)
                if self._back_off(stop):
                    return
                continue
            log.warning("%s: watch of %s ended with: %s", self.name, self.expected_type, error)
            return

    def _watch_list(self, stop: threading.Event, cycle: _Cycle) -> Watch | None:
        """Stream the initial state into a temporary store; returns the still-open watch."""
        while True:
            if stop.is_set():
                return None
            temporary = _StreamedState()
            streamed_rv = ""

            def set_rv(rv: str, besides_added: bool) -> None:
                nonlocal streamed_rv
                if besides_added:
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
                if handle_any_watch(w, temporary, stop, start, self.name, set_rv, self._clock,
                                    exit_on_initial_events_end=True):
                    break
            except StopRequested:
                return None
            except Exception as err:
                if self._retry_watch_list(err, stop):
                    continue
                raise
            # The stream ended before the initial events did: start over.
        self._set_unavailable(False)
        self._store.replace(temporary.list(), streamed_rv)
        self._set_last_sync_rv(streamed_rv)
        return w

    def _retry_watch_list(self, err: Exception, stop: threading.Event) -> bool:
        if is_watch_error_retriable(err):
            log.debug("%s: watch-list failed with %s, backing off", self.name, err)
            self._back_off(stop)
            return True
        if is_expired_error(err) or is_too_large_resource_version_error(err):
            self._set_unavailable(True)  # stream a consistent snapshot instead (RV "")
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
        return int(self.min_watch_timeout * (self._rand() + 1.0))
