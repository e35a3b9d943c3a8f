"""The lock leader election takes turns on: a coordination.k8s.io/v1 Lease.

Mirrors client-go v0.37.2 `tools/leaderelection/resourcelock/interface.go`
(`LeaderElectionRecord`, `Interface`, `ResourceLockConfig`) and
`resourcelock/leaselock.go` (`LeaseLock`, `LeaseSpecToLeaderElectionRecord`,
`LeaderElectionRecordToLeaseSpec`).

The record says who holds the lock (`holder_identity`, "" when nobody does),
for how long a holder may go without renewing (`lease_duration_seconds`),
when it acquired and last renewed it, and how many times it changed hands
(`leader_transitions`). The Lease is the record's only copy; the lock keeps
the Lease it last read or wrote, so every `update` sends that object's
`resourceVersion` and the API server refuses it (409 Conflict) if anyone
wrote the Lease in between: optimistic concurrency is what stops two
candidates from both winning.

Kept: Get / Create / Update / RecordEvent / Identity / Describe, the record
<-> LeaseSpec conversions, labels applied by the holder, "call get or create
first". The record's times are only informative: the elector never compares
them with its own clock (see leaderelection.py).
Left out: the removed Endpoints/ConfigMap locks and MultiLock, the
coordinated-election fields (`strategy`, `preferredHolder`; read and kept,
never acted on). `get` returns the record only; client-go also returns its
JSON bytes, which the elector compares to notice change: we compare records.

The lock knows no HTTP. It is given a `LeasesGetter`, the slice of a
clientset it needs (client-go's `coordinationv1client.LeasesGetter`):
`client.leases(namespace)` with `get(name)`, `create(obj)`, `update(obj)` on
plain dicts, raising k8slab.errors (NotFound, Conflict, ...).
`k8slab.samplecontroller.clientset` provides one over the chain's RESTClient;
`k8slab.leaderelection.testing.FakeLeases` one in memory.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any, Protocol

from k8slab import errors
from k8slab.record import EventRecorder

__all__ = [
    "EventRecorder", "LeaderElectionRecord", "LeaseInterface", "LeaseLock", "LeasesGetter",
    "ResourceLock", "format_micro_time", "lease_spec_to_leader_election_record",
    "leader_election_record_to_lease_spec", "parse_micro_time",
]

_MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # metav1.MicroTime's RFC 3339 with microseconds


@dataclasses.dataclass(frozen=True)
class LeaderElectionRecord:
    """Who holds the lock, since when, for how long. client-go's `LeaderElectionRecord`."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: dt.datetime | None = None
    renew_time: dt.datetime | None = None
    leader_transitions: int = 0
    strategy: str = ""
    preferred_holder: str = ""


class ResourceLock(Protocol):
    """client-go's `resourcelock.Interface`: what the elector needs from a lock."""

    def get(self) -> LeaderElectionRecord:
        """Read the record; raises errors.NotFound if the lock object does not exist."""

    def create(self, record: LeaderElectionRecord) -> None:
        """Create the lock object holding `record` (errors.AlreadyExists if someone was first)."""

    def update(self, record: LeaderElectionRecord) -> None:
        """Replace the record, conditional on the object last read (errors.Conflict if stale)."""

    def record_event(self, message: str) -> None: ...

    def identity(self) -> str: ...

    def describe(self) -> str: ...


class LeaseInterface(Protocol):
    """Leases of one namespace, as dicts (client-go's `LeaseInterface`, the part used)."""

    def get(self, name: str) -> dict[str, Any]: ...
    def create(self, obj: dict[str, Any]) -> dict[str, Any]: ...
    def update(self, obj: dict[str, Any]) -> dict[str, Any]: ...


class LeasesGetter(Protocol):
    def leases(self, namespace: str) -> LeaseInterface: ...


def format_micro_time(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(dt.timezone.utc).strftime(_MICRO_TIME)


def parse_micro_time(s: str | None) -> dt.datetime | None:
    """A Lease time ("2026-01-01T00:00:00.000000Z"; seconds-only accepted) as an aware datetime."""
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def lease_spec_to_leader_election_record(spec: dict[str, Any]) -> LeaderElectionRecord:
    """A Lease's `spec` as a record; absent fields read as zero values, as in client-go."""
    return LeaderElectionRecord(
        holder_identity=spec.get("holderIdentity") or "",
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        leader_transitions=int(spec.get("leaseTransitions") or 0),
        strategy=spec.get("strategy") or "",
        preferred_holder=spec.get("preferredHolder") or "",
    )


def leader_election_record_to_lease_spec(record: LeaderElectionRecord) -> dict[str, Any]:
    """A record as a Lease `spec` (the holder is written even when empty: that is a release)."""
    spec: dict[str, Any] = {
        "holderIdentity": record.holder_identity,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "acquireTime": format_micro_time(record.acquire_time),
        "renewTime": format_micro_time(record.renew_time),
        "leaseTransitions": record.leader_transitions,
    }
    if record.strategy:
        spec["strategy"] = record.strategy
    if record.preferred_holder:
        spec["preferredHolder"] = record.preferred_holder
    return {k: v for k, v in spec.items() if v is not None}


class LeaseLock:
    """A lock on the Lease `namespace/name`, taken as `identity`.

    `client` is a LeasesGetter (see the module docstring); `labels` are set on
    the Lease by whoever writes it; `event_recorder`, if given, gets a Normal
    "LeaderElection" event on the Lease when this candidate becomes or stops
    being the leader.
    """

    def __init__(
        self,
        namespace: str,
        name: str,
        client: LeasesGetter,
        identity: str,
        *,
        event_recorder: EventRecorder | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.namespace, self.name = namespace, name
        self.client = client
        self._identity = identity
        self.event_recorder = event_recorder
        self.labels = dict(labels) if labels else None
        self.lease: dict[str, Any] | None = None  # the Lease as last read or written

    def get(self) -> LeaderElectionRecord:
        self.lease = self.client.leases(self.namespace).get(self.name)
        return lease_spec_to_leader_election_record(self.lease.get("spec") or {})

    def create(self, record: LeaderElectionRecord) -> None:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": leader_election_record_to_lease_spec(record),
        }
        self.lease = self.client.leases(self.namespace).create(lease)

    def update(self, record: LeaderElectionRecord) -> None:
        if self.lease is None:
            raise errors.UsageError("lease not initialized, call get or create first")
        lease = copy.deepcopy(self.lease)  # keeps metadata.resourceVersion: the update is conditional
        lease["spec"] = leader_election_record_to_lease_spec(record)
        if self.labels:
            lease["metadata"].setdefault("labels", {}).update(self.labels)
        self.lease = self.client.leases(self.namespace).update(lease)

    def record_event(self, message: str) -> None:
        if self.event_recorder is None or self.lease is None:
            return
        subject = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": self.lease.get("metadata", {}),
        }
        self.event_recorder.event(subject, "Normal", "LeaderElection", f"{self._identity} {message}")

    def identity(self) -> str:
        return self._identity

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    def __repr__(self) -> str:
        return f"LeaseLock({self.describe()!r}, identity={self._identity!r})"
