"""Reading one watch into a store, and telling the reflector's errors apart.

Mirrors the half of client-go v0.37.2 `tools/cache/reflector.go` that works on
one watch: `handleAnyWatch` (with its two faces `handleWatch` and
`handleListWatch`), `VeryShortWatchError`, `isExpiredError`,
`isTooLargeResourceVersionError`, `isWatchErrorRetriable` and
`DefaultWatchErrorHandler`; split out of reflector.py to keep modules short.

Kept:
- Events reach the store as they come: ADDED -> add, MODIFIED -> update,
  DELETED -> delete, BOOKMARK -> `store.bookmark(rv)` if the store has one
  (client-go's optional `ReflectorBookmarkStore`: an atomic RealFIFO queues it,
  a plain store records it; a DeltaFIFO has none). An event the store refuses
  is logged and the watch moves on; only one whose metadata cannot be read is
  skipped. An ERROR event ends the watch with its Status as an `APIError`.
- After each event `set_rv(rv, event_received_besides_added)`: the reflector
  trusts an RV only once something other than an ADDED came, when its watch
  started at RV "" or "0" (whose initial ADDED events are in no RV order).
- With `exit_on_initial_events_end` (the streaming list), the read stops at
  the BOOKMARK annotated `k8s.io/initial-events-end: "true"` and the watch is
  left open for the reflector to keep reading.
- A watch that ends within a second with no event is `errors.VeryShortWatch`.
- The retry rule (v0.37.2's `isWatchErrorRetriable`): only "connection
  refused" (`errors.ServerUnreachable` with `connection_refused`) and 429 are
  worth re-watching from the same RV after a backoff; any other failure to
  open a watch (TLS, DNS, a timeout, ...) ends the cycle and the reflector
  relists.
Left out: the type/GVK and Table checks of event objects, the 10-second
"still waiting for the initial-events-end bookmark" warning ticker.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from k8slab import errors
from k8slab._clock import Clock
from k8slab.cache.pager import is_resource_expired
from k8slab.watch import ADDED, BOOKMARK, DELETED, ERROR, INITIAL_EVENTS_END, MODIFIED, Watch, status_error

__all__ = [
    "StopRequested", "VERY_SHORT_WATCH", "default_watch_error_handler", "handle_any_watch",
    "is_expired_error", "is_too_large_resource_version_error", "is_watch_error_retriable",
]

log = logging.getLogger("k8slab.cache.reflector")

VERY_SHORT_WATCH = 1.0  # seconds: a watch closing sooner, with no event, is an error

# apimachinery's knownReasons: a 504 with any other reason (even none) counts as a Timeout.
_KNOWN_REASONS = frozenset((
    "Unauthorized", "Forbidden", "NotFound", "AlreadyExists", "Conflict", "Gone", "Invalid", "ServerTimeout",
    "StorageReadError", "Timeout", "TooManyRequests", "BadRequest", "MethodNotAllowed", "NotAcceptable",
    "RequestEntityTooLarge", "UnsupportedMediaType", "InternalError", "Expired", "ServiceUnavailable",
))

SetRV = Callable[[str, bool], None]
"""set_rv(resource_version, event_received_besides_added), after every event."""


class StopRequested(Exception):
    """The stop event was set while a watch was read (client-go's errorStopRequested)."""


def handle_any_watch(w: Watch, store: Any, stop: threading.Event, start: float, name: str, set_rv: SetRV,
                     clock: Clock, exit_on_initial_events_end: bool = False) -> bool:
    """Apply the events of `w` to `store` until it ends; True if the initial-events-end bookmark came.

    Stops `w` on the way out unless it returns True for `exit_on_initial_events_end`
    (the watch stays open, to be read on). Raises `StopRequested` if `stop` is
    set, the ERROR event's `APIError`, or `errors.VeryShortWatch`.
    """
    keep_open = False
    try:
        if stop.is_set():
            raise StopRequested()
        initial_events_end = besides_added = False
        count = 0
        add, update, delete = store.add, store.update, store.delete  # the hot loop: no lookups per event
        bookmark = getattr(store, "bookmark", None)
        stopped = stop.is_set
        for event in w:  # a received event is applied; the stop is checked before the next one, as Go's select
            kind, obj = event["type"], event["object"]
            if kind == ERROR:
                raise status_error(event, f"watch of {name}")
            try:
                metadata = obj["metadata"]
                rv = metadata.get("resourceVersion", "")
            except Exception:
                log.exception("%s: unable to understand a %s watch event", name, kind)
                continue  # the only event skipped: one whose metadata cannot be read
            try:
                if kind == ADDED:
                    add(obj)
                elif kind == MODIFIED:
                    besides_added = True
                    update(obj)
                elif kind == DELETED:
                    besides_added = True
                    delete(obj)
                elif kind == BOOKMARK:
                    besides_added = True
                    if (metadata.get("annotations") or {}).get(INITIAL_EVENTS_END) == "true":
                        initial_events_end = True
                    if bookmark is not None:
                        bookmark(rv)
                else:
                    log.error("%s: unable to understand watch event type %r", name, kind)
            except Exception:  # logged, and the watch moves past it, as client-go's
                log.exception("%s: unable to apply a %s watch event to the store", name, kind)
            set_rv(rv, besides_added)
            count += 1
            if exit_on_initial_events_end and initial_events_end:
                keep_open = True
                return True
            if stopped():
                raise StopRequested()
        if stopped():
            raise StopRequested()
        if count == 0 and clock.now() - start < VERY_SHORT_WATCH:
            raise errors.VeryShortWatch(
                f"very short watch: {name}: unexpected watch close - watch lasted less than a second and no items received"
            )
        return initial_events_end
    finally:
        if not keep_open:
            w.stop()


def is_expired_error(err: BaseException) -> bool:
    """410 Gone or reason Expired: the RV is too old (client-go's isExpiredError)."""
    return is_resource_expired(err)


def is_too_large_resource_version_error(err: BaseException) -> bool:
    """The RV is newer than the server knows: the cause, or (before 1.18.6) a 504 Timeout's message."""
    if not isinstance(err, errors.APIError):
        return False
    causes = (err.status.get("details") or {}).get("causes") or []
    if any(c.get("reason") == "ResourceVersionTooLarge" for c in causes):
        return True
    if not (err.reason == "Timeout" or (err.code == 504 and err.reason not in _KNOWN_REASONS)):
        return False  # apierrors.IsTimeout
    too_large = "Too large resource version"
    return any(c.get("message") == too_large for c in causes) or too_large in str(err.status.get("message", ""))


def is_watch_error_retriable(err: BaseException) -> bool:
    """Re-watch from the same RV after a backoff, without relisting? Only for connection refused and 429.

    A refused connection means the API server is (re)starting where it was;
    anything else that kept the watch from opening ends the cycle, and the
    reflector relists.
    """
    if isinstance(err, errors.ServerUnreachable):
        return err.connection_refused
    return isinstance(err, errors.TooManyRequests)


def default_watch_error_handler(reflector: Any, err: Exception) -> None:
    """Log why a list-and-watch cycle ended (client-go's DefaultWatchErrorHandler)."""
    if is_expired_error(err):
        log.debug("%s: watch of %s closed with: %s", reflector.name, reflector.expected_type, err)
    else:
        log.warning("%s: failed to list/watch %s: %s", reflector.name, reflector.expected_type, err)
