"""A fake API server for one resource: list, watch, and the faults a cache must survive.

Mirrors client-go v0.32 `tools/cache/testing/fake_controller_source.go`
(`FakeControllerSource`), grown a little for teaching.

Kept: an in-memory set of objects; every `add`/`modify`/`delete` takes the
next resourceVersion (1, 2, 3, ...) and is remembered, so a watch from an
older RV replays the changes after it and then streams live ones; a watch
from RV "" or "0" starts with an ADDED event per object, as the API server
does; lost events (`drop_next_event`, client-go's `*DropWatch`), reset
connections (`reset_watches`, client-go's `ResetWatch`), a failing list.
Added for teaching: `limit`/`continue_` paging over a snapshot; compaction
(`compact`, `expire_before`) after which a list at an older RV raises
`errors.Gone` and a watch from one gets an ERROR event with a 410 Status, as
from a real server's watch cache (the fake is stricter than a real server,
which serves a list at an old RV from its cache; that lets you see the
reflector fall back to RV ""); bookmarks on request (`send_bookmark`);
`expire_watches` (410 on every open watch) and `send_error`; the streaming
initial list (`send_initial_events`); `advance_resource_version` (another
resource changed: RVs are cluster-wide); a record of every call
(`list_calls`, `watch_calls`).
Left out: label and field selectors, watch timeouts (a watch lasts until
stopped or reset), "too large resource version" answers.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from typing import Any, Iterator

from k8slab import errors
from k8slab.cache.reflector import INITIAL_EVENTS_END_ANNOTATION
from k8slab.cache.store import deep_copy, meta_namespace_key_func

__all__ = ["FakeSource", "FakeWatch", "config_map"]


def config_map(
    name: str,
    namespace: str = "default",
    data: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A small ConfigMap dict, handy for notebooks and tests."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(data or {})}


class FakeWatch:
    """One open watch on a FakeSource. Iterate it for events; `stop()` ends it."""

    def __init__(self, source: FakeSource, options: dict[str, Any]) -> None:
        self.options = dict(options)
        self.wants_bookmarks = bool(options.get("allow_watch_bookmarks"))
        self._source = source
        self._cond = threading.Condition()
        self._events: deque[dict[str, Any]] = deque()
        self._ended = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            with self._cond:
                while not self._events and not self._ended:
                    self._cond.wait()
                if not self._events:
                    return
                event = self._events.popleft()
            yield event

    def stop(self) -> None:
        """The client hangs up: anything not yet read is discarded."""
        with self._cond:
            self._ended = True
            self._events.clear()
            self._cond.notify_all()
        self._source._forget(self)

    def drain(self) -> list[dict[str, Any]]:
        """The events sent but not read yet, without waiting (for notebooks and tests)."""
        with self._cond:
            events, self._events = list(self._events), deque()
            return events

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended and not self._events

    def _send(self, kind: str, obj: dict[str, Any]) -> None:
        with self._cond:
            if not self._ended:
                self._events.append({"type": kind, "object": deep_copy(obj)})
                self._cond.notify_all()

    def _close(self) -> None:
        """The server ends the stream: events already sent can still be read."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()


