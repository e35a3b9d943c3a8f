"""The HTTP trace: every request the Python client sends, as a table.

    with trace() as t:
        clientset.core_v1().pods("default").list()
    t.frame()          # method, path, query, status, bytes, latency, throttling

Stands for client-go v0.37.2's request logging (`rest/request.go`,
`transport/round_trippers.go`: what `kubectl -v=6` and `-v=8` print, Authorization
masked). In the `kubernetes` 37.x client every request, from a generated `*Api`
method, `kubernetes.watch` or k8slab's `RESTClient`, passes `ApiClient.call_api`;
while a trace is open that method is wrapped to record each call, in every thread.

Kept: method, path, query (decoded, sorted by key), status, response bytes (read so
far, so streams count too), latency to the response headers, throttling wait,
request body size, transport errors, request headers with `Authorization`
redacted; labels to tell layers apart (`with t.label("clientset"): ...`).
Left out: response headers and bodies; requests that bypass `ApiClient`
(websocket exec/attach, raw urllib3).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Trace", "TraceEntry", "note_throttle", "trace"]

_local = threading.local()  # per thread: the pending throttle wait, the current label
_lock = threading.Lock()
_active: list["Trace"] = []
_original_call_api: Any = None

_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}


@dataclasses.dataclass
class TraceEntry:
    """One HTTP request and what came back."""

    method: str
    host: str
    path: str
    query: str
    status: int | None
    latency_s: float
    throttled_s: float
    request_bytes: int
    headers: dict[str, str]
    error: str = ""
    label: str = ""
    _response: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def response_bytes(self) -> int | None:
        """Bytes of body received so far (None if no response)."""
        raw = getattr(self._response, "response", None)
        try:
            return int(raw.tell()) if raw is not None else None
        except (AttributeError, OSError, ValueError):
            return None


class Trace:
    """The requests recorded while a `trace()` block was open, oldest first."""

    def __init__(self) -> None:
        self.entries: list[TraceEntry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(list(self.entries))

    def __repr__(self) -> str:
        return f"<Trace of {len(self.entries)} request(s)>"

    def clear(self) -> None:
        self.entries.clear()

    @contextlib.contextmanager
    def label(self, name: str) -> Iterator[None]:
        """Tag the requests this thread sends inside the block (e.g. with the layer's name)."""
        before = getattr(_local, "label", "")
        _local.label = name
        try:
            yield
        finally:
            _local.label = before

    def frame(self) -> Any:
        """The requests as a DataFrame, one row each."""
        import pandas as pd

        rows = [
            {
                "label": e.label,
                "method": e.method,
                "path": e.path,
                "query": e.query,
                "status": e.status,
                "response_bytes": e.response_bytes,
                "latency_ms": round(e.latency_s * 1000, 1),
                "throttled_ms": round(e.throttled_s * 1000, 1),
                "error": e.error,
            }
            for e in self.entries
        ]
        columns = ["label", "method", "path", "query", "status", "response_bytes", "latency_ms", "throttled_ms", "error"]
        return pd.DataFrame(rows, columns=columns).astype({"status": "Int64", "response_bytes": "Int64"})


@contextlib.contextmanager
def trace() -> Iterator[Trace]:
    """Record every request sent through any `kubernetes.client.ApiClient` inside the block."""
    recorder = Trace()
    with _lock:
        if not _active:
            _install_locked()
        _active.append(recorder)
    try:
        yield recorder
    finally:
        with _lock:
            _active.remove(recorder)
            if not _active:
                _uninstall_locked()


def note_throttle(seconds: float) -> None:
    """Called by the throttling layer: this thread's next request waited `seconds` for a token."""
    _local.throttle = seconds


# -- the hook ----------------------------------------------------------------------------------


def _install_locked() -> None:
    global _original_call_api
    from kubernetes.client import ApiClient

    _original_call_api = ApiClient.call_api
    ApiClient.call_api = _traced_call_api


def _uninstall_locked() -> None:
    from kubernetes.client import ApiClient

    ApiClient.call_api = _original_call_api


def _traced_call_api(self: Any, method: str, url: str, header_params: Any = None, body: Any = None,
                     post_params: Any = None, _request_timeout: Any = None) -> Any:
    throttled = getattr(_local, "throttle", 0.0)
    _local.throttle = 0.0
    parts = urlsplit(url)
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True), key=lambda kv: kv[0]))
    entry = TraceEntry(
        method=method.upper(),
        host=parts.netloc,
        path=parts.path,
        query=query,
        status=None,
        latency_s=0.0,
        throttled_s=throttled,
        request_bytes=_size(body),
        headers={k: ("REDACTED" if k.lower() in _SECRET_HEADERS else str(v)) for k, v in (header_params or {}).items()},
        label=getattr(_local, "label", ""),
    )
    start = time.perf_counter()
    try:
        response = _original_call_api(self, method, url, header_params, body, post_params, _request_timeout)
    except BaseException as exc:
        entry.latency_s = time.perf_counter() - start
        entry.error = type(exc).__name__
        _record(entry)
        raise
    entry.latency_s = time.perf_counter() - start
    entry.status = getattr(response, "status", None)
    entry._response = response
    _record(entry)
    return response


def _record(entry: TraceEntry) -> None:
    with _lock:
        recorders = list(_active)
    for recorder in recorders:
        recorder.entries.append(entry)


def _size(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, (bytes, str)):
        return len(body)
    try:
        return len(json.dumps(body))
    except (TypeError, ValueError):
        return 0
