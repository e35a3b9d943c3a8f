"""An in-memory Lease store for leader election without an API server.

Plays the part client-go's tests give to `fake.Clientset` with reactors: it
keeps Leases as dicts, bumps `metadata.resourceVersion` on every write and,
like the API server, refuses an update whose resourceVersion is stale
(errors.Conflict), a create of an existing Lease (errors.AlreadyExists) and a
get of a missing one (errors.NotFound). Every call is recorded in `actions`,
and `fail_next(verb, error)` makes the next call of that verb fail, so tests
(and notebook 11) can watch two electors share one store under a FakeClock.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from k8slab import errors

__all__ = ["FakeLeases"]


class FakeLeases:
    """A `LeasesGetter`: `leases(namespace)` returns a client of this store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}
        self._rv = 0
        self._failures: dict[str, list[Exception]] = {}
        self.actions: list[tuple[str, str, str]] = []  # (verb, namespace, name)

    def leases(self, namespace: str) -> "_NamespacedLeases":
        return _NamespacedLeases(self, namespace)

    def fail_next(self, verb: str, error: Exception | None = None) -> None:
        """Make the next `verb` ("get", "create", "update") raise `error` (a 500 by default)."""
        with self._lock:
            self._failures.setdefault(verb, []).append(
                error or errors.APIError("injected failure", code=500, reason="InternalError")
            )

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of the stored Lease, or None."""
        with self._lock:
            obj = self._objects.get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def holder(self, namespace: str, name: str) -> str:
        lease = self.lease(namespace, name)
        return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""

    # -- the verbs ----------------------------------------------------------------------

    def _call(self, verb: str, namespace: str, name: str) -> None:
        self.actions.append((verb, namespace, name))
        pending = self._failures.get(verb)
        if pending:
            raise pending.pop(0)

    def _get(self, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            self._call("get", namespace, name)
            obj = self._objects.get((namespace, name))
            if obj is None:
                raise errors.NotFound(f'leases.coordination.k8s.io "{name}" not found',
                                      code=404, reason="NotFound")
            return copy.deepcopy(obj)

    def _create(self, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        with self._lock:
            self._call("create", namespace, name)
            if (namespace, name) in self._objects:
                raise errors.AlreadyExists(f'leases.coordination.k8s.io "{name}" already exists',
                                           code=409, reason="AlreadyExists")
            return self._store_locked(namespace, obj)

    def _update(self, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        with self._lock:
            self._call("update", namespace, name)
            current = self._objects.get((namespace, name))
            if current is None:
                raise errors.NotFound(f'leases.coordination.k8s.io "{name}" not found',
                                      code=404, reason="NotFound")
            sent = obj["metadata"].get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise errors.Conflict(
                    f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": '
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again", code=409, reason="Conflict")
            return self._store_locked(namespace, obj)

    def _store_locked(self, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        self._rv += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["namespace"] = namespace
        stored["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[(namespace, stored["metadata"]["name"])] = stored
        return copy.deepcopy(stored)


class _NamespacedLeases:
    def __init__(self, store: FakeLeases, namespace: str) -> None:
        self._store, self._namespace = store, namespace

    def get(self, name: str) -> dict[str, Any]:
        return self._store._get(self._namespace, name)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._store._create(self._namespace, obj)

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._store._update(self._namespace, obj)
