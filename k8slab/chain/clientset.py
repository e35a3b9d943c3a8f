"""The clientset: one typed client per API group version, and discovery of what the server serves.

    cs = new_for_config(config)
    cs.core_v1().pods("default").list(label_selector="app=web")
    cs.discovery().groups_frame()       # every served group/version and its Python *Api class

Mirrors client-go v0.37.2 `kubernetes/clientset.go` (`Clientset`, `NewForConfig` and
`NewForConfigAndClient`: one HTTP client for all, and one rate limiter for all only
when QPS > 0 or a RateLimiter is given; `New`: everything on one RESTClient),
`rest/config.go` (`RESTClientForConfigAndClient`: a bucket per group version when
none is shared), `kubernetes/typed/core/v1/core_client.go`
(`CoreV1Client`), `typed/core/v1/pod.go` (`PodInterface`), `discovery/
aggregated_discovery.go` (the `apidiscovery.k8s.io/v2` documents) and
`util/retry/util.go` (`RetryOnConflict`), and discovery's defaults (`setDiscoveryDefaults`:
burst 300, a 32 s timeout). Stands for the `kubernetes` 37.x client's
generated `*Api` classes, which do the work underneath: client-go's generated code
is the shape, the Python client's is the engine. Where client-gen generates a method
per resource, k8slab finds them at run time: each `list_[namespaced_]<kind>` (or
create-only) method of an `*Api` class is one resource, named by its client-gen
plural; a test checks every name against the lab's discovery.

Kept: `NewForConfig`'s rate limits, to the letter (`new_for_config`); one connection
pool under every group version; accessors named as client-go's (`rbac_v1`, not `RbacAuthorizationV1Api`);
namespace "" meaning all namespaces for list and watch; the Python client's models
as results; watch through the group's RESTClient; k8slab errors; preferred versions.
Left out: fake clientsets, `DeleteCollection`, typed apply configurations (apply
takes a dict), legacy (non-aggregated) discovery, custom resources.
"""

from __future__ import annotations

import functools
import inspect
import random
import re
import time
from typing import Any, Callable, Iterator

from k8slab.chain.flowcontrol import DEFAULT_BURST, new_token_bucket_rate_limiter, rate_limiter_for
from k8slab.chain.rest_client import RESTClient, ThrottledApiClient, patch_content_type, translate
from k8slab.chain.rest_config import RestConfig
from k8slab.errors import Conflict, UsageError

__all__ = ["Clientset", "DiscoveryClient", "GroupClient", "ResourceClient", "new_for_config",
           "python_api_class", "retry_on_conflict"]

_API_CLASS = re.compile(r"^(?P<group>(?:[A-Z][a-z]+)+?)(?P<version>V\d+(?:alpha\d+|beta\d+)?)Api$")
_LEGACY_GROUPS = {"apps", "autoscaling", "batch", "policy"}  # API groups without a .k8s.io suffix
_GO_VERBS = {"read": "get", "replace": "update"}  # the Python client's verbs -> client-go's
DISCOVERY_BURST = 300  # discovery_client.go's defaultBurst: discovery is bursty, one request per group (issue 86149)
DISCOVERY_TIMEOUT = 32.0  # ... and its defaultTimeout, for a config without one
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


def python_api_class(group: str, version: str) -> str:
    """The Python client's class for a group version: ("rbac.authorization.k8s.io", "v1") -> RbacAuthorizationV1Api."""
    words = group.removesuffix(".k8s.io").split(".") if group else ["core"]
    return "".join(w.capitalize() for w in words) + version.capitalize() + "Api"


def _accessor(group: str, version: str) -> str:
    """client-gen's name for a group version, in snake case: rbac.authorization.k8s.io/v1 -> rbac_v1."""
    return f"{(group.split('.')[0] or 'core')}_{version}"


@functools.cache
def _group_versions() -> dict[str, tuple[str, str, str]]:
    """accessor -> (API group, version, name of the Python *Api class), from the classes the Python client ships.

    Names, not classes: `kubernetes.client` imports an *Api module (and its models) on first
    access, and importing all 36 of them costs over a second; a group's class is imported when
    its client is first made."""
    import kubernetes.client as kc

    found = {}
    for name in dir(kc):
        m = _API_CLASS.match(name)
        if m:
            words = re.findall(r"[A-Z][a-z]*", m["group"])
            joined = ".".join(w.lower() for w in words)
            group = "" if joined == "core" else joined if joined in _LEGACY_GROUPS else f"{joined}.k8s.io"
            version = m["version"].lower()
            found[_accessor(group, version)] = (group, version, name)
    return found


