"""The informer against the lab: its cache ends up equal to the server, whatever happens.

Each test starts a SharedIndexInformer over a ListWatch on its own namespace,
does something to the server (a burst of writes, a partition with etcd
compaction, an API server restart, churn the informer does not see), and
then compares the cache with a fresh consistent LIST: same keys, same
resourceVersions. Most run on both pipelines: today's (client-go v0.37.2:
streaming lists, an atomic RealFIFO) and the classic one (v0.32: LIST, DeltaFIFO).
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest

from k8slab import errors
from k8slab.cache import DeletedFinalStateUnknown, SharedIndexInformer, SharedInformerFactory
from k8slab.cache import reflector as reflector_module
from k8slab.chain.listwatch import ListWatch, lister_watcher_for
from tests.unit._polling import eventually

pytestmark = pytest.mark.lab

CONVERGE_TIMEOUT = 60.0


# -- helpers --------------------------------------------------------------------------------


class Recorder:
    """A handler that keeps its own view (key -> resourceVersion) and every event."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.view: dict[str, str] = {}
        self.events: list[tuple[str, Any]] = []

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        with self.lock:
            self.events.append(("add", obj))
            self.view[_key(obj)] = obj["metadata"]["resourceVersion"]

    def on_update(self, old: Any, new: Any) -> None:
        with self.lock:
            self.events.append(("update", new))
            self.view[_key(new)] = new["metadata"]["resourceVersion"]

    def on_delete(self, obj: Any) -> None:
        with self.lock:
            self.events.append(("delete", obj))
            key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else _key(obj)
            self.view.pop(key, None)

    def snapshot(self) -> dict[str, str]:
        with self.lock:
            return dict(self.view)

    def names(self, kind: str) -> set[str]:
        with self.lock:
            return {_name(obj) for k, obj in self.events if k == kind}


class Partition:
    """A ListerWatcher in front of another that can cut the network to the server.

    `cut()` ends the open watches; new calls then hang, as a connection
    attempt into a partition does, until `heal()` (or fail after a minute).
    Every call and every event that passed is recorded.
    """

    def __init__(self, inner: ListWatch) -> None:
        self.inner = inner
        self.healed = threading.Event()
        self.healed.set()
        self.lock = threading.Lock()
        self.open: list[Any] = []
        self.list_calls: list[dict[str, Any]] = []
        self.watch_calls: list[dict[str, Any]] = []
        self.event_log: list[dict[str, Any]] = []

    def cut(self) -> None:
        with self.lock:
            self.healed.clear()
            watches, self.open = self.open, []
        for w in watches:
            w.stop()

    def heal(self) -> None:
        self.healed.set()

    def _check(self) -> None:
        if not self.healed.wait(60):
            raise errors.ServerUnreachable("partitioned by the test")

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        self._check()
        self.list_calls.append(dict(options))
        return self.inner.list(options)

    def watch(self, options: dict[str, Any]) -> Any:
        self._check()
        self.watch_calls.append(dict(options))
        w = self.inner.watch(options)
        with self.lock:
            self.open.append(w)
        return _RecordingWatch(w, self.event_log)


class _RecordingWatch:
    def __init__(self, inner: Any, log: list[dict[str, Any]]) -> None:
        self.inner, self.log = inner, log

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for event in self.inner:
            self.log.append(event)
            yield event

    def stop(self) -> None:
        self.inner.stop()


def initial_lists(partition: Partition) -> int:
    """How many times the informer fetched the whole state: LISTs and streaming watches."""
    return len(partition.list_calls) + sum(1 for c in partition.watch_calls if c.get("send_initial_events"))


PIPELINES = pytest.mark.parametrize("pipeline", ["today", "classic"])


def _key(obj: dict[str, Any]) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def _name(obj: Any) -> str:
    if isinstance(obj, DeletedFinalStateUnknown):
        obj = obj.obj
    return obj["metadata"]["name"]


def config_map(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"v": "0"}}


@contextlib.contextmanager
def running(informer: SharedIndexInformer) -> Iterator[threading.Event]:
    """Run the informer in a thread; on exit stop it and check its thread ended."""
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), name="test informer", daemon=True)
    thread.start()
    try:
        assert informer_synced(informer, stop), "the informer did not sync in 30 s"
        yield stop
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "the informer did not stop within 15 s of stop being set"