class FakeSource:
    """An in-memory API server for one resource, implementing the ListerWatcher protocol.

        source = FakeSource()
        source.add(config_map("a"))        # resourceVersion "1"
        informer = SharedIndexInformer(source, "configmaps")
    """

    def __init__(
        self, kind: str = "ConfigMap", api_version: str = "v1", *, resource: str = "configmaps"
    ) -> None:
        self.kind, self.api_version, self.resource = kind, api_version, resource
        self.list_calls: list[dict[str, Any]] = []  # the options of every list call, in order
        self.watch_calls: list[dict[str, Any]] = []  # the options of every watch call, in order
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}  # key -> object (never mutated once stored)
        self._changes: list[tuple[int, str, dict[str, Any]]] = []  # (rv, event type, object)
        self._rv = 0
        self._compacted_rv = 0  # a list or watch at an RV below this gets 410 Gone
        self._snapshots: dict[int, list[dict[str, Any]]] = {}  # list RV -> objects, for paging
        self._watches: set[FakeWatch] = set()
        self._drop_next = 0
        self._list_errors: list[Exception] = []
        self._watch_errors: list[Exception] = []

    # -- changing the objects --------------------------------------------------

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object; returns it as stored (with resourceVersion and uid)."""
        return self._change("ADDED", obj)

    def modify(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an existing object; returns it as stored."""
        return self._change("MODIFIED", obj)

    def delete(self, obj: dict[str, Any] | str) -> dict[str, Any]:
        """Delete an object (given as a dict or a "ns/name" key); returns its final state."""
        return self._change("DELETED", obj)

    def advance_resource_version(self, by: int = 1) -> str:
        """Other resources changed: the cluster-wide RV moves on with no event here."""
        with self._lock:
            self._rv += by
            return str(self._rv)

    @property
    def resource_version(self) -> str:
        """The RV of the latest change (what a list would return now)."""
        with self._lock:
            return str(self._rv)

    def objects(self) -> list[dict[str, Any]]:
        """Copies of the current objects, sorted by key."""
        with self._lock:
            return [deep_copy(self._items[k]) for k in sorted(self._items)]

    # -- faults ----------------------------------------------------------------

    def drop_next_event(self, count: int = 1) -> None:
        """The next `count` changes happen, but open watches never hear of them."""
        with self._lock:
            self._drop_next += count

    def reset_watches(self) -> None:
        """A connection reset: every open watch ends (after the events already sent)."""
        with self._lock:
            watches, self._watches = list(self._watches), set()
        for w in watches:
            w._close()

    def expire_watches(self) -> None:
        """Every open watch gets an ERROR event carrying a 410 Status, then ends."""
        self.send_error(410, "Expired", f"too old resource version (now {self.resource_version})")

    def send_error(self, code: int, reason: str, message: str = "") -> None:
        """Every open watch gets an ERROR event carrying this Status (e.g. 429), then ends."""
        status = self._status(code, reason, message or reason)
        with self._lock:
            watches, self._watches = list(self._watches), set()
        for w in watches:
            w._send("ERROR", status)
            w._close()

    @property
    def open_watches(self) -> int:
        """How many watches are open now."""
        with self._lock:
            return len(self._watches)

    def compact(self) -> None:
        """Forget the history: lists and watches at any RV older than now answer 410."""
        with self._lock:
            rv = self._rv
        self.expire_before(rv)

    def expire_before(self, rv: int | str) -> None:
        """Forget the history before `rv`: lists and watches at an older RV answer 410."""
        with self._lock:
            self._compacted_rv = max(self._compacted_rv, int(rv))
            self._changes = [c for c in self._changes if c[0] > self._compacted_rv]
            self._snapshots = {k: v for k, v in self._snapshots.items() if k >= self._compacted_rv}

    def fail_next_list(self, error: Exception | None = None) -> None:
        """The next list raises `error` (default: the server is unreachable)."""
        with self._lock:
            self._list_errors.append(error or errors.ServerUnreachable("connection refused"))

    def fail_next_watch(self, error: Exception | None = None) -> None:
        """The next watch call raises `error` (default: the server is unreachable)."""
        with self._lock:
            self._watch_errors.append(error or errors.ServerUnreachable("connection refused"))

    def send_bookmark(self) -> str:
        """A BOOKMARK at the current RV to every watch that allowed them; returns the RV."""
        with self._lock:
            bookmark = self._bookmark_locked(initial_events_end=False)
            for w in self._watches:
                if w.wants_bookmarks:
                    w._send("BOOKMARK", bookmark)
            return str(self._rv)

    # -- the ListerWatcher protocol --------------------------------------------

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        """A List object; honours resource_version, limit and continue_."""
        rv = str(options.get("resource_version") or "")
        token = options.get("continue_") or ""
        limit = int(options.get("limit") or 0)
        with self._lock:
            self.list_calls.append(dict(options))
            if self._list_errors:
                raise self._list_errors.pop(0)
            if token:
                decoded = json.loads(base64.urlsafe_b64decode(token))
                list_rv, start = decoded["rv"], decoded["start"]
                if list_rv < self._compacted_rv or list_rv not in self._snapshots:
                    raise self._gone("the continue token is too old; list again without it")
                objects = self._snapshots[list_rv]
            else:
                if rv not in ("", "0") and int(rv) < self._compacted_rv:
                    raise self._gone(f"too old resource version: {rv} ({self._compacted_rv})")
                list_rv, start = self._rv, 0
                objects = [self._items[k] for k in sorted(self._items)]
            page = objects[start : start + limit] if limit else objects[start:]
            metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if limit and start + len(page) < len(objects):
                self._snapshots[list_rv] = objects
                next_token = json.dumps({"rv": list_rv, "start": start + len(page)}).encode()
                metadata["continue"] = base64.urlsafe_b64encode(next_token).decode()
            items = [deep_copy(o) for o in page]
        kind = f"{self.kind}List"
        return {"apiVersion": self.api_version, "kind": kind, "metadata": metadata, "items": items}

    def watch(self, options: dict[str, Any]) -> FakeWatch:
        """A watch; replays history after resource_version, then streams live changes."""
        rv = str(options.get("resource_version") or "")
        w = FakeWatch(self, options)
        with self._lock:
            self.watch_calls.append(dict(options))
            if self._watch_errors:
                raise self._watch_errors.pop(0)
            if options.get("send_initial_events"):
                for key in sorted(self._items):
                    w._send("ADDED", self._items[key])
                w._send("BOOKMARK", self._bookmark_locked(initial_events_end=True))
            elif rv in ("", "0"):
                for key in sorted(self._items):
                    w._send("ADDED", self._items[key])
            elif int(rv) < self._compacted_rv:
                message = f"too old resource version: {rv} ({self._compacted_rv})"
                w._send("ERROR", self._status(410, "Expired", message))
                w._close()
                return w
            else:
                for change_rv, kind, obj in self._changes:
                    if change_rv > int(rv):
                        w._send(kind, obj)
            self._watches.add(w)
        return w

    # -- helpers ---------------------------------------------------------------

    def _change(self, kind: str, obj: dict[str, Any] | str) -> dict[str, Any]:
        with self._lock:
            key = obj if isinstance(obj, str) else meta_namespace_key_func(obj)
            old = self._items.get(key)
            if kind == "ADDED" and old is not None:
                message = f'{self.resource} "{key}" already exists'
                raise errors.AlreadyExists(message, code=409, reason="AlreadyExists")
            if kind != "ADDED" and old is None:
                message = f'{self.resource} "{key}" not found'
                raise errors.NotFound(message, code=404, reason="NotFound")
            stored = deep_copy(old if kind == "DELETED" else obj)
            self._rv += 1
            stored.setdefault("apiVersion", self.api_version)
            stored.setdefault("kind", self.kind)
            metadata = stored.setdefault("metadata", {})
            metadata["resourceVersion"] = str(self._rv)
            new_uid = f"00000000-0000-4000-8000-{self._rv:012d}"
            metadata["uid"] = old["metadata"]["uid"] if old else new_uid
            if kind == "DELETED":
                del self._items[key]
            else:
                self._items[key] = stored
            self._changes.append((self._rv, kind, stored))
            if self._drop_next:
                self._drop_next -= 1
            else:
                for w in self._watches:
                    w._send(kind, stored)
            return deep_copy(stored)

    def _forget(self, w: FakeWatch) -> None:
        with self._lock:
            self._watches.discard(w)

    def _bookmark_locked(self, initial_events_end: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END_ANNOTATION: "true"}
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata}

    @staticmethod
    def _status(code: int, reason: str, message: str) -> dict[str, Any]:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}
        return {**status, "reason": reason, "code": code}

    def _gone(self, message: str) -> errors.Gone:
        status = self._status(410, "Expired", message)
        return errors.Gone(message, code=410, reason="Expired", status=status)
