"""apimachinery's object metadata helpers: names of types, owner references, finalizers, conditions.

Mirrors apimachinery v0.37.2 `pkg/runtime/schema/group_version.go`
(`GroupVersionResource`, `GroupVersionKind`, `ParseGroupVersion`),
`pkg/api/meta/restmapper.go` (`DefaultRESTMapper`, `RESTMapping`,
`UnsafeGuessKindToResource`), `pkg/apis/meta/v1/controller_ref.go`
(`NewControllerRef`, `GetControllerOf`, `IsControlledBy`),
`pkg/api/meta/conditions.go` (`SetStatusCondition`, `FindStatusCondition`,
`IsStatusConditionTrue`) and controller-runtime's `controllerutil` finalizer
helpers (`ContainsFinalizer`, `AddFinalizer`, `RemoveFinalizer`), on plain
dicts. The helpers that change an object change the dict they are given:
pass them a deep copy, never an object from an informer's cache.

Kept: the RESTMapper's partial matches (an empty group or version matches
any; a resource by its plural or singular name) and its answer when several
match: the first in the order mappings were added, which is what client-go's
`PriorityRESTMapper` makes of discovery's order (the core group first, each
group's preferred version first). `k8slab.chain.dynamic` builds one from
discovery.
Left out: group-prefix matches ("storageclass.storage"), lowercase kinds,
the `...List` kinds, ambiguity errors (the first match wins).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, NamedTuple

from k8slab import errors

__all__ = [
    "GroupVersionKind",
    "GroupVersionResource",
    "RESTMapper",
    "RESTMapping",
    "SCOPE_NAMESPACE",
    "SCOPE_ROOT",
    "add_finalizer",
    "contains_finalizer",
    "find_status_condition",
    "get_controller_of",
    "is_controlled_by",
    "is_status_condition_true",
    "new_controller_ref",
    "parse_group_version",
    "remove_finalizer",
    "set_status_condition",
    "unsafe_guess_kind_to_resource",
]

SCOPE_NAMESPACE = "namespace"  # meta.RESTScopeNameNamespace: objects live in a namespace
SCOPE_ROOT = "root"  # meta.RESTScopeNameRoot: cluster-scoped


# -- naming types (runtime/schema) ------------------------------------------------------------


def parse_group_version(api_version: str) -> tuple[str, str]:
    """"apps/v1" -> ("apps", "v1"); "v1" -> ("", "v1"): the core group has no name."""
    group, _, version = api_version.rpartition("/")
    return group, version


class GroupVersionResource(NamedTuple):
    """What a URL names: /apis/<group>/<version>/<resource> (or /api/v1/<resource>)."""

    group: str
    version: str
    resource: str

    @property
    def group_version(self) -> str:
        """The `apiVersion` of its objects: "apps/v1", or "v1" for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        """kubectl's spelling, "deployments.v1.apps"; the parts left empty are left out."""
        return ".".join(part for part in (self.resource, self.version, self.group) if part)


class GroupVersionKind(NamedTuple):
    """What an object says it is: `apiVersion` and `kind`."""

    group: str
    version: str
    kind: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> "GroupVersionKind":
        return cls(*parse_group_version(obj.get("apiVersion", "")), obj.get("kind", ""))


def unsafe_guess_kind_to_resource(gvk: GroupVersionKind) -> GroupVersionResource:
    """The plural resource a kind is usually served as: Pod -> pods, Ingress -> ingresses,
    NetworkPolicy -> networkpolicies. A guess (the server may name it otherwise): ask a RESTMapper."""
    singular = gvk.kind.lower()
    if singular.endswith("endpoints"):
        plural = singular
    elif singular.endswith("s"):
        plural = singular + "es"
    elif singular.endswith("y"):
        plural = singular[:-1] + "ies"
    else:
        plural = singular + "s"
    return GroupVersionResource(gvk.group, gvk.version, plural)


class RESTMapping(NamedTuple):
    """How to reach a kind: its resource, and whether it lives in a namespace."""

    resource: GroupVersionResource
    gvk: GroupVersionKind
    scope: str  # SCOPE_NAMESPACE or SCOPE_ROOT


