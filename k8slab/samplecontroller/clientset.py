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

`new_for_config` mirrors `NewForConfig`'s rate limits (kubernetes/clientset.go): with
QPS 0, client-go's default, every group version sends through a 5/10 bucket of its own
(`GroupVersionClientset`), so a controller's Deployment writes, Events and Foo status
writes never wait behind one another; a QPS > 0 or a given rate limiter is one bucket for
the whole clientset. sample-controller's main.go builds two clientsets (app.py does too).

Kept: the groups and resources the course's controller, its leader election,
RBAC and notebooks use (`GROUPS`).
Left out: every other resource (use `k8slab.chain.DynamicClient`), typed models.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

from k8slab.chain import DynamicResourceClient, RestConfig, ThrottledApiClient, load_kubeconfig
from k8slab.chain.dynamic import DynamicClient
from k8slab.chain.flowcontrol import DEFAULT_BURST, new_token_bucket_rate_limiter, rate_limiter_for
from k8slab.errors import UsageError
from k8slab.meta import GroupVersionResource

__all__ = ["DictClientset", "GROUPS", "GroupVersionClientset", "TypedClientset", "new_for_config",
           "new_for_kubeconfig"]

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


class GroupVersionClientset(DictClientset):
    """DictClientset whose group versions each send through a limiter of their own.

    `kubernetes.NewForConfig` with QPS 0: every group version's RESTClient gets its
    own 5/10 bucket (rest/config.go `RESTClientForConfigAndClient`), over one HTTP
    client: here a sibling ThrottledApiClient per group version, one connection pool.
    """

    def __init__(self, api_client: ThrottledApiClient, *, qps: float = 0.0, burst: int = 0) -> None:
        super().__init__(api_client)
        self._qps, self._burst = qps, burst
        self._clients: dict[str, ThrottledApiClient] = {}
        self._lock = threading.Lock()

    def _client(self, group: str, version: str) -> ThrottledApiClient:
        key = f"{group}/{version}" if group else version
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                limiter = rate_limiter_for(self._qps, self._burst or DEFAULT_BURST)
                client = self._clients[key] = self.api_client.with_rate_limiter(limiter)
            return client

    def resource(self, gvr: GroupVersionResource) -> DynamicResourceClient:
        return DynamicResourceClient(self._client(gvr.group, gvr.version), gvr)

    def limiters(self) -> dict[str, Any]:
        """Group version -> its limiter, for the group versions used so far."""
        with self._lock:
            return {key: client.rate_limiter for key, client in sorted(self._clients.items())}


def new_for_config(config: RestConfig) -> DictClientset:
    """client-go's `NewForConfig`, its rate limits to the letter (kubernetes/clientset.go).

    A given `config.rate_limiter`, or QPS > 0: one bucket shared by every group version.
    QPS 0 (the default): each group version a 5/10 bucket of its own. QPS < 0: none.
    The dynamic client (`k8slab.chain.DynamicClient`) has one RESTClient, so one bucket.
    """
    http = ThrottledApiClient(config.to_configuration(), None, config.user_agent, config.timeout)
    if config.rate_limiter is not None or config.qps > 0:
        if config.rate_limiter is None and config.burst <= 0:
            raise UsageError(f"burst must be greater than 0 when QPS is set (qps={config.qps:g}, "
                             f"burst={config.burst}); pass burst too")
        shared = config.rate_limiter or new_token_bucket_rate_limiter(config.qps, config.burst)
        return DictClientset(http.with_rate_limiter(shared))
    return GroupVersionClientset(http, qps=config.qps, burst=config.burst)


def new_for_kubeconfig(
    path: str | os.PathLike[str], *, qps: float = 0.0, burst: int = 0, user_agent: str = "",
    rate_limiter: Any = None,
) -> DictClientset:
    """A clientset for a kubeconfig's current context (QPS 0: a 5/10 bucket per group version)."""
    config = load_kubeconfig(path).client_config()
    config.qps, config.burst, config.rate_limiter = qps, burst, rate_limiter
    if user_agent:
        config.user_agent = user_agent
    return new_for_config(config)
