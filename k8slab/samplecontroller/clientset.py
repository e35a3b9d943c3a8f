"""The clients sample-controller is handed: the typed clientsets' shape over the dynamic client.

sample-controller receives two clientsets: `kubernetes.Interface` (client-go's
`kubernetes/clientset.go`) for Deployments and Events, and the generated
`pkg/generated/clientset/versioned` for its own Foos. Both are typed in Go.
k8slab's informers cache plain dicts, so the controller writes plain dicts
too, through client-go's dynamic client (`k8slab.chain.dynamic`). The
accessors keep the typed shape, so the controller reads as the Go does:

    cs.apps_v1().deployments("demo").create(deployment, field_manager="sample-controller")
    cs.samplecontroller_v1alpha1().foos("demo").update_status(foo)
    cs.coordination_v1().leases("kube-system").get("sample-controller")

and each is exactly one resource of the dynamic client: `cs.apps_v1().deployments(ns)`
is `dynamic.resource(GroupVersionResource("apps", "v1", "deployments")).namespace(ns)`.
`TypedClientset` builds that shape over any dynamic client: `DictClientset`
is the real dynamic client with it on top, samplecontroller/fake.py's
`FakeClientset` the fake one (as client-go's fake clientset embeds its `Fake`).

Kept: the groups and resources the course's controller, its leader election,
RBAC and notebooks use (`GROUPS`).
Left out: every other resource (use `k8slab.chain.DynamicClient`), typed models.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from k8slab.chain import RestConfig, api_client_for, load_kubeconfig
from k8slab.chain.dynamic import DynamicClient
from k8slab.meta import GroupVersionResource

__all__ = ["DictClientset", "GROUPS", "TypedClientset", "new_for_config", "new_for_kubeconfig"]

# accessor -> (API group, version, {accessor of a resource: (resource, namespaced?)})
GROUPS: dict[str, tuple[str, str, dict[str, tuple[str, bool]]]] = {
    "core_v1": ("", "v1", {"events": ("events", True), "pods": ("pods", True),
                           "namespaces": ("namespaces", False), "nodes": ("nodes", False)}),
    "apps_v1": ("apps", "v1", {"deployments": ("deployments", True), "replica_sets": ("replicasets", True)}),
    "coordination_v1": ("coordination.k8s.io", "v1", {"leases": ("leases", True)}),
    "rbac_v1": ("rbac.authorization.k8s.io", "v1", {
        "cluster_roles": ("clusterroles", False), "cluster_role_bindings": ("clusterrolebindings", False),
        "roles": ("roles", True), "role_bindings": ("rolebindings", True)}),
    "apiextensions_v1": ("apiextensions.k8s.io", "v1", {
        "custom_resource_definitions": ("customresourcedefinitions", False)}),
    "samplecontroller_v1alpha1": ("samplecontroller.k8s.io", "v1alpha1", {"foos": ("foos", True)}),
}


class TypedClientset:
    """`cs.<group version>().<resource>([namespace])`, each a resource of `dynamic`."""

    def __init__(self, dynamic: Any) -> None:
        self.dynamic = dynamic

    def __getattr__(self, accessor: str) -> Callable[[], "_GroupVersion"]:
        if accessor not in GROUPS:
            raise AttributeError(f"{type(self).__name__} has no group version {accessor!r}; it has {sorted(GROUPS)}")
        return lambda: _GroupVersion(self.dynamic, *GROUPS[accessor])

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(GROUPS))


class _GroupVersion:
    def __init__(self, dynamic: Any, group: str, version: str, resources: dict[str, tuple[str, bool]]) -> None:
        self._dynamic, self._group, self._version, self._resources = dynamic, group, version, resources

    def __getattr__(self, accessor: str) -> Callable[..., Any]:
        if accessor.startswith("_") or accessor not in self._resources:
            raise AttributeError(f"{self._group or 'core'}/{self._version} has no resource {accessor!r} here; "
                                 f"it has {sorted(self._resources)}")
        resource, namespaced = self._resources[accessor]
        client = self._dynamic.resource(GroupVersionResource(self._group, self._version, resource))
        return client.namespace if namespaced else lambda: client


class DictClientset(DynamicClient, TypedClientset):
    """The chain's dynamic client with the typed shape on top: one ApiClient (one rate limiter) for every group."""

    def __init__(self, api_client: Any) -> None:
        DynamicClient.__init__(self, api_client)
        TypedClientset.__init__(self, self)


def new_for_config(config: RestConfig) -> DictClientset:
    """client-go's `NewForConfig`: one throttled client (the config's QPS/Burst) for all groups."""
    return DictClientset(api_client_for(config))


def new_for_kubeconfig(
    path: str | os.PathLike[str], *, qps: float = 0.0, burst: int = 0, user_agent: str = ""
) -> DictClientset:
    """A clientset for a kubeconfig's current context; qps/burst 0 mean client-go's 5/10."""
    config = load_kubeconfig(path).client_config()
    config.qps, config.burst = qps, burst
    if user_agent:
        config.user_agent = user_agent
    return new_for_config(config)
