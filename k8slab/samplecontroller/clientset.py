"""The clients sample-controller is handed, on plain dicts.

sample-controller receives two clientsets: `kubernetes.Interface` (client-go's
`kubernetes/clientset.go`) for Deployments and Events, and the generated
`pkg/generated/clientset/versioned` for its own Foos. Both are typed in Go.
k8slab's informers cache plain dicts, so the controller writes plain dicts
too: `DictClientset` keeps the typed clientsets' shape

    cs.apps_v1().deployments("demo").create(deployment, field_manager="sample-controller")
    cs.samplecontroller_v1alpha1().foos("demo").update_status(foo)
    cs.coordination_v1().leases("kube-system").get("sample-controller")

with the content of client-go's dynamic client (`dynamic/simple.go`:
unstructured objects in, unstructured objects out), and sends every request
through `k8slab.chain.RESTClient`, so errors are k8slab errors (NotFound,
Conflict, Forbidden, ...) and the config's QPS/Burst applies to all of it.

Kept: get, list, create, update, update_status, patch, delete on the
resources the course's controller, its leader election and its notebooks
use; `field_manager` and `dry_run` as query parameters; delete options
(`propagation_policy`, `grace_period_seconds`, `preconditions`).
Left out: watch (informers use `k8slab.cache.ListWatch`), apply, every
other resource.
"""

from __future__ import annotations

import os
from typing import Any

from k8slab.chain import RESTClient, RestConfig, api_client_for, load_kubeconfig

__all__ = ["DictClientset", "ResourceClient", "new_for_config", "new_for_kubeconfig"]


class ResourceClient:
    """One resource of one group version, in one namespace (or cluster-scoped)."""

    def __init__(self, rest: RESTClient, resource: str, namespace: str | None = None) -> None:
        self.rest, self.resource, self.namespace = rest, resource, namespace

    def _request(self, verb: str, name: str = "", *subresource: str, start: Any = None) -> Any:
        """A request for this resource; `start`: one already begun (a PATCH with its content type)."""
        request = start if start is not None else self.rest.verb(verb)
        if self.namespace:
            request = request.namespace(self.namespace)
        request = request.resource(self.resource)
        if name:
            request = request.name(name)
        if subresource:
            request = request.subresource(*subresource)
        return request

    def get(self, name: str) -> dict[str, Any]:
        return self._request("GET", name).do().json()

    def list(self, **options: Any) -> dict[str, Any]:
        """The List (`items`, `metadata`); options as ListOptions in snake case."""
        return self._request("GET").params(**options).do().json()

    def create(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        return self._request("POST").params(**options).body(obj).do().json()

    def update(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        """PUT the whole object; with `metadata.resourceVersion` set it is conditional."""
        return self._request("PUT", obj["metadata"]["name"]).params(**options).body(obj).do().json()

    def update_status(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        """PUT the status subresource: the server keeps the stored spec, whatever `obj` says."""
        request = self._request("PUT", obj["metadata"]["name"], "status")
        return request.params(**options).body(obj).do().json()

    def patch(self, name: str, body: Any, patch_type: str = "merge", **options: Any) -> dict[str, Any]:
        """`patch_type`: merge (default), json, strategic or apply."""
        request = self._request("PATCH", name, start=self.rest.patch(patch_type))
        return request.params(**options).body(body).do().json()

    def delete(
        self,
        name: str,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """DELETE with DeleteOptions; `propagation_policy`: Background, Foreground or Orphan."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        return self._request("DELETE", name).body(options).do().json()

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"<ResourceClient {self.rest.base} {self.resource}{where}>"


class _GroupVersion:
    def __init__(self, api_client: Any, group: str, version: str) -> None:
        self.rest = RESTClient(api_client, group=group, version=version)

    def _namespaced(self, resource: str, namespace: str) -> ResourceClient:
        return ResourceClient(self.rest, resource, namespace)

    def _cluster(self, resource: str) -> ResourceClient:
        return ResourceClient(self.rest, resource)


class CoreV1(_GroupVersion):
    def events(self, namespace: str) -> ResourceClient:
        return self._namespaced("events", namespace)

    def pods(self, namespace: str) -> ResourceClient:
        return self._namespaced("pods", namespace)

    def namespaces(self) -> ResourceClient:
        return self._cluster("namespaces")

    def nodes(self) -> ResourceClient:
        return self._cluster("nodes")


class AppsV1(_GroupVersion):
    def deployments(self, namespace: str) -> ResourceClient:
        return self._namespaced("deployments", namespace)

    def replica_sets(self, namespace: str) -> ResourceClient:
        return self._namespaced("replicasets", namespace)


class CoordinationV1(_GroupVersion):
    def leases(self, namespace: str) -> ResourceClient:
        return self._namespaced("leases", namespace)


class RbacV1(_GroupVersion):
    def cluster_roles(self) -> ResourceClient:
        return self._cluster("clusterroles")

    def cluster_role_bindings(self) -> ResourceClient:
        return self._cluster("clusterrolebindings")

    def roles(self, namespace: str) -> ResourceClient:
        return self._namespaced("roles", namespace)

    def role_bindings(self, namespace: str) -> ResourceClient:
        return self._namespaced("rolebindings", namespace)


class ApiextensionsV1(_GroupVersion):
    def custom_resource_definitions(self) -> ResourceClient:
        return self._cluster("customresourcedefinitions")


class SamplecontrollerV1alpha1(_GroupVersion):
    """sample-controller's generated `SamplecontrollerV1alpha1Client`."""

    def foos(self, namespace: str) -> ResourceClient:
        return self._namespaced("foos", namespace)


class DictClientset:
    """Typed-clientset shape, dicts inside; one ApiClient (one rate limiter) for every group."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    def core_v1(self) -> CoreV1:
        return CoreV1(self.api_client, "", "v1")

    def apps_v1(self) -> AppsV1:
        return AppsV1(self.api_client, "apps", "v1")

    def coordination_v1(self) -> CoordinationV1:
        return CoordinationV1(self.api_client, "coordination.k8s.io", "v1")

    def rbac_v1(self) -> RbacV1:
        return RbacV1(self.api_client, "rbac.authorization.k8s.io", "v1")

    def apiextensions_v1(self) -> ApiextensionsV1:
        return ApiextensionsV1(self.api_client, "apiextensions.k8s.io", "v1")

    def samplecontroller_v1alpha1(self) -> SamplecontrollerV1alpha1:
        return SamplecontrollerV1alpha1(self.api_client, "samplecontroller.k8s.io", "v1alpha1")

    def close(self) -> None:
        self.api_client.close()

    def __repr__(self) -> str:
        return f"<DictClientset for {self.api_client.configuration.host}>"


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
