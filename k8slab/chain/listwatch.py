"""ListWatch: the ListerWatcher of one resource, over the chain's RESTClient.

    lw = ListWatch.for_resource(lab, "configmaps", namespace="demo")
    lw.list({"resource_version": "0", "limit": 500})    # the List, as a dict
    w = lw.watch({"resource_version": rv, "allow_watch_bookmarks": True})
    for event in w: ...                                 # {"type": ..., "object": {...}}
    w.stop()                                            # from any thread

    factory = SharedInformerFactory(lister_watcher_for(lab, namespace="demo"))
    factory.informer_for("deployments.apps")            # "resource[.version].group"

Mirrors client-go v0.37.2 `tools/cache/listwatch.go` (`ListWatch`,
`NewFilteredListWatchFromClient`) over `k8slab.chain.RESTClient` (client-go's
`rest.Interface`). It lives in the chain, beside the REST client it uses: the
cache sees only the `ListerWatcher` protocol (cache/listwatch_types.py) and
knows no HTTP.

Kept:
- One resource of one group version, in one namespace or all of them, with
  a label and a field selector added to every list and watch (client-go's
  `optionsModifier`). Options come in as the ListerWatcher protocol's dict
  and go out as metav1.ListOptions query parameters.
- Objects are plain dicts: `json.loads` of the body, nothing else, on the
  hot path. A watch is read by `k8slab.watch.StreamWatcher`, the one decoder
  of watch streams (its docstring says how a stream ends).
- Errors as the protocol says: an HTTP failure becomes its `APIError`
  (410 `Gone`, 429 `TooManyRequests`, ...), no answer `ServerUnreachable`.
  An ERROR event is passed on as an event (the reflector turns its Status
  into `Gone` and relists; `k8slab.watch.status_error` does that for anyone).
- `lister_watcher_for`: one ListWatch per resource key for the informer
  factory, versions found by discovery (`GET /apis/<group>`'s preferred one).
Left out: contexts, protobuf/CBOR, `WatchListClient` semantics checks, the
typed `ListFunc`/`WatchFunc` pair (build your own ListerWatcher: any object
with `list(options)` and `watch(options)` will do).

The client: from a kubeconfig, a `RestConfig` or a lab, requests go through
the chain's throttled client (client-go's 5 QPS / burst 10 unless the config
says otherwise), shared by every ListWatch made from the same `lister_watcher_for`;
from an `ApiClient` or a `RESTClient`, through that client as it is.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any, Callable

from k8slab import errors
from k8slab.chain.kubeconfig import load_kubeconfig
from k8slab.chain.rest_client import RESTClient, api_client_for
from k8slab.chain.rest_config import RestConfig
from k8slab.watch import StreamWatcher

__all__ = ["ListWatch", "api_client_from", "lister_watcher_for", "parse_resource_key"]

# The protocol's option names, in the order client-go's ListOptions declares them;
# the RESTClient turns each into its camelCase query parameter.
_OPTION_NAMES = (
    "label_selector",
    "field_selector",
    "allow_watch_bookmarks",
    "resource_version",
    "resource_version_match",
    "timeout_seconds",
    "limit",
    "continue_",
    "send_initial_events",
)


def api_client_from(source: Any) -> Any:
    """The `kubernetes.client.ApiClient`-like object requests for `source` go through.

    `source` is one of: an ApiClient (used as is), a chain `RESTClient` (its
    client), a chain `RestConfig`, a kubeconfig path, or a cluster object with
    a `kubeconfig` attribute (`k8slab.connect()`'s lab or ExternalCluster).
    The last three build a client with the config's QPS/Burst throttling.
    """
    if isinstance(source, RESTClient):
        return source.api_client
    if hasattr(source, "call_api") and hasattr(source, "param_serialize"):
        return source
    if isinstance(source, RestConfig):
        return api_client_for(source)
    path = getattr(source, "kubeconfig", source)
    if isinstance(path, (str, os.PathLike)):
        return api_client_for(load_kubeconfig(path).client_config())
    raise errors.UsageError(
        f"cannot make an API client from {type(source).__name__}; pass an ApiClient, a "
        "RESTClient, a RestConfig, a kubeconfig path, or the lab (k8slab.connect())"
    )


class ListWatch:
    """Lists and watches `resource` of `group/version`, in `namespace` or all namespaces.

    `rest_client` is a chain `RESTClient` for that group version. Most callers
    use `ListWatch.for_resource(source, resource, ...)` instead.
    """

    def __init__(
        self,
        rest_client: Any,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> None:
        if not resource:
            raise errors.UsageError("ListWatch needs a resource name, e.g. 'configmaps'")
        self.rest_client = rest_client
        self.resource = resource
        self.namespace = namespace or None  # None and "" both mean all namespaces
        self.label_selector = label_selector
        self.field_selector = field_selector

    @classmethod
    def for_resource(
        cls,
        source: Any,
        resource: str,
        *,
        group: str = "",
        version: str = "v1",
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> "ListWatch":
        """A ListWatch for `resource` ("pods", "deployments", ...) of `group`/`version`.

        `source`: see `api_client_from` (the lab, a kubeconfig path, a RestConfig,
        an ApiClient or a RESTClient). client-go's `NewFilteredListWatchFromClient`.
        """
        rest_client = RESTClient(api_client_from(source), group=group, version=version)
        return cls(
            rest_client,
            resource,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
        )

    # -- the ListerWatcher protocol ------------------------------------------------------

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        """One LIST request; returns the parsed List (`metadata`, `items`)."""
        result = self._request(options).do()
        return json.loads(result.raw())

    def watch(self, options: dict[str, Any]) -> StreamWatcher:
        """Open a WATCH; returns a `StreamWatcher` to iterate for events and `stop()`."""
        response = self._request(options).param("watch", "true").stream()  # raises before any event
        return StreamWatcher(response, f"watch {self.describe()}")

    # -- helpers ---------------------------------------------------------------------------

    def _request(self, options: dict[str, Any]) -> Any:
        params = {"label_selector": self.label_selector, "field_selector": self.field_selector}
        for key, value in options.items():
            if key not in _OPTION_NAMES:
                raise errors.UsageError(
                    f"unknown list option {key!r}; the ListerWatcher protocol knows: "
                    + ", ".join(_OPTION_NAMES)
                )
            if key in ("label_selector", "field_selector"):
                value = ",".join(s for s in (params[key], value) if s)
            params[key] = value
        request = self.rest_client.get()
        if self.namespace:
            request = request.namespace(self.namespace)
        request = request.resource(self.resource)
        # Unset means absent: "" RV, no selector, limit 0 and False flags are not sent.
        return request.params(**{k: v for k, v in params.items() if v not in ("", None, 0, False)})

    def describe(self) -> str:
        """"apps/v1 deployments in demo" (for logs and reprs)."""
        where = f"in {self.namespace}" if self.namespace else "in all namespaces"
        selectors = ", ".join(s for s in (self.label_selector, self.field_selector) if s)
        gv = f"{self.rest_client.group}/{self.rest_client.version}".lstrip("/")
        return f"{gv} {self.resource} {where}" + (f" ({selectors})" if selectors else "")

    def __repr__(self) -> str:
        return f"ListWatch({self.describe()})"


# -- resource keys and the factory's lister-watcher function ------------------------------

_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")


def parse_resource_key(key: str) -> tuple[str, str, str]:
    """"resource[.version][.group]" -> (group, version, resource); version "" = ask the server.

    "configmaps" -> ("", "v1", "configmaps"); "deployments.apps" -> ("apps", "",
    "deployments"); "foos.v1alpha1.samplecontroller.k8s.io" -> ("samplecontroller.k8s.io",
    "v1alpha1", "foos"), as apimachinery's `schema.ParseResourceArg` reads them.
    """
    resource, _, rest = key.partition(".")
    if not resource:
        raise errors.UsageError(f"bad resource key {key!r}; use e.g. 'pods' or 'deployments.apps'")
    if not rest:
        return "", "v1", resource
    version, _, group = rest.partition(".")
    if _VERSION.match(version):
        return group, version, resource
    return rest, "", resource


def _preferred_version(api_client: Any, group: str) -> str:
    """The group's preferred version, from discovery (`GET /apis/<group>`)."""
    rc = RESTClient(api_client, group=group, version="")
    try:
        doc = rc.get().abs_path("apis", group).do().json() or {}
    except errors.NotFound:
        raise errors.UsageError(
            f"the server has no API group {group!r}; check the resource key's spelling "
            "(kubectl api-resources lists them) or install its CRD"
        ) from None
    version = (doc.get("preferredVersion") or {}).get("version")
    if not version:
        raise errors.UsageError(f"API group {group!r} names no preferred version")
    return str(version)


def lister_watcher_for(
    source: Any,
    *,
    namespace: str | None = None,
    label_selector: str = "",
    field_selector: str = "",
    tweak: Callable[[str], dict[str, str]] | None = None,
) -> Callable[[str], ListWatch]:
    """A function resource key -> ListWatch, for `SharedInformerFactory(...)`.

    All ListWatches share one client (so one QPS/Burst bucket, as informers
    built from one clientset do). `namespace` and the selectors apply to
    every resource (client-go's `WithNamespace`, `WithTweakListOptions`);
    `tweak(key)` may return per-resource `label_selector`/`field_selector`.
    Keys are "resource[.version][.group]"; a missing version is discovered.
    """
    api_client = api_client_from(source)
    versions: dict[str, str] = {}
    lock = threading.Lock()

    def new_lister_watcher(resource_key: str) -> ListWatch:
        group, version, resource = parse_resource_key(resource_key)
        if not version:
            with lock:
                if group not in versions:
                    versions[group] = _preferred_version(api_client, group)
                version = versions[group]
        selectors = {"label_selector": label_selector, "field_selector": field_selector}
        if tweak is not None:
            selectors.update(tweak(resource_key) or {})
        return ListWatch.for_resource(
            api_client, resource, group=group, version=version, namespace=namespace, **selectors
        )

    return new_lister_watcher

