"""Recording Events: what `kubectl describe foo` shows under "Events:".

Mirrors client-go v0.37.2 `tools/record` (the `EventRecorder` interface,
`recorder.makeEvent`, the de-duplicating half of `events_cache.go`'s
`EventCorrelator`, and `fake.go`'s `FakeRecorder`), writing core/v1 Events.
`EventRecorder` is the one recorder protocol: sample-controller's controller
and leader election's Lease lock (`resourcelock.ResourceLockConfig`'s
`EventRecorder`) both take one.

Kept: an Event in the object's namespace named `<object>.<hex nanoseconds>`,
with `involvedObject` (kind, apiVersion, name, namespace, uid,
resourceVersion), `type` (Normal / Warning), `reason`, `message`,
`source.component`, `count`, first/last timestamps; a repeat of the same
event (same object, type, reason and message) PATCHes `count` and
`lastTimestamp` of the first instead of creating another, as the correlator
does, from a bounded cache. Recording is best effort: a failed write is
logged, never raised into the controller.
Left out: the broadcaster's goroutine and channel (we write synchronously,
on the caller's thread), similar-event aggregation ("combined from similar
events"), the spam filter's token bucket, the events.k8s.io/v1 API.
`FakeRecorder` is client-go's `record.FakeRecorder`: it keeps
"<type> <reason> <message>" strings.

`new_recorder(clientset, component)` stands for
`NewBroadcaster().NewRecorder(scheme, EventSource{Component: component})` with
`StartRecordingToSink` to the clientset's `core_v1().events`; it lives below
the client chain (it needs nothing of it but that shape), so leader election
can take a recorder without importing the `kubernetes` client.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from k8slab import errors

__all__ = ["EventRecorder", "FakeRecorder", "NORMAL", "WARNING", "new_recorder"]

log = logging.getLogger(__name__)

NORMAL = "Normal"  # corev1.EventTypeNormal
WARNING = "Warning"  # corev1.EventTypeWarning
MAX_CACHE_ENTRIES = 4096  # client-go's maxLruCacheEntries


class EventRecorder(Protocol):
    """client-go's `record.EventRecorder`: the one method its callers here use (`Event`)."""

    def event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None: ...


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_recorder(clientset: Any, component: str, host: str = "") -> EventRecorder:
    """A recorder writing core/v1 Events as `component` through `clientset.core_v1().events(ns)`."""
    return _Recorder(clientset, component, host)


class _Recorder:
    """Writes core/v1 Events through `clientset.core_v1().events(namespace)`."""

    def __init__(self, clientset: Any, component: str, host: str = "") -> None:
        self.clientset = clientset
        self.source = {"component": component, **({"host": host} if host else {})}
        self._lock = threading.Lock()
        # (namespace, uid or name, type, reason, message) -> (event name, count)
        self._seen: OrderedDict[tuple[str, ...], tuple[str, int]] = OrderedDict()

    def event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        key = (namespace, meta.get("uid") or meta.get("name", ""), event_type, reason, message)
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None:
                self._seen.move_to_end(key)
        events = self.clientset.core_v1().events(namespace)
        try:
            if seen is not None:
                name, count = seen
                try:
                    events.patch(name, {"count": count + 1, "lastTimestamp": _now()})
                    self._remember(key, name, count + 1)
                    return
                except errors.NotFound:
                    pass  # the Event expired (1 h TTL): start a new one
            created = events.create(self._make_event(obj, namespace, event_type, reason, message))
            self._remember(key, created["metadata"]["name"], 1)
        except Exception as exc:  # best effort, as client-go's sink (it retries, then drops)
            log.warning("could not record event %s %s on %s/%s: %s", event_type, reason, namespace,
                        meta.get("name"), exc)

    def _remember(self, key: tuple[str, ...], name: str, count: int) -> None:
        with self._lock:
            self._seen[key] = (name, count)
            self._seen.move_to_end(key)
            while len(self._seen) > MAX_CACHE_ENTRIES:
                self._seen.popitem(last=False)

    def _make_event(
        self, obj: dict[str, Any], namespace: str, event_type: str, reason: str, message: str
    ) -> dict[str, Any]:
        meta = obj.get("metadata", {})
        now = _now()
        involved = {
            "kind": obj.get("kind", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'event')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": dict(self.source),
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "reportingComponent": self.source["component"],
        }


class FakeRecorder:
    """Keeps "<type> <reason> <message>" strings in `events` (client-go's record.FakeRecorder)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        self.events.append(f"{event_type} {reason} {message}")