def _plural(kind: str) -> str:
    """client-gen's pluralisation of a snake-case kind: pod -> pods, network_policy -> network_policies."""
    if kind.endswith("endpoints"):
        return kind
    if kind.endswith(("s", "x", "z", "ch", "sh")):
        return kind + "es"
    if kind.endswith("y") and kind[-2:-1] not in tuple("aeiou"):
        return kind[:-1] + "ies"
    return kind + "s"


@functools.cache
def _resources(api_class: type) -> dict[str, tuple[str, bool]]:
    """plural (snake case) -> (kind in snake case, namespaced?) for each listable resource of an *Api class."""
    found = {}
    for name in dir(api_class):
        if not name.startswith("list_") or name.endswith(("_with_http_info", "_for_all_namespaces")):
            continue
        namespaced = name.startswith("list_namespaced_")
        kind = name.removeprefix("list_namespaced_" if namespaced else "list_")
        found[_plural(kind)] = (kind, namespaced)
    kinds = {kind for kind, _ in found.values()}
    for name in dir(api_class):  # create-only resources (bindings, reviews), not subresources like pod_eviction
        if name.startswith("create_") and not name.endswith("_with_http_info"):
            namespaced = name.startswith("create_namespaced_")
            kind = name.removeprefix("create_namespaced_" if namespaced else "create_")
            if kind not in kinds and not any(kind.startswith(k + "_") for k in kinds):
                found[_plural(kind)] = (kind, namespaced)
    return found


class Clientset:
    """client-go's `kubernetes.Clientset`: `core_v1()`, `apps_v1()`, ... over one ApiClient.

    `Clientset(api_client)` is client-go's `kubernetes.New(c)`: every group version (and
    discovery) sends through that one client and its rate limiter. `new_for_config(config)`
    is `NewForConfig`: `limiter_for(default_burst)` then gives each group version's client
    its limiter, over `api_client`'s connection pool."""

    def __init__(self, api_client: Any, *, limiter_for: Callable[[int], Any] | None = None,
                 discovery_timeout: float | None = None) -> None:
        self.api_client = api_client
        self._limiter_for, self._discovery_timeout = limiter_for, discovery_timeout
        self._groups: dict[str, GroupClient] = {}
        self._discovery: DiscoveryClient | None = None

    def _client(self, default_burst: int, timeout: float | None = None) -> Any:
        """The ApiClient of one more RESTClient: the shared one, or a sibling with its limiter."""
        if self._limiter_for is None:
            return self.api_client
        return self.api_client.with_rate_limiter(self._limiter_for(default_burst), timeout)

    def discovery(self) -> "DiscoveryClient":
        if self._discovery is None:
            self._discovery = DiscoveryClient(RESTClient(self._client(DISCOVERY_BURST, self._discovery_timeout)))
        return self._discovery

    def group_versions(self) -> list[str]:
        """The accessors this clientset has (one per Python *Api class with a version)."""
        return sorted(_group_versions())

    def __getattr__(self, name: str) -> Callable[[], "GroupClient"]:
        gv = _group_versions().get(name)
        if gv is None:
            raise AttributeError(f"Clientset has no group version {name!r}; see group_versions()")
        if name not in self._groups:
            self._groups[name] = GroupClient(self._client(DEFAULT_BURST), *gv)
        client = self._groups[name]
        return lambda: client

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(_group_versions()))

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> "Clientset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Clientset for {self.api_client.configuration.host}, {len(_group_versions())} group versions>"


def new_for_config(config: RestConfig) -> Clientset:
    """client-go's `kubernetes.NewForConfig`: one connection pool for every group version, and
    rate limits as `NewForConfigAndClient` and `RESTClientForConfigAndClient` decide them:

    - `config.rate_limiter` given: that one limiter, shared by every group version and discovery;
    - QPS > 0: one new QPS/Burst bucket, shared the same way (Burst must then be > 0);
    - QPS 0, the default: nothing shared: each group version's RESTClient makes its own bucket,
      5 QPS / burst 10 (or the config's Burst), and discovery one with burst 300, so a program
      using three group versions may send 15 requests a second;
    - QPS < 0: no limiter at all.
    `clientset.api_client` is the shared HTTP client; it carries the shared limiter, if any."""
    shared = config.rate_limiter
    if shared is None and config.qps > 0:
        if config.burst <= 0:
            raise UsageError("burst is required to be greater than 0 when RateLimiter is not set and QPS is set to "
                             f"greater than 0 (qps={config.qps:g}, burst={config.burst}); set RestConfig.burst")
        shared = new_token_bucket_rate_limiter(config.qps, config.burst)
    http = ThrottledApiClient(config.to_configuration(), shared, config.user_agent, config.timeout)

    def limiter_for(default_burst: int) -> Any:
        return shared if shared is not None else rate_limiter_for(config.qps, config.burst or default_burst)

    return Clientset(http, limiter_for=limiter_for, discovery_timeout=config.timeout or DISCOVERY_TIMEOUT)


