"""sample-controller grown into an operator: a finalizer, observedGeneration and conditions.

sample-controller stops where most real operators start. Notebook 12 runs
this subclass to show three patterns it leaves out, each a few lines here:

- **A finalizer** (`samplecontroller.k8s.io/cleanup`). Garbage collection
  removes the Deployment once its Foo is gone, through the owner reference;
  it cannot clean up anything outside the cluster (or in another namespace,
  where owner references may not point). The operator puts its finalizer on
  every Foo it sees; a deleted Foo then stays, with a `deletionTimestamp`,
  until the operator has cleaned up and removed the finalizer. Here "outside"
  is `ExternalRegistry`, a stand-in for a cloud API or a DNS zone.
- **observedGeneration**. The API server bumps `metadata.generation` on
  every spec change (never on status changes, thanks to the status
  subresource). Writing the generation we acted on into
  `status.observedGeneration` lets anyone tell a status that is up to date
  from one that predates the last change.
- **Conditions**. `status.conditions` of type `Available`, as Deployments
  report theirs: status True/False, a CamelCase reason, a message, and a
  `lastTransitionTime` that moves only when the status flips (apimachinery's
  `meta.SetStatusCondition`, in k8slab/meta.py).

RBAC: on top of the controller's ClusterRole, the operator updates Foos
(to add and remove its finalizer): `rbac.install_rbac(..., extra_rules=OPERATOR_RULES)`.

As a process (`python -m k8slab.samplecontroller --external-dir DIR`, and
`k8slab.operators.run("k8slab", ..., external_dir=DIR)`), the outside world is
a `DirectoryRegistry`: one file per Foo, which the controller-runtime and
kopf versions of this operator (k8slab/operators/) write the same way, so
notebook 14 can read what any of them left behind.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from k8slab import errors
from k8slab.cache import SharedIndexInformer, deep_copy, split_meta_namespace_key
from k8slab.meta import add_finalizer, contains_finalizer, remove_finalizer, set_status_condition
from k8slab.record import NORMAL
from k8slab.samplecontroller.controller import FIELD_MANAGER, Controller, new_controller

__all__ = ["FINALIZER", "OPERATOR_RULES", "DirectoryRegistry", "ExternalRegistry", "OperatorController",
           "new_operator"]

FINALIZER = "samplecontroller.k8s.io/cleanup"
OPERATOR_RULES = [{"apiGroups": ["samplecontroller.k8s.io"], "resources": ["foos"], "verbs": ["update"]}]


class ExternalRegistry:
    """Something outside the cluster that holds a record per Foo (a stand-in for a cloud API)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, int] = {}
        self.log: list[str] = []

    def register(self, key: str, replicas: int) -> None:
        with self._lock:
            if self._records.get(key) != replicas:
                self.log.append(f"register {key} ({replicas} replicas)")
            self._records[key] = replicas

    def deregister(self, key: str) -> None:
        with self._lock:
            if self._records.pop(key, None) is not None:
                self.log.append(f"deregister {key}")

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._records)


class DirectoryRegistry:
    """`ExternalRegistry` as files: "<namespace>.<name>" in `path`, holding the replicas registered.

    Shared by processes and languages (k8slab/operators/assets/crfoo/operator.go writes the same
    files); a namespace has no dot, so the first dot of a file name ends it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        namespace, _, name = key.partition("/")
        return self.path / f"{namespace}.{name}"

    def register(self, key: str, replicas: int) -> None:
        tmp = self._file(key).with_name(self._file(key).name + ".tmp")
        tmp.write_text(str(replicas))
        tmp.replace(self._file(key))  # a rename: a reader never sees half a record

    def deregister(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)

    def records(self) -> dict[str, int]:
        """key -> replicas, for every record there now."""
        out = {}
        for f in self.path.iterdir():
            if f.is_file() and not f.name.endswith(".tmp"):
                namespace, _, name = f.name.partition(".")
                try:
                    out[f"{namespace}/{name}"] = int(f.read_text() or 0)
                except (OSError, ValueError):  # deleted or being replaced right now
                    continue
        return dict(sorted(out.items()))

    def keys(self) -> list[str]:
        return list(self.records())

    def __repr__(self) -> str:
        return f"<DirectoryRegistry {len(self.keys())} records>"


class OperatorController(Controller):
    """The sample controller plus a finalizer, observedGeneration and an Available condition."""

    registry: ExternalRegistry

    def sync_handler(self, key: str) -> None:
        namespace, name = split_meta_namespace_key(key)
        try:
            foo = self.foos_lister.namespace(namespace).get(name)
        except errors.NotFound:
            return  # gone: the finalizer already did its work
        foos = self.sampleclientset.samplecontroller_v1alpha1().foos(namespace)

        if foo["metadata"].get("deletionTimestamp"):
            # Being deleted: clean up outside the cluster, then let go. An error
            # in either step raises (requeue): the Foo waits for us meanwhile.
            if contains_finalizer(foo, FINALIZER):
                self.registry.deregister(key)
                foo_copy = deep_copy(foo)
                remove_finalizer(foo_copy, FINALIZER)
                foos.update(foo_copy, field_manager=FIELD_MANAGER)
                self.recorder.event(foo, NORMAL, "Finalized", "external record removed")
            return

        if not contains_finalizer(foo, FINALIZER):
            # First sight: claim the right to clean up before anything exists
            # outside. The update's watch event brings the Foo back to us.
            foo_copy = deep_copy(foo)
            add_finalizer(foo_copy, FINALIZER)
            foos.update(foo_copy, field_manager=FIELD_MANAGER)
            return

        super().sync_handler(key)
        self.registry.register(key, foo["spec"].get("replicas") or 0)

    def update_foo_status(self, foo: dict[str, Any], deployment: dict[str, Any]) -> None:
        foo_copy = deep_copy(foo)  # never modify the cache's object
        status = foo_copy.setdefault("status", {})
        available = (deployment.get("status") or {}).get("availableReplicas", 0)
        wanted = foo["spec"].get("replicas") or 0
        generation = foo["metadata"].get("generation", 0)
        status["availableReplicas"] = available
        status["observedGeneration"] = generation
        ok = available >= wanted and (deployment.get("status") or {}).get("observedGeneration", 0) >= \
            deployment["metadata"].get("generation", 0)
        set_status_condition(status.setdefault("conditions", []), {
            "type": "Available",
            "status": "True" if ok else "False",
            "reason": "MinimumReplicasAvailable" if ok else "ReplicasUnavailable",
            "message": f"{available} of {wanted} replicas available",
            "observedGeneration": generation,
        })
        namespace = foo["metadata"]["namespace"]
        self.sampleclientset.samplecontroller_v1alpha1().foos(namespace).update_status(
            foo_copy, field_manager=FIELD_MANAGER)


def new_operator(
    kubeclientset: Any,
    sampleclientset: Any,
    deployment_informer: SharedIndexInformer,
    foo_informer: SharedIndexInformer,
    registry: ExternalRegistry,
    **kwargs: Any,
) -> OperatorController:
    """Like `new_controller`, with the operator's sync and status."""
    controller = new_controller(kubeclientset, sampleclientset, deployment_informer, foo_informer,
                                controller_class=OperatorController, **kwargs)
    assert isinstance(controller, OperatorController)
    controller.registry = registry
    return controller
