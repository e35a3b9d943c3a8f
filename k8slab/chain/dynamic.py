"""The dynamic client: any resource, plain dicts in and out; and a RESTMapper from discovery.

    dyn = DynamicClient(api_client)                          # or dynamic.new_for_config(config)
    deployments = dyn.resource(GroupVersionResource("apps", "v1", "deployments"))
    deployments.namespace("demo").get("web")                 # a dict
    deployments.list(label_selector="app=web")               # every namespace
    mapper = DeferredDiscoveryRESTMapper(Clientset(api_client).discovery())
    mapper.rest_mapping("apps", "Deployment")                # resource, kind, scope

Mirrors client-go v0.37.2 `dynamic/interface.go` (`Interface`,
`NamespaceableResourceInterface`, `ResourceInterface`), `dynamic/simple.go`
(`DynamicClient`, `NewForConfig`, `dynamicResourceClient` and the paths it
builds) and `restmapper/discovery.go` (`NewDiscoveryRESTMapper`,
`DeferredDiscoveryRESTMapper`). Every request goes through the chain's
RESTClient, so errors are k8slab errors (NotFound, Conflict, Forbidden, ...)
and the config's QPS/Burst applies to all of it.

Kept: get, list, watch, create, update, update_status, patch and delete, with
subresources; options as ListOptions, CreateOptions, ... in snake case
(`label_selector`, `field_manager`, `dry_run`); DeleteOptions
(`propagation_policy`, `grace_period_seconds`, `preconditions`); namespace ""
meaning a cluster-scoped resource, or every namespace for list and watch; a
merge patch by default, as the one patch every resource accepts (custom
resources refuse strategic merge patches). The mapper: one mapping per
resource of aggregated discovery, in its order (the core group first, each
group's preferred version first); discovered on first use, and once more
when a lookup finds nothing in a table it did not discover just now (a CRD
installed since), as the deferred mapper does with a stale cache.
Left out: `DeleteCollection`, `Apply` (patch with patch_type "apply"), watch
events as objects of a type (they are dicts), legacy discovery.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from k8slab.chain.rest_client import RESTClient, Watcher, api_client_for
from k8slab.chain.rest_config import RestConfig
from k8slab.meta import SCOPE_NAMESPACE, SCOPE_ROOT, GroupVersionKind, GroupVersionResource, RESTMapper, RESTMapping

__all__ = ["DeferredDiscoveryRESTMapper", "DynamicClient", "DynamicResourceClient", "new_discovery_rest_mapper",
           "new_for_config"]


class DynamicClient:
    """client-go's `dynamic.DynamicClient`: `resource(gvr)` for any resource the server serves."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    def resource(self, gvr: GroupVersionResource) -> "DynamicResourceClient":
        return DynamicResourceClient(self.api_client, gvr)

    def close(self) -> None:
        self.api_client.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.api_client.configuration.host}>"


def new_for_config(config: RestConfig) -> DynamicClient:
    """`dynamic.NewForConfig`: one throttled client (the config's QPS/Burst) for every resource."""
    return DynamicClient(api_client_for(config))