class RESTMapper:
    """Kinds <-> resources, and their scope (apimachinery's `meta.RESTMapper`)."""

    def __init__(self) -> None:
        self._mappings: list[tuple[RESTMapping, str]] = []  # (mapping, singular name), by priority

    def add(self, gvk: GroupVersionKind, scope: str, plural: str = "", singular: str = "") -> None:
        """`AddSpecific` with the names given, `Add` (guessed names) without them."""
        if plural:
            resource = GroupVersionResource(gvk.group, gvk.version, plural)
        else:
            resource = unsafe_guess_kind_to_resource(gvk)
        self._mappings.append((RESTMapping(resource, gvk, scope), singular or gvk.kind.lower()))

    def _search(self, match: Callable[[RESTMapping, str], bool]) -> list[RESTMapping]:
        return [m for m, singular in self._mappings if match(m, singular)]

    def resources_for(self, partial: GroupVersionResource) -> list[GroupVersionResource]:
        """Every resource `partial` may mean, best first ("" group or version: any)."""
        name = partial.resource.lower()
        group, version = partial.group, partial.version
        found = self._search(lambda m, singular: name in (m.resource.resource, singular)
                             and group in ("", m.resource.group) and version in ("", m.resource.version))
        return [m.resource for m in found]

    def resource_for(self, partial: GroupVersionResource) -> GroupVersionResource:
        found = self.resources_for(partial)
        if not found:
            raise errors.UsageError(f"the server serves no resource {str(partial)!r}: check the name "
                                    "(`kubectl api-resources` lists them) or install its CRD")
        return found[0]

    def kind_for(self, partial: GroupVersionResource) -> GroupVersionKind:
        resource = self.resource_for(partial)
        return self._search(lambda m, _: m.resource == resource)[0].gvk

    def rest_mapping(self, group: str, kind: str, *versions: str) -> RESTMapping:
        """The mapping of `kind` in `group`, in the first of `versions` served (default: the preferred)."""
        found = self._search(lambda m, _: (m.gvk.group, m.gvk.kind) == (group, kind)
                             and (not versions or m.gvk.version in versions))
        found.sort(key=lambda m: versions.index(m.gvk.version) if versions else 0)
        if not found:
            served = f" in versions {', '.join(versions)}" if versions else ""
            raise errors.UsageError(f"the server serves no kind {kind!r} in group {group!r}{served}: "
                                    "check apiVersion and kind, or install its CRD")
        return found[0]


# -- owner references (meta/v1/controller_ref.go) ---------------------------------------------


def new_controller_ref(owner: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """An ownerReference that makes `owner` the controller of the object carrying it.

    `controller: true` says "this owner manages me" (at most one per object);
    `blockOwnerDeletion: true` lets a foreground deletion of the owner wait
    for this object to go first.
    """
    meta = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def get_controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of the ownerReference with `controller: true`, or None (Go's `GetControllerOf` copies too:
    `obj` is often an informer's shared object, which nobody may change)."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def is_controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    """True if `obj`'s controller reference points at `owner` (compared by UID, as in Go)."""
    ref = get_controller_of(obj)
    return ref is not None and ref.get("uid", "") == owner.get("metadata", {}).get("uid", "")


# -- finalizers (controller-runtime controllerutil) -------------------------------------------


def contains_finalizer(obj: dict[str, Any], finalizer: str) -> bool:
    return finalizer in (obj.get("metadata", {}).get("finalizers") or [])


def add_finalizer(obj: dict[str, Any], finalizer: str) -> bool:
    """Add `finalizer` to `obj` (a copy!); True if it was not there."""
    finalizers = obj["metadata"].setdefault("finalizers", [])
    if finalizer in finalizers:
        return False
    finalizers.append(finalizer)
    return True


def remove_finalizer(obj: dict[str, Any], finalizer: str) -> bool:
    """Remove `finalizer` from `obj` (a copy!); True if it was there."""
    finalizers = obj["metadata"].get("finalizers") or []
    if finalizer not in finalizers:
        return False
    obj["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
    return True


# -- conditions (api/meta/conditions.go) ------------------------------------------------------


def find_status_condition(conditions: list[dict[str, Any]] | None, condition_type: str) -> dict[str, Any] | None:
    for condition in conditions or []:
        if condition.get("type") == condition_type:
            return condition
    return None


def is_status_condition_true(conditions: list[dict[str, Any]] | None, condition_type: str) -> bool:
    condition = find_status_condition(conditions, condition_type)
    return condition is not None and condition.get("status") == "True"


def set_status_condition(
    conditions: list[dict[str, Any]], new: dict[str, Any], now: dt.datetime | None = None
) -> bool:
    """Set `new` in `conditions` (changed in place); True if anything changed.

    `lastTransitionTime` moves only when the status flips (or the condition is
    new): it says since when the condition has been what it is, not when a
    controller last looked.
    """
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    existing = find_status_condition(conditions, new["type"])
    if existing is None:
        conditions.append({**new, "lastTransitionTime": new.get("lastTransitionTime") or stamp})
        return True
    changed = False
    if existing.get("status") != new.get("status"):
        existing["status"] = new.get("status")
        existing["lastTransitionTime"] = new.get("lastTransitionTime") or stamp
        changed = True
    # Go's metav1.Condition always has every field: one a dict leaves out is its zero value, which
    # overwrites (an empty message clears the old one); observedGeneration 0 is omitted, as `omitempty`.
    for field, zero in (("reason", ""), ("message", ""), ("observedGeneration", 0)):
        value = new.get(field, zero)
        if existing.get(field, zero) != value:
            if field == "observedGeneration" and value == zero:
                existing.pop(field, None)
            else:
                existing[field] = value
            changed = True
    return changed
