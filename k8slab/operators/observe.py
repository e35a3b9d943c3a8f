"""What a Foo controller did, seen from outside: its requests in the audit log, and when its Foos came up.

    t0 = datetime.now()
    timeline = Timeline(lab, "demo").start()            # k8slab's informers on Foos and Deployments
    ...                                                 # run a controller, create Foos (timeline.created(name))
    reqs = requests(lab, "kopf", since=t0)              # its user's audit rows: verb, what, code, ...
    per_foo(reqs, foos=10)                              # {"create deployments": 1.0, "patch foos": 2.1, ...}
    timeline.to_available()                             # Foo name -> seconds from its create to available
    timeline.stop()

Notebooks 13 and 14 compare the Foo controllers (runner.py) by what the API
server saw: every controller runs as a user of its own (rbac.py), so the
lab's audit log (k8slab/lab/audit.py) tells their requests apart whatever
language they are written in. A watch has two audit events (ResponseStarted,
then ResponseComplete when it ends): `requests` keeps one row per request.

`Timeline` times, per Foo, the moment just before its create (`created`), the
watch event that first shows its Deployment, and the one that first shows the
Deployment with every replica available: the controller's work as the user
sees it, independent of how (or whether) it reports it in the Foo's status.

Kept: one row per request, `what` as "verb resource[/subresource]" (the
non-resource GETs of discovery as "get /api", "get /apis/..."), the response
code. Left out: request bodies (the lab's policy is Metadata level).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from k8slab.cache import ResourceEventHandlerFuncs, SharedInformerFactory
from k8slab.chain.listwatch import lister_watcher_for
from k8slab.meta import get_controller_of
from k8slab.operators.rbac import user_name
from k8slab.samplecontroller.crd import DEPLOYMENTS_RESOURCE, FOOS_RESOURCE

__all__ = ["Timeline", "per_foo", "requests"]


def requests(lab: Any, controller: str, *, since: Any, until: Any = None, namespace: str | None = None) -> Any:
    """The audit rows of `controller`'s user received in [since, until), one per request, with a `what` column.

    `namespace` keeps the requests in that namespace and those outside any (discovery, cluster-wide lists)."""
    frame = lab.audit_log(since=since, until=until, stage=None)
    frame = frame[frame["user"] == user_name(controller)].drop_duplicates("audit_id", keep="last")
    if namespace is not None:
        frame = frame[frame["namespace"].isna() | (frame["namespace"] == namespace)]
    frame = frame.copy()
    resource = frame["resource"].fillna("") + frame["subresource"].fillna("").map(lambda s: f"/{s}" if s else "")
    path = frame["uri"].fillna("").str.split("?").str[0]
    frame["what"] = frame["verb"] + " " + resource.where(resource != "", path)
    return frame.reset_index(drop=True)


def per_foo(frame: Any, foos: int) -> dict[str, float]:
    """Requests per Foo by `what`, most first (ties by name)."""
    counts = frame["what"].value_counts()
    return {what: n / foos for what, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


class Timeline:
    """When each Foo of one namespace got its Deployment, and when that Deployment was first available."""

    def __init__(self, lab: Any, namespace: str) -> None:
        self._created: dict[str, float] = {}
        self._deployment: dict[str, float] = {}
        self._available: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._factory = SharedInformerFactory(lister_watcher_for(lab, namespace=namespace))
        handler = ResourceEventHandlerFuncs(add_func=self._seen, update_func=lambda old, new: self._seen(new))
        self._factory.informer_for(DEPLOYMENTS_RESOURCE).add_event_handler(handler)
        self._factory.informer_for(FOOS_RESOURCE)  # synced too, so `start` returns once both caches are

    def _seen(self, deployment: dict[str, Any]) -> None:
        ref = get_controller_of(deployment)
        if not ref or ref.get("kind") != "Foo":
            return
        now = time.monotonic()
        wanted = deployment["spec"].get("replicas", 1)
        available = (deployment.get("status") or {}).get("availableReplicas", 0)
        with self._lock:
            self._deployment.setdefault(ref["name"], now)
            if available >= wanted:
                self._available.setdefault(ref["name"], now)

    def start(self, timeout: float = 60.0) -> "Timeline":
        self._factory.start(self._stop)
        if not all(self._factory.wait_for_cache_sync(self._stop, timeout=timeout).values()):
            self.stop()
            from k8slab.errors import ConditionTimeout

            raise ConditionTimeout(f"the timeline's informers did not sync within {timeout:g} s")
        return self

    def created(self, name: str) -> None:
        """Call just before creating Foo `name`."""
        with self._lock:
            self._created[name] = time.monotonic()

    def available(self) -> list[str]:
        """The Foos created so far whose Deployment has been seen fully available."""
        with self._lock:
            return sorted(n for n in self._created if n in self._available)

    def to_deployment(self) -> dict[str, float]:
        with self._lock:
            return {n: self._deployment[n] - t for n, t in self._created.items() if n in self._deployment}

    def to_available(self) -> dict[str, float]:
        with self._lock:
            return {n: self._available[n] - t for n, t in self._created.items() if n in self._available}

    def stop(self) -> None:
        self._stop.set()
        self._factory.shutdown(10)
