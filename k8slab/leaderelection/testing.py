"""An in-memory Lease store for leader election without an API server.

Plays the part client-go's tests give to `fake.Clientset` with reactors
(`tools/leaderelection/leaderelection_test.go`), as a view of k8slab's one
in-memory API server (`k8slab.testing`): Leases are dicts with a
resourceVersion bumped on every write; like the API server, it refuses an
update whose resourceVersion is stale (errors.Conflict), a create of an
existing Lease (errors.AlreadyExists) and a get of a missing one
(errors.NotFound). Every call is recorded in `actions`, and
`fail_next(verb, error)` makes the next call of that verb fail, so tests (and
notebook 11) can watch two electors share one store under a FakeClock.
"""

from __future__ import annotations

from typing import Any

from k8slab import errors
from k8slab.meta import GroupVersionResource
from k8slab.testing import FakeDynamicClient, FakeResourceClient, fail_once

__all__ = ["FakeLeases", "LEASES"]

LEASES = GroupVersionResource("coordination.k8s.io", "v1", "leases")


class FakeLeases(FakeDynamicClient):
    """A `LeasesGetter`: `leases(namespace)` has the get, create and update a LeaseLock calls."""

    def leases(self, namespace: str) -> FakeResourceClient:
        return self.resource(LEASES).namespace(namespace)

    def fail_next(self, verb: str, error: Exception | None = None) -> None:
        """Make the next `verb` ("get", "create", "update") raise `error` (a 500 by default)."""
        self.add_reactor(verb, LEASES.resource, fail_once(error or errors.new_internal_error("injected failure")))

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of the stored Lease, or None."""
        try:
            return self.tracker.get(LEASES, namespace, name)
        except errors.NotFound:
            return None

    def holder(self, namespace: str, name: str) -> str:
        lease = self.lease(namespace, name)
        return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""