class GroupClient:
    """A typed client for one group version (client-go's `CoreV1Client`); resources are its methods."""

    def __init__(self, api_client: Any, group: str, version: str, api_class: type | str) -> None:
        import kubernetes.client as kc

        self.api_client, self.group, self.version = api_client, group, version
        api_class = getattr(kc, api_class) if isinstance(api_class, str) else api_class
        self.api = api_class(api_client)  # the Python client's generated class, doing the work

    def rest_client(self) -> RESTClient:
        """The RESTClient under this group version (client-go's `CoreV1().RESTClient()`)."""
        return RESTClient(self.api_client, group=self.group, version=self.version)

    def resources(self) -> list[str]:
        return sorted(_resources(type(self.api)))

    def __getattr__(self, plural: str) -> Callable[..., "ResourceClient"]:
        found = _resources(type(self.api)).get(plural)
        if found is None:
            raise AttributeError(f"{type(self.api).__name__} has no resource {plural!r}; it has: {', '.join(self.resources())}")
        kind, namespaced = found
        if namespaced:
            return lambda namespace: ResourceClient(self, plural, kind, _namespace_arg(namespace, plural))
        return lambda: ResourceClient(self, plural, kind, None)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(_resources(type(self.api))))

    def __repr__(self) -> str:
        return f"<GroupClient {self.group or 'core'}/{self.version}: {type(self.api).__name__}>"


class ResourceClient:
    """One resource, maybe in one namespace (client-go's `PodInterface`); results are the Python client's models."""

    def __init__(self, group: GroupClient, plural: str, kind: str, namespace: str | None) -> None:
        self._group, self.plural, self.kind, self.namespace = group, plural, kind, namespace

    def _call(self, verb: str, *args: Any, name: str = "", suffix: str = "", **kwargs: Any) -> Any:
        scoped = self.namespace is not None
        if scoped and not self.namespace:  # "": all namespaces, which only list can use
            if verb != "list":
                raise UsageError(f"{verb} {self.plural}: a {self.kind} lives in a namespace; pass one to {self.plural}(namespace)")
            method = f"list_{self.kind}_for_all_namespaces"
        else:
            method = f"{verb}_namespaced_{self.kind}{suffix}" if scoped else f"{verb}_{self.kind}{suffix}"
        positional = ([name] if name else []) + ([self.namespace] if scoped and self.namespace else []) + list(args)
        where = f" in namespace {self.namespace!r}" if self.namespace else ""
        what = f"{_GO_VERBS.get(verb, verb)} {self.plural}" + (f" {name!r}" if name else "") + where
        if "continue_" in kwargs:
            kwargs["_continue"] = kwargs.pop("continue_")
        try:
            return getattr(self._group.api, method)(*positional, **kwargs)
        except Exception as exc:
            raise translate(exc, what, self._group.api_client.configuration.host) from None

    def get(self, name: str, **options: Any) -> Any:
        return self._call("read", name=name, **options)

    def list(self, **options: Any) -> Any:
        """ListOptions as keywords: label_selector, field_selector, limit, continue_, resource_version, ..."""
        return self._call("list", **options)

    def create(self, obj: Any, **options: Any) -> Any:
        return self._call("create", obj, **options)

    def update(self, obj: Any, **options: Any) -> Any:
        return self._call("replace", obj, name=_name_of(obj), **options)

    def update_status(self, obj: Any, **options: Any) -> Any:
        """Replace the status subresource (the spec in `obj` is ignored by the server)."""
        return self._call("replace", obj, name=_name_of(obj), suffix="_status", **options)

    def delete(self, name: str, **options: Any) -> None:
        self._call("delete", name=name, **options)

    def patch(self, name: str, body: Any, patch_type: str = "strategic", **options: Any) -> Any:
        """`patch_type`: strategic (default, as kubectl), merge, json (a list of operations) or apply."""
        return self._call("patch", body, name=name, _content_type=patch_content_type(patch_type), **options)

    def apply(self, obj: dict[str, Any], *, field_manager: str, force: bool = False) -> Any:
        """Server-side apply: send the fields you own; the server merges and tracks owners."""
        return self.patch(_name_of(obj), obj, "apply", field_manager=field_manager, force=force)

    def watch(self, **options: Any) -> Any:
        """A `Watcher` of typed events, through the group's RESTClient."""
        request = self._group.rest_client().get()
        if self.namespace:
            request.namespace(self.namespace)
        model = inspect.signature(getattr(self._group.api, f"read_{'namespaced_' if self.namespace is not None else ''}{self.kind}")).return_annotation
        return request.resource(self.plural.replace("_", "")).params(**options).watch(into=model)

    def __repr__(self) -> str:
        where = "" if self.namespace is None else f" in {self.namespace or 'all namespaces'}"
        return f"<ResourceClient {self.plural}{where}>"


