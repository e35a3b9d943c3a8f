"""One in-memory API server: objects by resource, resourceVersions, watches fanned out, faults.

Mirrors client-go v0.37.2 `testing/fixture.go` (`ObjectTracker`, `NewObjectTracker`:
`Add`, `Get`, `Create`, `Update`, `Patch`, `List`, `Delete`, `Watch`) and, for the
faults a cache must survive, `tools/cache/testing/fake_controller_source.go`
(`FakeControllerSource`'s dropped events and reset watches). Every fake of the
course is a thin view of one tracker: `FakeDynamicClient` (fake.py: calls
recorded as actions, reactors), `k8slab.cache.testing.FakeSource` (one resource
as a ListerWatcher), `k8slab.leaderelection.testing.FakeLeases` and
`k8slab.samplecontroller.fake.FakeClientset`. Share a tracker between views and
a write through a fake client reaches the fake source's watches.

Kept: objects by resource (group, version, resource), namespace and name, stored
as copies; one cluster-wide resourceVersion (etcd's revision): every write takes
the next (1, 2, 3, ...) into `metadata.resourceVersion`; a uid on create, kept by
updates; create of an existing name -> AlreadyExists, get/update/delete of a
missing one -> NotFound; watches fanned out, by resource and namespace; a watch
from RV "" or "0" starts with an ADDED event per object, as the API server does.
Stricter than client-go's tracker, as a real server is: an update whose
resourceVersion is stale is refused (Conflict); an update of the status
subresource changes only the status; a watch from an RV replays the changes
after it; a list or watch at an RV older than the last compaction
(`expire_before`) answers 410 (a real server would still serve an old list from
its watch cache: here the reflector's fallback to RV "" shows); lists page with
`limit`/`continue_` over a snapshot. Faults: `drop_next_event`, `reset_watches`
(with a Status: an ERROR event, then the end), `send_bookmark`, and the streaming
initial list (`send_initial_events`: ADDED per object, then the bookmark
annotated `k8s.io/initial-events-end`).
Left out: label and field selectors, watch timeouts, "too large resource
version", generation, finalizers and graceful deletion (a delete removes at
once), apply and managed fields, defaulting, validation; an update of the main
resource replaces the whole object, status included.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections import deque
from typing import Any, Iterator

from k8slab import errors
from k8slab.meta import GroupVersionKind, GroupVersionResource as GVR, unsafe_guess_kind_to_resource

__all__ = ["INITIAL_EVENTS_END_ANNOTATION", "FakeWatch", "ObjectTracker"]

INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end"
_STALE = "the object has been modified; please apply your changes to the latest version and try again"


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name  # cache.MetaNamespaceKeyFunc's key


def _bad_request(message: str) -> errors.APIError:
    return errors.APIError.from_status(400, errors.new_status(400, "BadRequest", message))


def _rv(value: str) -> int:
    if not value.isdigit():
        raise _bad_request(f"invalid resource version {value!r}: the fake's are decimal numbers")
    return int(value)


class FakeWatch:
    """One open watch. Iterate it for event dicts; `stop()` ends it (from any thread)."""

    def __init__(self, tracker: ObjectTracker, gvr: GVR, namespace: str, options: dict[str, Any]) -> None:
        self.gvr, self.namespace = gvr, namespace
        self.wants_bookmarks = bool(options.get("allow_watch_bookmarks"))
        self._tracker = tracker
        self._cond = threading.Condition()
        self._events: deque[dict[str, Any]] = deque()
        self._ended = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._events or self._ended)
                if not self._events:
                    return
                event = self._events.popleft()
            yield event

    def stop(self) -> None:
        """The client hangs up: anything not yet read is discarded."""
        self._close(discard=True)
        self._tracker._forget(self)

    def drain(self) -> list[dict[str, Any]]:
        """The events sent but not read yet, without waiting (for notebooks and tests)."""
        with self._cond:
            events, self._events = list(self._events), deque()
            return events

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended and not self._events

    def sees(self, gvr: GVR, obj: dict[str, Any]) -> bool:
        return gvr == self.gvr and self.namespace in ("", obj["metadata"].get("namespace", ""))

    def _send(self, event_type: str, obj: dict[str, Any]) -> None:
        with self._cond:
            if not self._ended:
                self._events.append({"type": event_type, "object": copy.deepcopy(obj)})
                self._cond.notify_all()

    def _close(self, discard: bool = False) -> None:
        """The stream ends: the events already sent can still be read, unless the client discards them."""
        with self._cond:
            self._ended = True
            if discard:
                self._events.clear()
            self._cond.notify_all()


class ObjectTracker:
    """The objects, their history and the open watches, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[GVR, dict[str, dict[str, Any]]] = {}  # never mutated once stored
        self._kinds: dict[GVR, str] = {}
        self._history: list[tuple[int, GVR, str, dict[str, Any]]] = []  # (rv, gvr, type, obj)
        self._rv = 0
        self._compacted_rv = 0  # a list or watch at an RV below this answers 410
        self._snapshots: dict[tuple[GVR, str, int], list[dict[str, Any]]] = {}  # for paging
        self._watches: set[FakeWatch] = set()
        self._drop: dict[GVR, int] = {}

    def register(self, gvr: GVR, kind: str) -> None:
        """Name the kind a resource's objects, lists and bookmarks carry (a scheme's job)."""
        with self._lock:
            self._kinds[gvr] = kind

    # -- writes -----------------------------------------------------------------------------

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Preload an object (client-go's `Add`): its resource guessed from its kind, its RV kept if set."""
        gvr = unsafe_guess_kind_to_resource(GroupVersionKind.of(obj))
        with self._lock:
            self._kinds.setdefault(gvr, obj.get("kind", ""))
            return self._create_locked(gvr, obj, obj["metadata"].get("namespace", ""), preload=True)

    def create(self, gvr: GVR, obj: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        with self._lock:
            return self._create_locked(gvr, obj, namespace)

    def update(self, gvr: GVR, obj: dict[str, Any], namespace: str = "", subresource: str = "") -> dict[str, Any]:
        """Replace the object (or, with subresource "status", its status); Conflict if its RV is stale."""
        with self._lock:
            return self._update_locked(gvr, obj, namespace, subresource)

    def patch(self, gvr: GVR, namespace: str, name: str, patch: Any) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386) to the stored object."""
        if not isinstance(patch, dict):
            raise errors.UsageError(f"the fake API server applies merge patches (dicts), not a {type(patch).__name__}")
        with self._lock:
            merged = _merge(copy.deepcopy(self._get_locked(gvr, namespace, name)), patch)
            return self._update_locked(gvr, merged, namespace, "")

    def delete(self, gvr: GVR, namespace: str, name: str) -> dict[str, Any]:
        """Remove the object; returns its final state (at the deletion's RV, as the DELETED event)."""
        with self._lock:
            final = copy.deepcopy(self._get_locked(gvr, namespace, name))
            return self._commit_locked(gvr, "DELETED", final)

    def advance_resource_version(self, by: int = 1) -> str:
        """Other resources changed: the cluster-wide RV moves on with no event here."""
        with self._lock:
            self._rv += by
            return str(self._rv)

    # -- reads ------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        """The RV of the latest write (what a list would return now)."""
        with self._lock:
            return str(self._rv)

    def get(self, gvr: GVR, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._get_locked(gvr, namespace, name))

    def list(self, gvr: GVR, namespace: str = "", options: dict[str, Any] | None = None) -> dict[str, Any]:
        """A List; honours resource_version, limit and continue_ (ListOptions in snake case)."""
        options = options or {}
        rv, token, limit = str(options.get("resource_version") or ""), options.get("continue_"), options.get("limit")
        with self._lock:
            if token:
                list_rv, start = json.loads(base64.urlsafe_b64decode(token))
                objects = self._snapshots.get((gvr, namespace, list_rv))
                if objects is None:
                    raise errors.new_resource_expired("the continue token is too old; list again without it")
            else:
                if rv not in ("", "0") and _rv(rv) < self._compacted_rv:
                    raise self._too_old_locked(rv)
                list_rv, start, objects = self._rv, 0, self._matching_locked(gvr, namespace)
            end = start + int(limit) if limit else len(objects)
            metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if end < len(objects):
                self._snapshots[(gvr, namespace, list_rv)] = objects
                metadata["continue"] = base64.urlsafe_b64encode(json.dumps([list_rv, end]).encode()).decode()
            kind = f"{self._kinds.get(gvr, '')}List"
            return {"apiVersion": gvr.group_version, "kind": kind, "metadata": metadata,
                    "items": copy.deepcopy(objects[start:end])}

    def watch(self, gvr: GVR, namespace: str = "", options: dict[str, Any] | None = None) -> FakeWatch:
        """A watch: the current objects (RV "" or "0") or the changes after an RV, then live changes."""
        options = options or {}
        rv = str(options.get("resource_version") or "")
        w = FakeWatch(self, gvr, namespace, options)
        with self._lock:
            if options.get("send_initial_events") or rv in ("", "0"):
                for obj in self._matching_locked(gvr, namespace):
                    w._send("ADDED", obj)
                if options.get("send_initial_events"):
                    w._send("BOOKMARK", self._bookmark_locked(gvr, initial_events_end=True))
            elif _rv(rv) < self._compacted_rv:
                w._send("ERROR", self._too_old_locked(rv).status)
                w._close()
                return w
            else:
                for change_rv, resource, event_type, obj in self._history:
                    if change_rv > int(rv) and w.sees(resource, obj):
                        w._send(event_type, obj)
            self._watches.add(w)
        return w

    # -- faults -----------------------------------------------------------------------------

    def drop_next_event(self, gvr: GVR, count: int = 1) -> None:
        """The next `count` changes of `gvr` happen, but open watches never hear of them."""
        with self._lock:
            self._drop[gvr] = self._drop.get(gvr, 0) + count

    def open_watches(self, gvr: GVR | None = None) -> int:
        with self._lock:
            return sum(1 for w in self._watches if gvr in (None, w.gvr))

    def reset_watches(self, gvr: GVR | None = None, status: dict[str, Any] | None = None) -> None:
        """The watches (of `gvr`, or all) end after the events already sent: a connection reset,
        or, given a `Status` (errors.new_status), an ERROR event carrying it first."""
        with self._lock:
            taken = [w for w in self._watches if gvr in (None, w.gvr)]
            self._watches.difference_update(taken)
        for w in taken:
            if status is not None:
                w._send("ERROR", status)
            w._close()

    def send_bookmark(self, gvr: GVR | None = None) -> str:
        """A BOOKMARK at the current RV to every watch (of `gvr`) that allowed them; returns the RV."""
        with self._lock:
            for w in self._watches:
                if w.wants_bookmarks and gvr in (None, w.gvr):
                    w._send("BOOKMARK", self._bookmark_locked(w.gvr, initial_events_end=False))
            return str(self._rv)

    def expire_before(self, rv: int | str) -> None:
        """Forget the history before `rv`: lists and watches at an older RV answer 410."""
        with self._lock:
            self._compacted_rv = max(self._compacted_rv, _rv(str(rv)))
            self._history = [c for c in self._history if c[0] > self._compacted_rv]
            self._snapshots = {k: v for k, v in self._snapshots.items() if k[2] >= self._compacted_rv}

    # -- helpers ----------------------------------------------------------------------------

    def _get_locked(self, gvr: GVR, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self._objects[gvr][_key(namespace, name)]
        except KeyError:
            raise errors.new_not_found(gvr.resource, name, gvr.group) from None

    def _matching_locked(self, gvr: GVR, namespace: str) -> list[dict[str, Any]]:
        objects = self._objects.get(gvr, {})
        return [o for k, o in sorted(objects.items()) if namespace in ("", o["metadata"].get("namespace", ""))]

    def _incoming(self, gvr: GVR, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
        """A copy of `obj` as it will be stored: typed, and in the request's namespace."""
        stored = copy.deepcopy(obj)
        stored.setdefault("apiVersion", gvr.group_version)
        stored.setdefault("kind", self._kinds.get(gvr, ""))
        metadata = stored.setdefault("metadata", {})
        if namespace and metadata.setdefault("namespace", namespace) != namespace:
            raise _bad_request(f"the object's namespace {metadata['namespace']!r} is not the request's {namespace!r}")
        return stored

    def _create_locked(self, gvr: GVR, obj: dict[str, Any], namespace: str, preload: bool = False) -> dict[str, Any]:
        """A create picks the uid and the RV; a preload keeps those the object has."""
        stored = self._incoming(gvr, obj, namespace)
        metadata = stored["metadata"]
        if _key(metadata.get("namespace", ""), metadata["name"]) in self._objects.get(gvr, {}):
            raise errors.new_already_exists(gvr.resource, metadata["name"], gvr.group)
        uid, given = metadata.get("uid"), str(metadata.get("resourceVersion") or "")
        metadata["uid"] = uid if preload and uid else f"00000000-0000-4000-8000-{self._rv + 1:012d}"
        return self._commit_locked(gvr, "ADDED", stored, _rv(given) if preload and given else 0)

    def _update_locked(self, gvr: GVR, obj: dict[str, Any], namespace: str, subresource: str) -> dict[str, Any]:
        stored = self._incoming(gvr, obj, namespace)
        metadata = stored["metadata"]
        current = self._get_locked(gvr, metadata.get("namespace", ""), metadata["name"])
        sent = metadata.get("resourceVersion")
        if sent and sent != current["metadata"]["resourceVersion"]:
            raise errors.new_conflict(gvr.resource, metadata["name"], _STALE, gvr.group)
        if subresource == "status":
            stored = {**copy.deepcopy(current), "status": stored.get("status") or {}}
        stored["metadata"]["uid"] = current["metadata"]["uid"]
        return self._commit_locked(gvr, "MODIFIED", stored)

    def _commit_locked(self, gvr: GVR, event_type: str, stored: dict[str, Any], rv: int = 0) -> dict[str, Any]:
        """Store (or, for DELETED, remove) `stored` at the next RV, remember it, tell the watches."""
        self._rv = max(self._rv + (0 if rv else 1), rv)
        metadata = stored["metadata"]
        metadata["resourceVersion"] = str(rv or self._rv)
        objects = self._objects.setdefault(gvr, {})
        key = _key(metadata.get("namespace", ""), metadata["name"])
        if event_type == "DELETED":
            del objects[key]
        else:
            objects[key] = stored
        self._history.append((int(metadata["resourceVersion"]), gvr, event_type, stored))
        if self._drop.get(gvr):
            self._drop[gvr] -= 1
        else:
            for w in self._watches:
                if w.sees(gvr, stored):
                    w._send(event_type, stored)
        return copy.deepcopy(stored)

    def _too_old_locked(self, rv: str) -> errors.Gone:
        return errors.new_resource_expired(f"too old resource version: {rv} ({self._compacted_rv})")

    def _bookmark_locked(self, gvr: GVR, initial_events_end: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END_ANNOTATION: "true"}
        return {"apiVersion": gvr.group_version, "kind": self._kinds.get(gvr, ""), "metadata": metadata}

    def _forget(self, w: FakeWatch) -> None:
        with self._lock:
            self._watches.discard(w)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386), in place: None deletes, dicts merge, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target
