"""A fake API server for one resource: list, watch, and the faults a cache must survive.

Mirrors client-go v0.37.2 `tools/cache/testing/fake_controller_source.go`
(`FakeControllerSource`), grown a little for teaching, as a view of k8slab's one
in-memory API server (`k8slab.testing.ObjectTracker`, where the behaviour lives).

Kept: `add`/`modify`/`delete` change the objects (each takes the next
resourceVersion: 1, 2, 3, ...; they are the world changing, not calls of the
code under test, so they are not recorded); `list` and `watch` are the
ListerWatcher protocol, recorded (`list_calls`, `watch_calls`); lost events
(`drop_next_event`, client-go's `*DropWatch`), reset connections
(`reset_watches`, client-go's `ResetWatch`), a failing list or watch
(`fail_next_list`, `fail_next_watch`), a server that cannot stream lists
(`refuse_watch_lists`: 422, as an API server with its WatchList gate off). Added for teaching: `limit`/`continue_`
paging, compaction (`compact`, `expire_before`: a list at an older RV raises
`errors.Gone`, a watch from one gets an ERROR event with a 410 Status),
bookmarks (`send_bookmark`), `expire_watches` and `send_error`, the streaming
initial list, `advance_resource_version` (RVs are cluster-wide). Pass a
`tracker` to share one API server with other fakes.
Left out: what the tracker leaves out (selectors, watch timeouts, ...).
"""

from __future__ import annotations

from typing import Any

from k8slab import errors
from k8slab.meta import GroupVersionResource, parse_group_version
from k8slab.testing import FakeDynamicClient, FakeWatch, ObjectTracker, fail_once

__all__ = ["FakeSource", "FakeWatch", "config_map"]


def config_map(name: str, namespace: str = "default", data: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A small ConfigMap dict, handy for notebooks and tests."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(data or {})}


class FakeSource:
    """One resource of an in-memory API server, implementing the ListerWatcher protocol.

        source = FakeSource()
        source.add(config_map("a"))        # resourceVersion "1"
        informer = SharedIndexInformer(source, "configmaps")
    """

    def __init__(self, kind: str = "ConfigMap", api_version: str = "v1", *, resource: str = "configmaps",
                 tracker: ObjectTracker | None = None) -> None:
        self.kind, self.api_version, self.resource = kind, api_version, resource
        self.gvr = GroupVersionResource(*parse_group_version(api_version), resource)
        self.client = FakeDynamicClient(tracker=tracker)  # records the list and watch calls
        self.tracker = self.client.tracker
        self.tracker.register(self.gvr, kind)

    # -- changing the objects --------------------------------------------------

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object; returns it as stored (with resourceVersion and uid)."""
        return self.tracker.create(self.gvr, obj, obj["metadata"].get("namespace", ""))

    def modify(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an existing object; returns it as stored."""
        return self.tracker.update(self.gvr, obj, obj["metadata"].get("namespace", ""))

    def delete(self, obj: dict[str, Any] | str) -> dict[str, Any]:
        """Delete an object (given as a dict or a "ns/name" key); returns its final state."""
        if isinstance(obj, str):
            namespace, _, name = obj.rpartition("/")
        else:
            namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        return self.tracker.delete(self.gvr, namespace, name)

    def advance_resource_version(self, by: int = 1) -> str:
        """Other resources changed: the cluster-wide RV moves on with no event here."""
        return self.tracker.advance_resource_version(by)

    @property
    def resource_version(self) -> str:
        """The RV of the latest change (what a list would return now)."""
        return self.tracker.resource_version

    def objects(self) -> list[dict[str, Any]]:
        """Copies of the current objects, sorted by key."""
        return self.tracker.list(self.gvr)["items"]

    # -- faults ----------------------------------------------------------------

    def drop_next_event(self, count: int = 1) -> None:
        """The next `count` changes happen, but open watches never hear of them."""
        self.tracker.drop_next_event(self.gvr, count)

    def reset_watches(self) -> None:
        """A connection reset: every open watch ends (after the events already sent)."""
        self.tracker.reset_watches(self.gvr)

    def expire_watches(self) -> None:
        """Every open watch gets an ERROR event carrying a 410 Status, then ends."""
        self.send_error(410, "Expired", f"too old resource version (now {self.resource_version})")

    def send_error(self, code: int, reason: str, message: str = "") -> None:
        """Every open watch gets an ERROR event carrying this Status (e.g. 429), then ends."""
        self.tracker.reset_watches(self.gvr, errors.new_status(code, reason, message or reason))

    def send_bookmark(self) -> str:
        """A BOOKMARK at the current RV to every watch that allowed them; returns the RV."""
        return self.tracker.send_bookmark(self.gvr)

    @property
    def open_watches(self) -> int:
        """How many watches are open now."""
        return self.tracker.open_watches(self.gvr)

    def compact(self) -> None:
        """Forget the history: lists and watches at any RV older than now answer 410."""
        self.tracker.expire_before(self.resource_version)

    def expire_before(self, rv: int | str) -> None:
        """Forget the history before `rv`: lists and watches at an older RV answer 410."""
        self.tracker.expire_before(rv)

    def fail_next_list(self, error: Exception | None = None) -> None:
        """The next list raises `error` (default: the server is unreachable)."""
        refused = errors.ServerUnreachable("connection refused", connection_refused=True)
        self.client.add_reactor("list", self.resource, fail_once(error or refused))

    def refuse_watch_lists(self) -> None:
        """From now on a watch with send_initial_events answers 422 Invalid (WatchList off on the server)."""

        def refuse(action: Any) -> tuple[bool, Any]:
            if (action.obj or {}).get("send_initial_events"):
                cause = {"reason": "FieldValueForbidden", "field": "sendInitialEvents",
                         "message": "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList "
                                    "feature gate is enabled"}
                status = errors.new_status(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: '
                                           + cause["field"] + ": " + cause["message"], {"causes": [cause]})
                raise errors.APIError.from_status(422, status)
            return False, None

        self.client.prepend_reactor("watch", self.resource, refuse)

    def fail_next_watch(self, error: Exception | None = None) -> None:
        """The next watch call raises `error` (default: the server is unreachable)."""
        refused = errors.ServerUnreachable("connection refused", connection_refused=True)
        self.client.add_reactor("watch", self.resource, fail_once(error or refused))

    # -- the ListerWatcher protocol --------------------------------------------

    @property
    def list_calls(self) -> list[dict[str, Any]]:
        """The options of every list call, in order."""
        return [a.obj for a in self.client.actions if a.verb == "list"]

    @property
    def watch_calls(self) -> list[dict[str, Any]]:
        """The options of every watch call, in order."""
        return [a.obj for a in self.client.actions if a.verb == "watch"]

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        """A List object; honours resource_version, limit and continue_."""
        return self.client.resource(self.gvr).list(**options)

    def watch(self, options: dict[str, Any]) -> FakeWatch:
        """A watch; replays history after resource_version, then streams live changes."""
        return self.client.resource(self.gvr).watch(**options)
