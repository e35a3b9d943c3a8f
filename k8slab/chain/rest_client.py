"""The RESTClient: build one API request by hand, send it, decode the answer.

    rc = RESTClient.for_config(config)                  # the core group, v1
    pods = rc.get().namespace("default").resource("pods").params(limit=50).do().into("V1PodList")

Mirrors client-go v0.37.2 `rest/client.go` (`RESTClient`, `RESTClientFor`) and
`rest/request.go` (`Request`: `Verb`, `Namespace`, `Resource`, `Name`, `SubResource`,
`AbsPath`, `Param`, `VersionedParams`, `SetHeader`, `Body`, `Timeout`, `URL`, `Do`,
`Watch`, `Stream`; `Result`: `Raw`, `Into`, `StatusCode`). Built on the `kubernetes`
37.x client's bottom public layer, `ApiClient.param_serialize` / `call_api` /
`deserialize`: the calls every generated `*Api` method makes, so both send the same
request. Throttling sits in `ThrottledApiClient.call_api`, the one place all the
Python client's requests pass (client-go's `Request.tryThrottle`), for every request
but a watch: client-go's `Request.Watch` takes no token, so a request with
`watch=true` (from `watch()`, or `stream()` as ListWatch sends it) is sent without the
limiter. The exec plugin's transport rules sit there too (`exec.go`'s round tripper: a
401 runs the plugin again for the next request; a new client certificate gets a new
connection pool). Errors leave as
k8slab errors (`translate`): a failure Status becomes `APIError.from_status`, no
HTTP answer becomes `ServerUnreachable`.

Kept: the builder and its checks (path segments, a namespace set twice); the path
layout `/api|/apis/<group>/<version>/namespaces/<ns>/<resource>/<name>/<sub>`; the
query sorted by key; `timeout` as both `?timeout=` and the client's deadline, and
`RestConfig.timeout` as every request's deadline unless it sets its own (client-go's
`http.Client.Timeout`); a watch read by `k8slab.watch.StreamWatcher` (the one decoder
of watch streams, as `Request.Watch` returns apimachinery's), typed by `Watcher`
(`WatchEvent`s, objects decoded `into` a model); patch content types.
Left out: retries and Retry-After, protobuf/CBOR, warning headers, metrics; the
builder raises at once instead of keeping `r.err`; `do()` raises instead of
returning a `Result` that holds the error; `watch()` adds `watch=true` itself.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from typing import Any, NamedTuple

from kubernetes.client import ApiClient, rest

from k8slab.chain.flowcontrol import RateLimiter, rate_limiter_for
from k8slab.chain.rest_config import RestConfig, client_certificate_files
from k8slab.chain.trace import note_throttle
from k8slab.errors import APIError, ExecPluginFailed, K8sLabError, ServerUnreachable, UsageError
from k8slab.watch import ERROR, StreamWatcher

__all__ = ["PATCH_TYPES", "RESTClient", "Request", "Result", "ThrottledApiClient", "WatchEvent", "Watcher",
           "api_client_for", "patch_content_type", "translate"]

_log = logging.getLogger(__name__)

PATCH_TYPES = {  # k8s.io/apimachinery/pkg/types/patch.go
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


def patch_content_type(patch_type: str) -> str:
    """The content type of a patch type: json, merge, strategic or apply (or the content type itself)."""
    content_type = PATCH_TYPES.get(patch_type, patch_type)
    if content_type not in PATCH_TYPES.values():
        raise UsageError(f"unknown patch type {patch_type!r}; use one of: {', '.join(PATCH_TYPES)}")
    return content_type


class ThrottledApiClient(ApiClient):
    """A `kubernetes.client.ApiClient` that takes a token from `rate_limiter` before each request.

    `timeout` (seconds, 0 for none) is the deadline of a request that sets none itself
    (client-go's `rest.Config.Timeout`, which becomes `http.Client.Timeout`). With an
    exec plugin (`configuration.exec_authenticator`) it also does what client-go's exec
    round tripper does: a 401 makes the plugin run again for the next request, and a new
    client certificate gets a new connection pool (urllib3 reads the files per pool)."""

    def __init__(self, configuration: Any, rate_limiter: RateLimiter | None = None, user_agent: str = "",
                 timeout: float = 0.0) -> None:
        super().__init__(configuration)  # sets rest_client: the connection pool, in a _Transport
        self.rate_limiter = rate_limiter
        self.timeout = timeout
        if user_agent:
            self.user_agent = user_agent
        self._exec = getattr(configuration, "exec_authenticator", None)

    @property
    def rest_client(self) -> Any:
        return self._transport.rest_client

    @rest_client.setter
    def rest_client(self, value: Any) -> None:
        if "_transport" in self.__dict__:
            self._transport.rest_client = value
        else:
            self._transport = _Transport(value)

    def with_rate_limiter(self, rate_limiter: RateLimiter | None, timeout: float | None = None) -> "ThrottledApiClient":
        """Another client over the same connection pool with a limiter of its own: how one
        `http.Client` serves several RESTClients with a bucket each (`NewForConfigAndClient`)."""
        sibling = copy.copy(self)
        sibling.rate_limiter = rate_limiter
        if timeout is not None:
            sibling.timeout = timeout
        return sibling

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):  # noqa: ANN001, ANN201
        if _request_timeout is None and self.timeout:
            _request_timeout = self.timeout
        note_throttle(self.rate_limiter.accept() if self.rate_limiter is not None else 0.0)
        try:
            creds = self._exec_credentials()
            response = super().call_api(method, url, header_params, body, post_params, _request_timeout)
        finally:
            note_throttle(0.0)
        if creds is not None and response.status == 401:  # the 401 goes back; the next request carries new credentials
            try:
                self._exec.maybe_refresh_creds(creds)
            except ExecPluginFailed as exc:  # exec.go logs it ("refreshing credentials") and returns the 401
                _log.warning("refreshing credentials after a 401: %s", exc)
        return response

    def _exec_credentials(self) -> Any:
        """The exec plugin's credentials this request carries (the header came from the same
        cache a moment ago), and a pool presenting their client certificate."""
        if self._exec is None:
            return None
        creds = self._exec.cached() or self._exec.get_creds()
        t = self._transport
        if creds.cert_pem != t.cert_pem:
            with t.lock:
                if creds.cert_pem != t.cert_pem:
                    c = self.configuration
                    c.cert_file, c.key_file = client_certificate_files(creds.cert_pem, creds.key_pem)
                    for pool in t.retired:
                        pool.close()
                    t.retired, t.rest_client, t.cert_pem = [t.rest_client], rest.RESTClientObject(c), creds.cert_pem
        return creds

    def close(self) -> None:
        for pool in self._transport.retired:
            pool.close()
        super().close()


class _Transport:
    """The connection pool the clients of one config share (client-go's one `http.Client`), the
    client certificate it presents, and the pools of earlier certificates, closed at the next
    rotation or at `close()` (requests in flight on them finish first)."""

    def __init__(self, rest_client: Any) -> None:
        self.rest_client, self.cert_pem, self.retired, self.lock = rest_client, b"", [], threading.Lock()


def api_client_for(config: RestConfig) -> ThrottledApiClient:
    """client-go's `HTTPClientFor` + the limiter of `RESTClientFor`: one client, one bucket."""
    limiter = config.rate_limiter if config.rate_limiter is not None else rate_limiter_for(config.qps, config.burst)
    return ThrottledApiClient(config.to_configuration(), limiter, config.user_agent, config.timeout)


class RESTClient:
    """Requests for one API group version of one server (`/api/v1`, `/apis/apps/v1`)."""

    def __init__(self, api_client: Any, *, group: str = "", version: str = "v1") -> None:
        self.api_client = api_client
        self.group, self.version = group, version
        self.base = f"/apis/{group}/{version}" if group else f"/api/{version}"

    @classmethod
    def for_config(cls, config: RestConfig, *, group: str = "", version: str = "v1") -> "RESTClient":
        """client-go's `RESTClientFor(config)`."""
        return cls(api_client_for(config), group=group, version=version)

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return getattr(self.api_client, "rate_limiter", None)

    def verb(self, verb: str) -> "Request":
        return Request(self, verb.upper())

    def get(self) -> "Request":
        return self.verb("GET")

    def post(self) -> "Request":
        return self.verb("POST")

    def put(self) -> "Request":
        return self.verb("PUT")

    def delete(self) -> "Request":
        return self.verb("DELETE")

    def patch(self, patch_type: str) -> "Request":
        """`patch_type`: json, merge, strategic or apply (or the content type itself)."""
        return self.verb("PATCH").set_header("Content-Type", patch_content_type(patch_type))

    def close(self) -> None:
        self.api_client.close()

    def __repr__(self) -> str:
        return f"RESTClient({self.base!r}, rate_limiter={self.rate_limiter!r})"


_SEGMENT_BAD = re.compile(r"[/%]")


class Request:
    """One request being built; every setter returns the request, so calls chain."""

    def __init__(self, client: RESTClient, verb: str) -> None:
        self.client, self.verb = client, verb
        self._namespace: str | None = None
        self._resource = self._name = ""
        self._subresource: list[str] = []
        self._abs_path = ""
        self._params: list[tuple[str, Any]] = []
        self._headers: dict[str, str] = {"Accept": "application/json"}
        self._body: Any = None
        self._timeout = 0.0

    # -- building ---------------------------------------------------------------------------

    def namespace(self, namespace: str) -> "Request":
        if self._namespace is not None:
            raise UsageError(f"namespace already set to {self._namespace!r}, cannot change to {namespace!r}")
        self._namespace = _segment(namespace, "namespace")
        return self

    def resource(self, resource: str) -> "Request":
        self._resource = _segment(resource, "resource").lower()
        return self

    def name(self, name: str) -> "Request":
        if not name:
            raise UsageError("resource name may not be empty")
        self._name = _segment(name, "name")
        return self

    def subresource(self, *parts: str) -> "Request":
        self._subresource = [_segment(p, "subresource") for p in parts]
        return self

    def abs_path(self, *segments: str) -> "Request":
        """Replace the group-version prefix with an absolute path (client-go's `AbsPath`)."""
        self._abs_path = "/" + "/".join(s.strip("/") for s in segments if s.strip("/"))
        return self

    def param(self, name: str, value: Any) -> "Request":
        self._params.append((name, value))
        return self

    def params(self, **options: Any) -> "Request":
        """ListOptions-style keywords in snake case (`label_selector`, `limit`, `continue_`),
        sent under their API names (`labelSelector`, ...), like client-go's `VersionedParams`."""
        for key, value in options.items():
            if value is not None:
                head, *rest = key.rstrip("_").split("_")
                self.param(head + "".join(w.capitalize() for w in rest), value)
        return self

    def set_header(self, name: str, value: str) -> "Request":
        self._headers[name] = value
        return self

    def body(self, obj: Any) -> "Request":
        """A dict, a list (JSON patch), a model of the Python client, or bytes/str sent as they are.
        Kept as given: `param_serialize` turns a model into its JSON dict when sending."""
        self._body = obj
        if self.verb != "PATCH":
            self._headers.setdefault("Content-Type", "application/json")
        return self

    def timeout(self, seconds: float) -> "Request":
        if seconds <= 0:
            raise UsageError(f"timeout must be positive, got {seconds}")
        self._timeout = float(seconds)
        return self

    def path(self) -> str:
        parts = [(self._abs_path or self.client.base).rstrip("/")]
        if self._namespace:
            parts += ["namespaces", self._namespace]
        parts += [p for p in (self._resource, self._name, *self._subresource) if p]
        return "/".join(parts) or "/"

    def url(self) -> str:
        """Path and query as they will be sent (the query sorted by key, like Go's url.Values)."""
        query = sorted(self._query(), key=lambda kv: kv[0])
        return self.path() + ("?" + self.client.api_client.parameters_to_url_query(query, None) if query else "")

    def _query(self) -> list[tuple[str, Any]]:
        query = list(self._params)
        if self._timeout:
            t = self._timeout
            query.append(("timeout", f"{t:g}s" if t >= 1 else f"{t * 1000:g}ms"))
        return query

    # -- sending ----------------------------------------------------------------------------

    def _send(self, *, stream: bool) -> Any:
        api, what = self.client.api_client, f"{self.verb} {self.path()}"
        if getattr(api, "rate_limiter", None) is not None and self._is_watch():
            api = api.with_rate_limiter(None)  # client-go's Request.Watch takes no token (request.go)
        request = api.param_serialize(self.verb, self.path(), query_params=sorted(self._query(), key=lambda kv: kv[0]),
                                      header_params=dict(self._headers), body=self._body, auth_settings=["BearerToken"])
        try:
            response = api.call_api(*request, _request_timeout=self._timeout or None)
            if not stream or not 200 <= response.status < 300:
                response.read()
        except Exception as exc:
            raise translate(exc, what, api.configuration.host) from None
        if not 200 <= response.status < 300:
            raise APIError.from_body(response.status, response.data, what)
        return response

    def _is_watch(self) -> bool:
        return any(k == "watch" and str(v).lower() in ("true", "1") for k, v in self._params)

    def do(self) -> "Result":
        """Send the request and read the whole answer; a failure Status raises its APIError."""
        return Result(self._send(stream=False), self.client.api_client)

    def into(self, type_name: Any) -> Any:
        """`do()` then decode into a model of the Python client (`"V1PodList"` or the class)."""
        return self.do().into(type_name)

    def watch(self, into: Any = None) -> "Watcher":
        """Open a watch; iterate the returned Watcher for events. `into` decodes objects into a model."""
        if not any(k == "watch" for k, _ in self._params):
            self.param("watch", True)
        return Watcher(self._send(stream=True).response, self.client.api_client, into, f"{self.verb} {self.path()}")

    def stream(self) -> Any:
        """Send and return the open body (`read()`, `stream()`, `close()`), e.g. for logs."""
        return self._send(stream=True).response


class Result:
    """A successful answer: `status_code`, `headers`, and the body as bytes, JSON or a model."""

    def __init__(self, response: Any, api_client: Any) -> None:
        self.status_code: int = response.status
        self.headers = response.headers  # case-insensitive
        self._data: bytes = response.data
        self._api_client = api_client

    def raw(self) -> bytes:
        return self._data

    def json(self) -> Any:
        return json.loads(self._data) if self._data else None

    def into(self, type_name: Any) -> Any:
        name = getattr(type_name, "__name__", type_name)
        if name in ("dict", "object"):
            return self.json()
        return _decode(self._api_client, self._data.decode("utf-8"), name)

    def __repr__(self) -> str:
        return f"<Result {self.status_code}, {len(self._data)} bytes>"


class WatchEvent(NamedTuple):
    """One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, and its object."""

    type: str
    object: Any


class Watcher(StreamWatcher):
    """A typed view of one watch: `WatchEvent`s, objects decoded `into` a model if asked.

    A `k8slab.watch.StreamWatcher` (the one decoder of watch streams), so `stop()`
    from any thread, `stopped` and `with` are its own. The server ends a watch after
    `timeoutSeconds`; a broken connection ends it too, quietly."""

    def __init__(self, response: Any, api_client: Any, into: Any = None, what: str = "watch") -> None:
        super().__init__(response, what)
        self._api_client = api_client
        self._into = getattr(into, "__name__", into)

    def __next__(self) -> WatchEvent:  # type: ignore[override]
        event = super().__next__()
        obj = event["object"]
        if self._into and event["type"] != ERROR:  # an ERROR event carries a Status
            try:
                obj = _decode(self._api_client, json.dumps(obj), self._into)
            except UsageError:
                self.stop()  # as a decode error stops a StreamWatcher: nothing is left open
                raise
        return WatchEvent(event["type"], obj)


# -- errors at the edge ----------------------------------------------------------------------


def translate(exc: BaseException, context: str, host: str = "") -> K8sLabError:
    """A k8slab error for an exception raised by the `kubernetes` client or urllib3."""
    if isinstance(exc, K8sLabError):
        return exc
    if type(exc).__name__ == "ValidationError":  # pydantic, from a generated method's arguments
        return UsageError(f"{context}: invalid argument ({_first_pydantic_error(exc)})")
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status >= 100:  # kubernetes.client.ApiException with an answer
        return APIError.from_body(status, getattr(exc, "body", None), context)
    reason = getattr(exc, "reason", None) or exc
    text = f"{type(reason).__name__} {reason}"
    what, hint = next((w, h) for words, w, h in _TRANSPORT_FAILURES if any(x in text for x in words))
    at = f" at {host}" if host else ""
    return ServerUnreachable(f"{context}: cannot reach the API server{at}: {what or type(reason).__name__} ({hint})",
                             connection_refused=what == "connection refused")


_TRANSPORT_FAILURES = [  # words in urllib3's error -> what happened, what to do
    (("SSL", "certificate verify"), "the TLS handshake failed",
     "the server's certificate does not match the kubeconfig's certificate-authority; use the lab's current kubeconfig"),
    (("Timeout", "timed out"), "no answer in time", "the server may be overloaded or stopped; raise the timeout or check it"),
    (("refused",), "connection refused", "nothing listens there; is the API server running? `k8slab status` tells"),
    (("resolve", "Name or service"), "the host name does not resolve", "check the cluster's server in the kubeconfig"),
    (("",), "", "check the server address and that the API server is running"),
]


def _decode(api_client: Any, text: str, type_name: str) -> Any:
    try:
        return api_client.deserialize(text, type_name, "application/json")
    except Exception as exc:  # pydantic's ValidationError, or an unknown model name
        detail = _first_pydantic_error(exc) if type(exc).__name__ == "ValidationError" else str(exc)
        raise UsageError(f"the answer does not decode into {type_name} ({detail}); use .json() for the plain object") from None


def _first_pydantic_error(exc: BaseException) -> str:
    try:
        err = exc.errors()[0]  # type: ignore[attr-defined]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        return f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", ""))
    except Exception:  # pragma: no cover
        return str(exc).splitlines()[-1]


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or value in (".", "..") or _SEGMENT_BAD.search(value):
        raise UsageError(f"invalid {what} {value!r}: it must be usable as one URL path segment (no '/', '%', '.' or '..')")
    return value
