"""A fake dynamic client: every call recorded as an action, reactors to inject faults.

Mirrors client-go v0.37.2 `testing/fake.go` (`Fake`: `Invokes`, `PrependReactor`,
`AddReactor`, `Actions`, `ClearActions`), `testing/actions.go` (the actions:
verb, resource, namespace, subresource, name, object) and `dynamic/fake/simple.go`
(`FakeDynamicClient`: `Resource(gvr).Namespace(ns)` over an `ObjectTracker`).

    client = FakeDynamicClient(new_foo("a", "demo"))            # preloaded, not recorded
    foos = client.resource(FOOS).namespace("demo")
    client.prepend_reactor("update", "foos", fail_once(errors.new_conflict("foos", "a", "stale")))
    foos.get("a"); foos.update(...)                              # the update raises Conflict once
    client.actions    # [Action("get", "foos", "demo", name="a"), Action("update", "foos", "demo", obj=...)]

Kept: the action is recorded (a copy of what was sent) before anything answers
it; reactors are asked in order, `prepend_reactor` first, `add_reactor` last,
"*" matching any verb or resource; a reaction returns `(handled, result)` or
raises to fail the call; what no reactor handles the tracker answers (client-go
installs `ObjectReaction(tracker)` as the last reactor); the methods of
`k8slab.chain.dynamic`'s resource client, with the same arguments.
Left out: watch and proxy reactor chains of their own (a watch is one more
verb here), `DeleteCollection`, apply, the create/update options in the
recorded actions, JSON and strategic merge patches (a patch is a merge patch).
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable, NamedTuple

from k8slab.meta import GroupVersionResource
from k8slab.testing.tracker import ObjectTracker

__all__ = ["Action", "FakeDynamicClient", "Reaction", "fail_once"]


class Action(NamedTuple):
    """One call, as client-go's `ActionImpl` kinds keep it.

    `obj`: the object sent (create, update), the patch (patch), the options
    (list, watch); `name`: for get, patch and delete (an object sent names itself).
    """

    verb: str
    resource: str
    namespace: str
    subresource: str = ""
    obj: Any = None
    name: str = ""


Reaction = Callable[[Action], "tuple[bool, Any]"]
"""reaction(action) -> (handled, result); it may raise a k8slab error to fail the call."""


def fail_once(error: Exception) -> Reaction:
    """A reaction that fails the first call it sees with `error`, and lets the later ones through."""
    pending = [error]

    def react(action: Action) -> tuple[bool, Any]:
        if pending:
            raise pending.pop()
        return False, None

    return react


class FakeDynamicClient:
    """`resource(gvr)` like `k8slab.chain.DynamicClient`; `actions` lists every call made, in order."""

    def __init__(self, *objects: dict[str, Any], tracker: ObjectTracker | None = None) -> None:
        self.tracker = tracker if tracker is not None else ObjectTracker()
        for obj in objects:
            self.tracker.add(obj)
        self.actions: list[Action] = []
        self._reactors: list[tuple[str, str, Reaction]] = []
        self._lock = threading.Lock()

    def resource(self, gvr: GroupVersionResource) -> "FakeResourceClient":
        return FakeResourceClient(self, gvr)

    def prepend_reactor(self, verb: str, resource: str, reaction: Reaction) -> None:
        """Let `reaction` see matching calls before every reactor added so far."""
        with self._lock:
            self._reactors.insert(0, (verb, resource, reaction))

    def add_reactor(self, verb: str, resource: str, reaction: Reaction) -> None:
        """Let `reaction` see matching calls after every reactor added so far (still before the tracker)."""
        with self._lock:
            self._reactors.append((verb, resource, reaction))

    def clear_actions(self) -> None:
        with self._lock:
            self.actions.clear()

    def invokes(self, action: Action, default: Callable[[], Any]) -> Any:
        """Record `action`, then let the first reactor that handles it answer, else `default` (the tracker)."""
        with self._lock:
            self.actions.append(action)
            reactors = list(self._reactors)
        for verb, resource, reaction in reactors:
            if verb in ("*", action.verb) and resource in ("*", action.resource):
                handled, result = reaction(action)
                if handled:
                    return result
        return default()


class FakeResourceClient:
    """One resource of a FakeDynamicClient, in one namespace or none ("")."""

    def __init__(self, client: FakeDynamicClient, gvr: GroupVersionResource, namespace: str = "") -> None:
        self._client, self.gvr, self._namespace = client, gvr, namespace
        self._tracker = client.tracker

    def namespace(self, namespace: str) -> "FakeResourceClient":
        return FakeResourceClient(self._client, self.gvr, namespace)

    def _invoke(self, verb: str, default: Callable[[], Any], obj: Any = None, name: str = "",
                subresource: str = "") -> Any:
        action = Action(verb, self.gvr.resource, self._namespace, subresource, copy.deepcopy(obj), name)
        return self._client.invokes(action, default)

    def get(self, name: str, **options: Any) -> dict[str, Any]:
        return self._invoke("get", lambda: self._tracker.get(self.gvr, self._namespace, name), name=name)

    def list(self, **options: Any) -> dict[str, Any]:
        return self._invoke("list", lambda: self._tracker.list(self.gvr, self._namespace, options), options)

    def watch(self, **options: Any) -> Any:
        return self._invoke("watch", lambda: self._tracker.watch(self.gvr, self._namespace, options), options)

    def create(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        return self._invoke("create", lambda: self._tracker.create(self.gvr, obj, self._namespace), obj)

    def update(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        return self._invoke("update", lambda: self._tracker.update(self.gvr, obj, self._namespace), obj)

    def update_status(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        default = lambda: self._tracker.update(self.gvr, obj, self._namespace, "status")  # noqa: E731
        return self._invoke("update", default, obj, subresource="status")

    def patch(self, name: str, body: Any, patch_type: str = "merge", **options: Any) -> dict[str, Any]:
        return self._invoke("patch", lambda: self._tracker.patch(self.gvr, self._namespace, name, body), body, name)

    def delete(self, name: str, **options: Any) -> dict[str, Any]:
        return self._invoke("delete", lambda: self._tracker.delete(self.gvr, self._namespace, name), name=name)