class DynamicResourceClient:
    """One resource, in one namespace (`namespace(ns)`) or none: client-go's `dynamicResourceClient`."""

    def __init__(self, api_client: Any, gvr: GroupVersionResource, namespace: str = "") -> None:
        self.gvr, self._namespace = gvr, namespace
        self.rest = RESTClient(api_client, group=gvr.group, version=gvr.version)

    def namespace(self, namespace: str) -> "DynamicResourceClient":
        return DynamicResourceClient(self.rest.api_client, self.gvr, namespace)

    def _request(self, verb: str, name: str = "", subresources: tuple[str, ...] = (), start: Any = None) -> Any:
        """/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]."""
        request = start if start is not None else self.rest.verb(verb)
        if self._namespace:
            request = request.namespace(self._namespace)
        request = request.resource(self.gvr.resource)
        if name:
            request = request.name(name)
        if subresources:
            request = request.subresource(*subresources)
        return request

    def get(self, name: str, *subresources: str, **options: Any) -> dict[str, Any]:
        return self._request("GET", name, subresources).params(**options).do().json()

    def list(self, **options: Any) -> dict[str, Any]:
        """The List (`items`, `metadata`); options as ListOptions in snake case."""
        return self._request("GET").params(**options).do().json()

    def watch(self, **options: Any) -> Watcher:
        return self._request("GET").params(**options).watch()

    def create(self, obj: dict[str, Any], *subresources: str, **options: Any) -> dict[str, Any]:
        """POST `obj`; with subresources (a pod's eviction) to the object's own path."""
        name = obj["metadata"]["name"] if subresources else ""
        return self._request("POST", name, subresources).params(**options).body(obj).do().json()

    def update(self, obj: dict[str, Any], *subresources: str, **options: Any) -> dict[str, Any]:
        """PUT the whole object; with `metadata.resourceVersion` set it is conditional."""
        request = self._request("PUT", obj["metadata"]["name"], subresources)
        return request.params(**options).body(obj).do().json()

    def update_status(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        """PUT the status subresource: the server keeps the stored spec, whatever `obj` says."""
        return self.update(obj, "status", **options)

    def patch(self, name: str, body: Any, patch_type: str = "merge", *subresources: str,
              **options: Any) -> dict[str, Any]:
        """`patch_type`: merge (default), json, strategic or apply."""
        request = self._request("PATCH", name, subresources, start=self.rest.patch(patch_type))
        return request.params(**options).body(body).do().json()

    def delete(self, name: str, *subresources: str, propagation_policy: str | None = None,
               grace_period_seconds: int | None = None, preconditions: dict[str, str] | None = None) -> dict[str, Any]:
        """DELETE with DeleteOptions; `propagation_policy`: Background, Foreground or Orphan."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        return self._request("DELETE", name, subresources).body(options).do().json()

    def __repr__(self) -> str:
        where = f" in {self._namespace}" if self._namespace else ""
        return f"<DynamicResourceClient {self.rest.base} {self.gvr.resource}{where}>"


def new_discovery_rest_mapper(groups: list[dict[str, Any]]) -> RESTMapper:
    """`NewDiscoveryRESTMapper`: a mapper from aggregated discovery's `APIGroupDiscovery` items."""
    mapper = RESTMapper()
    for item in groups:
        group = item.get("metadata", {}).get("name", "")
        for version in item.get("versions", []):  # the preferred version first
            for r in version.get("resources", []):  # subresources sit inside each resource
                kind = (r.get("responseKind") or {}).get("kind")
                if kind:
                    scope = SCOPE_NAMESPACE if r.get("scope") == "Namespaced" else SCOPE_ROOT
                    mapper.add(GroupVersionKind(group, version["version"], kind), scope, r["resource"],
                               r.get("singularResource", ""))
    return mapper


class DeferredDiscoveryRESTMapper(RESTMapper):
    """A RESTMapper that asks discovery (`server_groups_and_resources()`) when it first needs to."""

    def __init__(self, discovery: Any) -> None:
        super().__init__()
        self.discovery = discovery
        self._loaded = False
        self._load_lock = threading.Lock()

    def reset(self) -> None:
        """Forget what discovery said: the next lookup asks again."""
        with self._load_lock:
            self._loaded = False

    def _discover(self) -> None:
        fresh = new_discovery_rest_mapper(self.discovery.server_groups_and_resources())
        with self._load_lock:
            self._mappings, self._loaded = fresh._mappings, True

    def _search(self, match: Callable[[RESTMapping, str], bool]) -> list[RESTMapping]:
        just_discovered = not self._loaded
        if just_discovered:
            self._discover()
        found = super()._search(match)
        if not found and not just_discovered:  # something new may be served since: look again, once
            self._discover()
            found = super()._search(match)
        return found
