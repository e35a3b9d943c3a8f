"""The seam between the cache and HTTP: what a reflector calls to list and watch.

Mirrors the `ListerWatcher` interface of client-go v0.37.2 `tools/cache/listwatch.go`;
the `Watch` it returns is apimachinery's `watch.Interface` (`k8slab/watch.py`).

Kept: two calls, `list(options)` and `watch(options)`, with options named
after metav1.ListOptions; a watch is a stream of typed events that can be
stopped; the optional `is_watch_list_semantics_unsupported()` (new since
v0.32, client-go's `watchlist.DoesClientNotSupportWatchListSemantics`): a
lister-watcher that returns True from it is never asked for a streaming list.
Left out: contexts, `ListWatch` (the adapter over a real client lives beside
the REST client, in `k8slab/chain/listwatch.py`: the cache knows no HTTP); in
tests and notebooks `testing.FakeSource` plays the API server.
"""

from __future__ import annotations

from typing import Any, Protocol

from k8slab.watch import Watch

__all__ = ["ListerWatcher", "Watch"]


class ListerWatcher(Protocol):
    """The two API calls a reflector makes.

    Both take `options`, a dict whose keys mirror metav1.ListOptions; an
    absent key means unset:
      resource_version        str: "" (consistent read), "0" (any), or an RV
      resource_version_match  str: "NotOlderThan" or "Exact"
      limit                   int: page size (lists only)
      continue_               str: the continue token of the previous page
      timeout_seconds         int: server-side watch timeout
      allow_watch_bookmarks   bool
      send_initial_events     bool: the WatchList stream (watch only)
      label_selector, field_selector   str (the reflector never sets them;
                              an adapter adds its own)

    A lister-watcher may also define `is_watch_list_semantics_unsupported()`
    (see the module docstring).

    `list(options)` returns the parsed List object: `{"metadata":
    {"resourceVersion": str, "continue": str (absent or "" on the last page)},
    "items": [object, ...]}`. `watch(options)` returns a `Watch`.
    Failures raise k8slab.errors: `Gone` for 410 (an expired RV or continue
    token; reason "Expired"), `TooManyRequests` for 429, `ServerUnreachable`
    when no HTTP answer came, other `APIError`s from the Status (a 504 whose
    Status names the cause "ResourceVersionTooLarge" counts as "too large").
    Objects are handed to the store as given: return fresh dicts and never
    touch them again.
    """

    def list(self, options: dict[str, Any]) -> dict[str, Any]: ...
    def watch(self, options: dict[str, Any]) -> Watch: ...