def informer_synced(informer: SharedIndexInformer, stop: threading.Event) -> bool:
    from k8slab.cache import wait_for_cache_sync

    return wait_for_cache_sync(stop, informer.has_synced, timeout=30)


def server_state(lw: ListWatch) -> dict[str, str]:
    """key -> resourceVersion from a consistent LIST (RV "": read from etcd)."""
    items = lw.list({"resource_version": ""})["items"]
    return {_key(o): o["metadata"]["resourceVersion"] for o in items}


def cache_state(informer: SharedIndexInformer) -> dict[str, str]:
    return {_key(o): o["metadata"]["resourceVersion"] for o in informer.get_store().list()}


def converge(informer: SharedIndexInformer, lw: ListWatch, handler: Recorder | None = None) -> dict[str, str]:
    """Wait until the cache (and the handler's view) equals a fresh LIST; return that state."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    while True:
        want = server_state(lw)
        got = cache_state(informer)
        seen = handler.snapshot() if handler else got
        if got == want and seen == want:
            return want
        if time.monotonic() > deadline:
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            stale = sorted(k for k in set(want) & set(got) if want[k] != got[k])[:5]
            pytest.fail(f"cache did not converge: missing {missing}, extra {extra}, stale {stale}")
        time.sleep(0.2)


@pytest.fixture
def core(api_client):
    from kubernetes import client

    return client.CoreV1Api(api_client)


def retrying(call, *args, attempts: int = 100, **kwargs):
    """Call the official client, retrying while the API server is away (restarting)."""
    from kubernetes.client import ApiException
    from urllib3.exceptions import HTTPError

    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except (HTTPError, OSError, ApiException) as exc:
            if isinstance(exc, ApiException) and exc.status not in (0, 429, 500, 503):
                raise
            time.sleep(0.2)
    raise AssertionError(f"{call.__name__} kept failing")


# -- tests ----------------------------------------------------------------------------------


@PIPELINES
def test_after_a_burst_of_creates_updates_and_deletes_the_cache_equals_a_fresh_list(lab, namespace, core, pipeline):
    for i in range(20):
        core.create_namespaced_config_map(namespace, config_map(f"pre-{i}"))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    informer = SharedIndexInformer(lw, "configmaps", pipeline=pipeline)
    handler = Recorder()
    informer.add_event_handler(handler)
    with running(informer):
        assert {f"{namespace}/pre-{i}" for i in range(20)} <= set(cache_state(informer))

        def create(i: int) -> None:
            core.create_namespaced_config_map(namespace, config_map(f"cm-{i}"))

        def update(i: int) -> None:
            for n in range(2):
                core.patch_namespaced_config_map(f"cm-{i}", namespace, {"data": {"v": str(n + 1)}})

        def delete(name: str) -> None:
            core.delete_namespaced_config_map(name, namespace)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(150)))
            list(pool.map(update, range(100)))
            list(pool.map(delete, [f"cm-{i}" for i in range(90, 140)] + [f"pre-{i}" for i in range(10)]))
        state = converge(informer, lw, handler)
    names = {key.split("/")[1] for key in state} - {"kube-root-ca.crt"}
    assert names == {f"cm-{i}" for i in range(150) if not 90 <= i < 140} | {f"pre-{i}" for i in range(10, 20)}
    assert handler.names("delete") == {f"cm-{i}" for i in range(90, 140)} | {f"pre-{i}" for i in range(10)}


@PIPELINES
@pytest.mark.disruptive
def test_compaction_while_the_watch_is_down_forces_a_410_and_a_relist_that_converges(lab, namespace, core, pipeline):
    for i in range(5):
        core.create_namespaced_config_map(namespace, config_map(f"a-{i}"))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    partition = Partition(lw)
    informer = SharedIndexInformer(partition, "configmaps", pipeline=pipeline)
    handler = Recorder()
    informer.add_event_handler(handler)
    with running(informer):
        synced_rv = informer.last_sync_resource_version()
        time.sleep(1.5)  # a watch cut within 1 s of opening, eventless, would itself force a relist
        partition.cut()  # the informer's watch is down from here on
        core.delete_namespaced_config_map("a-0", namespace)
        core.delete_namespaced_config_map("a-1", namespace)
        core.patch_namespaced_config_map("a-2", namespace, {"data": {"v": "changed"}})
        for i in range(2):
            core.create_namespaced_config_map(namespace, config_map(f"b-{i}"))
        lab.compact()  # history gone, and a fresh watch cache (kube-apiserver restarts)
        lists_before = initial_lists(partition)
        partition.heal()
        fresh = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
        converge(informer, fresh, handler)

    gone = [e for e in partition.event_log if e["type"] == "ERROR" and e["object"].get("code") == 410]
    assert gone, "re-watching from the compacted resource version must get 410 Gone"
    assert partition.watch_calls[1]["resource_version"] == synced_rv  # the first after healing
    assert initial_lists(partition) > lists_before, "a 410 must be followed by a relist"
    tombstones = [obj for kind, obj in handler.events if kind == "delete"]
    assert sorted(t.key for t in tombstones) == [f"{namespace}/a-0", f"{namespace}/a-1"]
    assert all(isinstance(t, DeletedFinalStateUnknown) for t in tombstones)
    assert {"b-0", "b-1"} <= handler.names("add")


@PIPELINES
@pytest.mark.disruptive
def test_restarting_kube_apiserver_mid_watch_loses_nothing(lab, namespace, api_client, pipeline):
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    informer = SharedIndexInformer(lw, "configmaps", pipeline=pipeline)
    handler = Recorder()
    informer.add_event_handler(handler)
    written: list[str] = []
    restarted = threading.Event()

    def writer() -> None:
        after_restart = 0
        for i in range(500):
            name = f"w-{i}"
            try:
                retrying(core.create_namespaced_config_map, namespace, config_map(name))
            except client.ApiException as exc:
                if exc.status != 409:  # 409: created just before the connection broke
                    raise
            written.append(name)
            if restarted.is_set():
                after_restart += 1
                if after_restart >= 20 and i >= 40:
                    return
            time.sleep(0.02)

    with running(informer):
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        eventually(lambda: len(written) >= 5, timeout=30)  # the writes are under way
        lab.restart("kube-apiserver")
        restarted.set()
        thread.join(60)
        assert not thread.is_alive()
        state = converge(informer, lw, handler)

    names = {f"{namespace}/{n}" for n in written}
    assert names <= set(state), "every ConfigMap written must reach the cache"
    assert set(written) <= handler.names("add"), "and every one must reach the handler as an add"
    assert not handler.names("delete")


@PIPELINES
def test_bookmarks_advance_the_resource_version_without_events_or_relists(lab, namespace, core, monkeypatch, pipeline):
    """kube-apiserver 1.37's watch cache sends a watch a BOOKMARK 2 s before the watch's deadline
    (and every minute), but only if the cache's resourceVersion has moved past the one that watch
    started from (cacher's `cacheWatcher.process`). A watch that opens after the last change first
    replays the changes it filters out, silently, so it starts level with the cache and gets no
    bookmark at all. The churn therefore goes on until a bookmark has carried the informer past it.
    """
    # Watches of 3-6 s, so the server's pre-timeout bookmarks come within the test.
    monkeypatch.setattr(reflector_module, "MIN_WATCH_TIMEOUT", 3.0)
    core.create_namespaced_config_map(namespace, config_map("watched", {"app": "watched"}))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace, label_selector="app=watched")
    partition = Partition(lw)
    informer = SharedIndexInformer(partition, "configmaps", pipeline=pipeline)
    handler = Recorder()
    informer.add_event_handler(handler)
    with running(informer):
        start_rv = int(informer.last_sync_resource_version())
        churn_rv = 0
        for i in range(10):  # configmaps the informer does not see move the resource version
            cm = core.create_namespaced_config_map(namespace, config_map(f"unseen-{i}"))
            churn_rv = int(cm.metadata.resource_version)
        deadline = time.monotonic() + 120
        n = 0
        while int(informer.last_sync_resource_version()) < churn_rv:
            assert time.monotonic() < deadline, "no bookmark carried the resource version past the churn in 120 s"
            core.patch_namespaced_config_map("unseen-0", namespace, {"data": {"n": str(n)}})  # more unseen churn
            n += 1
            time.sleep(0.5)  # the churn's pace, not a wait for anything
        final_rv = int(informer.last_sync_resource_version())
        if pipeline == "today":  # v0.37.2: the bookmark reaches the store, through the queue
            eventually(lambda: int(informer.get_indexer().last_store_sync_resource_version()) >= churn_rv)

    assert final_rv >= churn_rv > start_rv, "bookmarks should have carried the RV forward"
    assert any(e["type"] == "BOOKMARK" for e in partition.event_log)
    assert initial_lists(partition) == 1, "bookmarks move the RV without any relist"
    assert all(w["allow_watch_bookmarks"] for w in partition.watch_calls)
    assert [k for k, _ in handler.events] == ["add"]  # only "watched", from the initial list


def test_the_streaming_list_syncs_without_a_list_call(lab, namespace, core):
    for i in range(12):
        core.create_namespaced_config_map(namespace, config_map(f"s-{i}"))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    partition = Partition(lw)
    informer = SharedIndexInformer(partition, "configmaps", use_watch_list=True)
    handler = Recorder()
    informer.add_event_handler(handler)
    with running(informer):
        assert partition.list_calls == []
        first = partition.watch_calls[0]
        assert first["send_initial_events"] and first["resource_version_match"] == "NotOlderThan"
        assert {f"{namespace}/s-{i}" for i in range(12)} <= set(cache_state(informer))
        core.create_namespaced_config_map(namespace, config_map("after-sync"))
        converge(informer, lw, handler)
    assert len(partition.watch_calls) == 1, "the stream that carried the initial list goes on"
    ends = [
        e for e in partition.event_log
        if e["type"] == "BOOKMARK"
        and (e["object"]["metadata"].get("annotations") or {}).get("k8s.io/initial-events-end")
    ]
    assert len(ends) == 1


class RefusesStreaming(Partition):
    """A server with its WatchList gate off: a watch with sendInitialEvents is refused with 422."""

    def watch(self, options: dict[str, Any]) -> Any:
        if options.get("send_initial_events"):
            self.watch_calls.append(dict(options))
            cause = "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"
            raise errors.APIError.from_status(422, errors.new_status(422, "Invalid", cause))
        return super().watch(options)


def test_a_server_that_cannot_stream_gets_a_paginated_list_instead(lab, namespace, core):
    """v0.37.2's fallback: the streaming list fails (not 429, not "connection refused"): LIST at RV "0"."""
    for i in range(3):
        core.create_namespaced_config_map(namespace, config_map(f"f-{i}"))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    partition = RefusesStreaming(lw)
    informer = SharedIndexInformer(partition, "configmaps")
    handler = Recorder()
    informer.add_event_handler(handler)
    with running(informer):
        core.create_namespaced_config_map(namespace, config_map("after-sync"))
        converge(informer, lw, handler)
    assert partition.watch_calls[0]["send_initial_events"]
    assert partition.list_calls[0] == {"resource_version": "0", "limit": 500}
    assert not partition.watch_calls[1].get("send_initial_events")  # then an ordinary watch


def test_a_factory_over_lister_watcher_for_shares_informers_and_serves_listers(lab, namespace, core):
    core.create_namespaced_config_map(namespace, config_map("one", {"app": "x"}))
    factory = SharedInformerFactory(lister_watcher_for(lab, namespace=namespace))
    informer = factory.informer_for("configmaps")
    assert factory.informer_for("configmaps") is informer
    stop = threading.Event()
    factory.start(stop)
    try:
        assert factory.wait_for_cache_sync(stop, timeout=30) == {"configmaps": True}
        lister = factory.lister_for("configmaps")
        assert lister.namespace(namespace).get("one")["metadata"]["labels"] == {"app": "x"}
        assert [o["metadata"]["name"] for o in lister.list("app=x")] == ["one"]
        with pytest.raises(errors.NotFound):
            lister.namespace(namespace).get("two")
    finally:
        stop.set()
        factory.shutdown(timeout=15)