def _namespace_arg(namespace: Any, plural: str) -> str:
    if not isinstance(namespace, str):
        raise UsageError(f"{plural}(namespace): namespace must be a string ('' for all namespaces), not {namespace!r}")
    return namespace


def _name_of(obj: Any) -> str:
    meta = obj.get("metadata", {}) if isinstance(obj, dict) else getattr(obj, "metadata", None)
    name = meta.get("name") if isinstance(meta, dict) else getattr(meta, "name", None)
    if not name:
        raise UsageError("the object has no metadata.name; set it before update/apply")
    return str(name)


class DiscoveryClient:
    """What the server serves, from its aggregated discovery documents (`/api` and `/apis`)."""

    def __init__(self, rest: RESTClient) -> None:
        self.rest = rest

    def server_groups_and_resources(self) -> list[dict[str, Any]]:
        """The `APIGroupDiscovery` items, the core group first; each version's resources inside."""
        items = []
        for path in ("/api", "/apis"):
            doc = self.rest.get().abs_path(path).set_header("Accept", AGGREGATED_DISCOVERY).do().json()
            if doc.get("kind") != "APIGroupDiscoveryList":
                raise UsageError(f"{path} did not answer with aggregated discovery (kind {doc.get('kind')!r}); "
                                 "k8slab needs Kubernetes 1.30 or later")
            items += doc.get("items", [])
        return items

    def _served(self, group: str | None = None) -> Iterator[tuple[str, int, dict[str, Any]]]:
        """(group, rank, version entry) for each served group version; rank 0 is the preferred one."""
        for item in self.server_groups_and_resources():
            name = item.get("metadata", {}).get("name", "")
            if group is None or name == group:
                yield from ((name, i, v) for i, v in enumerate(item.get("versions", [])))

    def groups_frame(self) -> Any:
        """One row per served group version: the clientset accessor and the Python class standing for it."""
        import kubernetes.client as kc
        import pandas as pd

        rows = []
        for group, rank, v in self._served():
            cls, accessor = python_api_class(group, v["version"]), _accessor(group, v["version"])
            rows.append({"group": group or "(core)", "version": v["version"], "preferred": rank == 0,
                         "resources": len(v.get("resources", [])),
                         "client-go": "".join(w.capitalize() for w in accessor.split("_")) + "()",
                         "k8slab": f"{accessor}()", "python class": cls if hasattr(kc, cls) else "(none in kubernetes 37)"})
        return pd.DataFrame(rows)

    def resources_frame(self, group: str | None = None) -> Any:
        """One row per resource (subresources left out), optionally of one group ("" for core)."""
        import kubernetes.client as kc
        import pandas as pd

        rows = []
        for g, _, v in self._served(group):
            accessor = _accessor(g, v["version"])
            gv = _group_versions().get(accessor)  # batch.tutorial.kubebuilder.io/v1 is not batch_v1
            api_class = getattr(kc, gv[2]) if gv and gv[0] == g else None
            ours = {p.replace("_", ""): p for p in _resources(api_class)} if api_class else {}
            for r in v.get("resources", []):
                namespaced, plural = r.get("scope") == "Namespaced", ours.get(r["resource"])
                rows.append({"group": g or "(core)", "version": v["version"], "resource": r["resource"],
                             "kind": r.get("responseKind", {}).get("kind", ""), "namespaced": namespaced,
                             "verbs": ",".join(r.get("verbs", [])),
                             "k8slab": f"{accessor}().{plural}({'namespace' if namespaced else ''})" if plural else ""})
        return pd.DataFrame(rows)


def retry_on_conflict(fn: Callable[[], Any], *, steps: int = 5, delay: float = 0.010, jitter: float = 0.1,
                      sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run `fn` again while it raises Conflict, at most `steps` times (client-go's
    `retry.RetryOnConflict(retry.DefaultRetry, fn)`: 5 tries, 10 ms apart, 10% jitter).
    `fn` must get the object afresh, change it and update it; the last Conflict propagates."""
    for attempt in range(steps):
        try:
            return fn()
        except Conflict:
            if attempt == steps - 1:
                raise
            sleep(delay * (1 + random.random() * jitter))
    return None  # pragma: no cover - the loop returns or raises
