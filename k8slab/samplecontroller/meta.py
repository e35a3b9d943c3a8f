"""Object-metadata helpers controllers lean on: owner references, finalizers, conditions.

Mirrors apimachinery v0.37 `pkg/apis/meta/v1/controller_ref.go`
(`NewControllerRef`, `GetControllerOf`, `IsControlledBy`),
`pkg/api/meta/conditions.go` (`SetStatusCondition`, `FindStatusCondition`,
`IsStatusConditionTrue`) and controller-runtime's `controllerutil`
finalizer helpers (`ContainsFinalizer`, `AddFinalizer`, `RemoveFinalizer`),
on plain dicts. The helpers that change an object change the dict they are
given: pass them a deep copy, never an object from an informer's cache.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = [
    "add_finalizer",
    "contains_finalizer",
    "find_status_condition",
    "get_controller_of",
    "is_controlled_by",
    "is_status_condition_true",
    "new_controller_ref",
    "remove_finalizer",
    "set_status_condition",
]


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
    """The ownerReference with `controller: true`, or None."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    """True if `obj`'s controller reference points at `owner` (compared by UID, as in Go)."""
    ref = get_controller_of(obj)
    return ref is not None and ref.get("uid", "") == owner.get("metadata", {}).get("uid", "")


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
    for field in ("reason", "message", "observedGeneration"):
        if field in new and existing.get(field) != new[field]:
            existing[field] = new[field]
            changed = True
    return changed
