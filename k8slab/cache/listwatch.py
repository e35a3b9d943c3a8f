"""ListWatch: the ListerWatcher of one resource, over the chain's RESTClient.

    lw = ListWatch.for_resource(lab, "configmaps", namespace="demo")
    lw.list({"resource_version": "0", "limit": 500})    # the List, as a dict
    w = lw.watch({"resource_version": rv, "allow_watch_bookmarks": True})
    for event in w: ...                                 # {"type": ..., "object": {...}}
    w.stop()                                            # from any thread

    factory = SharedInformerFactory(lister_watcher_for(lab, namespace="demo"))
    factory.informer_for("deployments.apps")            # "resource[.version].group"

Mirrors client-go v0.32 `tools/cache/listwatch.go` (`ListWatch`,
`NewFilteredListWatchFromClient`) and the JSON half of apimachinery's
`watch.StreamWatcher` (`pkg/watch/streamwatcher.go`), over
`k8slab.chain.RESTClient` (client-go's `rest.Interface`).

Kept:
- One resource of one group version, in one namespace or all of them, with
  a label and a field selector added to every list and watch (client-go's
  `optionsModifier`). Options come in as the ListerWatcher protocol's dict
  (see listwatch_types.py) and go out as metav1.ListOptions query parameters.
- Objects are plain dicts: `json.loads` of the body, nothing else, on the
  hot path. A watch reads newline-delimited JSON events as they arrive.
- Errors as the protocol says: an HTTP failure becomes its `APIError`
  (410 `Gone`, 429 `TooManyRequests`, ...), no answer `ServerUnreachable`.
  An ERROR event is passed on as an event (the reflector turns its Status
  into `Gone` and relists); `status_error(event)` does that for anyone else.
- A watch whose connection breaks mid-stream (reset, EOF, the API server
  restarting) simply ends, as StreamWatcher treats "probable EOF" errors;
  the reflector then re-watches from its last resource version; so does a
  stream that ends inside a line. A line that is not a watch event becomes
  an ERROR event with a 500 Status and ends the watch, as in client-go.
- `stop()` from any thread shuts the socket down, so a blocked read ends at
  once; the reading thread then closes the connection.
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
import logging
import os
import re
import threading
from collections import deque
from typing import Any, Callable, Iterator

from k8slab import errors
from k8slab.cache.listwatch_types import ListerWatcher

__all__ = [
    "ListWatch",
    "RawWatch",
    "api_client_from",
    "lister_watcher_for",
    "parse_resource_key",
    "status_error",
]

log = logging.getLogger(__name__)

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
    from k8slab.chain import RESTClient, RestConfig, api_client_for, load_kubeconfig

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
        from k8slab.chain import RESTClient

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

    def watch(self, options: dict[str, Any]) -> "RawWatch":
        """Open a WATCH; returns a `RawWatch` to iterate for events and `stop()`."""
        request = self._request(options).param("watch", "true")
        response = request.stream()  # raises APIError / ServerUnreachable before any event
        host = getattr(self.rest_client.api_client.configuration, "host", "")
        return RawWatch(response, f"watch {self.describe()}", host)

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


class RawWatch:
    """The events of one watch response, parsed to dicts as they arrive (a `Watch`).

    Iterating yields `{"type", "object"}` dicts exactly as the server sent
    them. Iteration ends when the server ends the watch, when the connection
    breaks, or after `stop()`. A loop that breaks out early can iterate again
    and resumes where it left off (the reflector does so after a streaming
    list's last initial event).
    """

    def __init__(self, response: Any, what: str = "watch", host: str = "") -> None:
        self._response = response  # a urllib3 HTTPResponse, not yet read
        self._what, self._host = what, host
        self._lock = threading.Lock()
        self._chunks: Iterator[bytes] | None = None
        self._lines: deque[bytes] = deque()  # complete lines not yet handed out
        self._rest = b""  # an incomplete line, waiting for the next chunk
        self._stopped = False
        self._in_read = False  # a thread is (maybe) blocked reading the socket
        self._closed = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def __iter__(self) -> "RawWatch":
        return self

    def __next__(self) -> dict[str, Any]:
        while self._stopped or not self._lines:
            if self._stopped or not self._read_chunk():
                self._close()
                raise StopIteration
        try:
            return _decode(self._lines.popleft())
        except ValueError as exc:  # as client-go's StreamWatcher: report it, then end the watch
            self.stop()
            return {"type": "ERROR", "object": errors.undecodable_watch_status(str(exc))}

    def _read_chunk(self) -> bool:
        """Read one chunk into complete lines; False once the stream has ended."""
        with self._lock:
            if self._stopped:
                return False
            self._in_read = True
            if self._chunks is None:
                self._chunks = self._response.stream(amt=None, decode_content=True)
        try:
            chunk = next(self._chunks)
        except StopIteration:
            chunk = None
        except Exception as exc:  # reset, EOF mid-chunk, or the socket shut down by stop()
            if not self._stopped:
                log.debug("%s: the stream broke, ending the watch: %s", self._what, exc)
            chunk = None
        finally:
            with self._lock:
                self._in_read = False
        if chunk is None:  # the end: a last line without its newline still counts...
            if self._rest.strip() and not self._stopped:
                try:
                    _decode(self._rest)
                    self._lines.append(self._rest)
                except ValueError:  # ...but a line cut short is an unexpected EOF: just the end
                    log.debug("%s: the stream ended inside an event, ending the watch", self._what)
            self._rest = b""
            return bool(self._lines)
        lines = chunk.split(b"\n")
        if self._rest:
            lines[0] = self._rest + lines[0]
        self._rest = lines.pop()
        self._lines.extend(line for line in lines if line)
        return True

    def stop(self) -> None:
        """End the watch; safe from any thread, any number of times."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            in_read = self._in_read
        if in_read:
            try:  # wake the reader blocked in recv(); it closes the connection itself
                self._response.shutdown()
            except (AttributeError, OSError, RuntimeError, ValueError):
                pass  # already released or closed
        else:
            self._close()

    def _close(self) -> None:
        with self._lock:
            if self._closed or self._in_read:
                return
            self._closed = True
        try:
            self._response.close()  # never back to the pool: the stream was cut mid-way
        except Exception:  # pragma: no cover - closing a broken socket
            pass
        try:
            self._response.release_conn()
        except Exception:  # pragma: no cover
            pass

    def __enter__(self) -> "RawWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "open"
        return f"<RawWatch {self._what} ({state})>"


def _decode(line: bytes) -> dict[str, Any]:
    """One watch line to its event dict; ValueError if it is not a watch event."""
    event = json.loads(line)
    if type(event) is dict and "type" in event:
        return event
    raise ValueError("not a watch event")


def status_error(event: dict[str, Any], context: str = "watch") -> errors.APIError:
    """The `APIError` an ERROR event stands for (410 -> `Gone`, 429 -> `TooManyRequests`)."""
    status = event.get("object") or {}
    return errors.APIError.from_status(int(status.get("code") or 500), status, context)


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
    from k8slab.chain import RESTClient

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
) -> Callable[[str], ListerWatcher]:
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

    def new_lister_watcher(resource_key: str) -> ListerWatcher:
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

