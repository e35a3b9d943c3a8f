"""A fake clientset that records every call: sample-controller's tests without a server.

Mirrors client-go v0.37 `kubernetes/fake` (`NewSimpleClientset`) and
`testing/fixture.go` / `testing/actions.go`: a clientset of the same shape as
`DictClientset`, backed by an in-memory object tracker, that appends an
`Action` for every call, so a test can preload objects, call `sync_handler`
and compare the actions it expected with the ones recorded.

Kept: the tracker (create -> AlreadyExists if present; get, update,
update_status, patch, delete -> NotFound if absent), actions with verb,
resource, namespace, subresource and object (or name), reactors
(`prepend_reactor(verb, resource, reaction)`, "*" matching anything) that
may answer a call or raise instead of the tracker.
Left out: resourceVersion bookkeeping and conflicts, field selectors,
watches (tests preload the listers instead of running informers).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, NamedTuple

from k8slab import errors

__all__ = ["Action", "FakeClientset"]


class Action(NamedTuple):
    """One recorded call. `obj` is the object sent (create/update) or the name (get/delete)."""

    verb: str
    resource: str
    namespace: str
    subresource: str = ""
    obj: Any = None


Reaction = Callable[[Action], "tuple[bool, Any]"]
"""reaction(action) -> (handled, result); it may raise an error to fail the call."""


class FakeClientset:
    """Same accessors as DictClientset; `actions` lists every call made, in order."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.actions: list[Action] = []
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._reactors: list[tuple[str, str, Reaction]] = []
        for obj in objects:
            self.tracker_add(obj)

    # -- setup ---------------------------------------------------------------------------

    def tracker_add(self, obj: dict[str, Any]) -> None:
        """Preload an object (not recorded as an action)."""
        self._objects[_key(_resource_of(obj), obj)] = copy.deepcopy(obj)

    def prepend_reactor(self, verb: str, resource: str, reaction: Reaction) -> None:
        """Let `reaction` see matching calls first ("*" matches any verb or resource)."""
        self._reactors.insert(0, (verb, resource, reaction))

    def clear_actions(self) -> None:
        self.actions.clear()

    # -- the clientset's shape -------------------------------------------------------------

    def core_v1(self) -> "_Group":
        return _Group(self, {"events": "events", "pods": "pods", "namespaces": "namespaces"})

    def apps_v1(self) -> "_Group":
        return _Group(self, {"deployments": "deployments", "replica_sets": "replicasets"})

    def coordination_v1(self) -> "_Group":
        return _Group(self, {"leases": "leases"})

    def samplecontroller_v1alpha1(self) -> "_Group":
        return _Group(self, {"foos": "foos"})

    # -- the tracker -------------------------------------------------------------------------

    def _invoke(self, action: Action, default: Callable[[], Any]) -> Any:
        self.actions.append(action)
        for verb, resource, reaction in self._reactors:
            if verb in ("*", action.verb) and resource in ("*", action.resource):
                handled, result = reaction(action)
                if handled:
                    return copy.deepcopy(result)
        return copy.deepcopy(default())

    def _get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self._objects[(resource, namespace, name)]
        except KeyError:
            raise errors.NotFound(f'{resource} "{name}" not found', code=404, reason="NotFound") from None


class _Group:
    def __init__(self, clientset: FakeClientset, resources: dict[str, str]) -> None:
        self._clientset, self._resources = clientset, resources

    def __getattr__(self, accessor: str) -> Callable[..., "_FakeResource"]:
        try:
            resource = self._resources[accessor]
        except KeyError:
            raise AttributeError(accessor) from None
        return lambda namespace="": _FakeResource(self._clientset, resource, namespace)


class _FakeResource:
    def __init__(self, clientset: FakeClientset, resource: str, namespace: str) -> None:
        self._cs, self.resource, self.namespace = clientset, resource, namespace

    def _act(self, verb: str, obj: Any = None, subresource: str = "") -> Action:
        return Action(verb, self.resource, self.namespace, subresource, copy.deepcopy(obj))

    def get(self, name: str) -> dict[str, Any]:
        return self._cs._invoke(self._act("get", name), lambda: self._cs._get(self.resource, self.namespace, name))

    def list(self, **options: Any) -> dict[str, Any]:
        def default() -> dict[str, Any]:
            items = [o for (r, ns, _), o in self._cs._objects.items()
                     if r == self.resource and (not self.namespace or ns == self.namespace)]
            return {"metadata": {}, "items": items}

        return self._cs._invoke(self._act("list"), default)

    def create(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        def default() -> dict[str, Any]:
            key = (self.resource, self.namespace, obj["metadata"]["name"])
            if key in self._cs._objects:
                raise errors.AlreadyExists(f'{self.resource} "{key[2]}" already exists', code=409,
                                           reason="AlreadyExists")
            self._cs._objects[key] = copy.deepcopy(obj)
            return self._cs._objects[key]

        return self._cs._invoke(self._act("create", obj), default)

    def update(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        def default() -> dict[str, Any]:
            self._cs._get(self.resource, self.namespace, obj["metadata"]["name"])
            stored = copy.deepcopy(obj)
            self._cs._objects[(self.resource, self.namespace, obj["metadata"]["name"])] = stored
            return stored

        return self._cs._invoke(self._act("update", obj), default)

    def update_status(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        def default() -> dict[str, Any]:
            current = self._cs._get(self.resource, self.namespace, obj["metadata"]["name"])
            current["status"] = copy.deepcopy(obj.get("status"))
            return current

        return self._cs._invoke(self._act("update", obj, "status"), default)

    def patch(self, name: str, body: Any, patch_type: str = "merge", **options: Any) -> dict[str, Any]:
        def default() -> dict[str, Any]:
            current = self._cs._get(self.resource, self.namespace, name)
            _merge(current, body)
            return current

        return self._cs._invoke(self._act("patch", body), default)

    def delete(self, name: str, **options: Any) -> dict[str, Any]:
        def default() -> dict[str, Any]:
            self._cs._get(self.resource, self.namespace, name)
            return self._cs._objects.pop((self.resource, self.namespace, name))

        return self._cs._invoke(self._act("delete", name), default)


def _resource_of(obj: dict[str, Any]) -> str:
    kind = obj.get("kind", "")
    return {"Deployment": "deployments", "Foo": "foos", "Lease": "leases", "Event": "events",
            "Pod": "pods", "ReplicaSet": "replicasets", "Namespace": "namespaces"}.get(kind, kind.lower() + "s")


def _key(resource: str, obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return resource, meta.get("namespace", ""), meta["name"]


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A JSON merge patch (RFC 7386): None deletes, dicts merge, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
