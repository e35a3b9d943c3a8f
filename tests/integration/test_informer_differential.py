"""k8slab's informer beside client-go's, against the same lab, under the same seeded workload.

A Go program of k8slab's own (k8slab/cache/assets/informer_probe: client-go
v0.37.2's SharedInformerFactory for ConfigMaps in one namespace) prints every
handler call; k8slab's SharedIndexInformer (today's pipeline, the default)
records its own in the same form. A seeded writer creates, updates and
deletes ConfigMaps, one request at a time. Then:

1. in a stretch without disruption, both informers made the same handler
   calls in the same order (the initial lists as sets: client-go takes a
   streamed list out of a Go map, in random order);
2. with an API server restart and an etcd compaction in the middle of more
   writes, both caches (and k8slab's classic pipeline's) end up equal to a
   fresh consistent LIST.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from k8slab.cache import DeletedFinalStateUnknown, SharedIndexInformer, wait_for_cache_sync
from k8slab.chain.listwatch import ListWatch
from tests.integration._informer_probe import Probe, probe_binary
from tests.integration.test_informer import retrying

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SEED = 20260111
CONVERGE_TIMEOUT = 90.0


class Calls:
    """k8slab's handler calls, in the probe's words."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def _append(self, call: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append({k: v for k, v in call.items() if v not in ("", False)})

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self._append({"op": "add", "key": _key(obj), "rv": _rv(obj), "initial": is_in_initial_list})

    def on_update(self, old: Any, new: Any) -> None:
        self._append({"op": "update", "key": _key(new), "rv": _rv(new), "old_rv": _rv(old)})

    def on_delete(self, obj: Any) -> None:
        self._append({"op": "delete", "key": _key(obj), "rv": _rv(obj),
                      "tombstone": isinstance(obj, DeletedFinalStateUnknown)})

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.calls)


def _key(obj: Any) -> str:
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def _rv(obj: Any) -> str:
    if isinstance(obj, DeletedFinalStateUnknown):
        obj = obj.obj
    return (obj or {}).get("metadata", {}).get("resourceVersion", "")


class Workload:
    """Seeded creates, updates and deletes of ConfigMaps, one request at a time."""

    def __init__(self, core: Any, namespace: str, seed: int) -> None:
        self.core, self.namespace = core, namespace
        self.rng = random.Random(seed)
        self.live: list[str] = []
        self.next = 0
        self.steps = 0

    def step(self) -> None:
        op = self.rng.choices(["create", "update", "delete"], weights=[5, 4, 2])[0] if self.live else "create"
        if op == "create":
            name = f"cm-{self.next:04d}"
            self.next += 1
            body = {"metadata": {"name": name}, "data": {"v": str(self.rng.random())}}
            self._call(self.core.create_namespaced_config_map, self.namespace, body)
            self.live.append(name)
        elif op == "update":
            name = self.rng.choice(self.live)
            self._call(self.core.patch_namespaced_config_map, name, self.namespace,
                       {"data": {"v": str(self.rng.random())}})
        else:
            name = self.live.pop(self.rng.randrange(len(self.live)))
            self._call(self.core.delete_namespaced_config_map, name, self.namespace)
        self.steps += 1

    def wait_for_steps(self, more: int, timeout: float = 120.0) -> None:
        """Until the writer thread has made `more` further writes."""
        target, deadline = self.steps + more, time.monotonic() + timeout
        while self.steps < target:
            assert time.monotonic() < deadline, f"the workload made {self.steps} of {target} writes"
            time.sleep(0.05)

    def _call(self, method: Any, *args: Any) -> None:
        from kubernetes.client import ApiException

        try:
            retrying(method, *args)
        except ApiException as exc:  # sent just before the API server went away, applied all the same
            if exc.status not in (404, 409):
                raise


def _live(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in calls if not c.get("initial")]


def _initial(calls: list[dict[str, Any]]) -> set[tuple]:
    return {(c["key"], c["rv"]) for c in calls if c.get("initial")}


def _wait_for_key(what: str, calls: Any, key: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(c["key"] == key for c in calls()):
        assert time.monotonic() < deadline, f"{what} never saw {key}"
        time.sleep(0.05)


@pytest.mark.disruptive
def test_k8slab_and_client_go_informers_make_the_same_calls_and_end_with_the_same_cache(
        lab, namespace, api_client, tmp_path):
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    binary = probe_binary()
    workload = Workload(core, namespace, SEED)
    for _ in range(15):
        workload.step()

    go = Probe(binary, lab.kubeconfig, namespace, tmp_path / "probe.log")
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    ours, classic = SharedIndexInformer(lw, "configmaps"), SharedIndexInformer(lw, "configmaps", pipeline="classic")
    calls = Calls()
    registration = ours.add_event_handler(calls)
    stop = threading.Event()
    threads = [threading.Thread(target=i.run, args=(stop,), name=f"test informer {n}", daemon=True)
               for n, i in (("today", ours), ("classic", classic))]
    for thread in threads:
        thread.start()
    try:
        assert go.synced.wait(60), "the client-go informer did not sync"
        assert wait_for_cache_sync(stop, registration.has_synced, classic.has_synced, timeout=60)
        _wait_for_key("client-go", go.snapshot, f"{namespace}/{workload.live[-1]}")

        # 1. A stretch without disruption: the same calls, in the same order.
        for _ in range(60):
            workload.step()
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "stretch-end"}})
        end = f"{namespace}/stretch-end"
        _wait_for_key("client-go", go.snapshot, end)
        _wait_for_key("k8slab", calls.snapshot, end)
        theirs, mine = go.snapshot(), calls.snapshot()
        assert _initial(mine) == _initial(theirs), "the initial lists differ"
        assert _live(mine) == _live(theirs), "the live stretch's calls differ"
        assert len(_live(mine)) >= 60

        # 2. Writes across an API server restart and a compaction: both caches converge on the server.
        writer_stop = threading.Event()

        def write() -> None:
            while not writer_stop.is_set():
                workload.step()
                time.sleep(0.02)  # the workload's pace, not a wait for anything

        writer = threading.Thread(target=write, name="test workload", daemon=True)
        writer.start()
        try:
            workload.wait_for_steps(10)
            lab.restart("kube-apiserver")
            workload.wait_for_steps(10)
            lab.compact()  # history gone, the watch cache fresh: every watch's RV has expired
            workload.wait_for_steps(10)
        finally:
            writer_stop.set()
            writer.join(60)
        assert not writer.is_alive()

        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            listed = lw.list({"resource_version": ""})["items"]
            want = {_key(o): o["metadata"]["resourceVersion"] for o in listed}
            got = {name: {_key(o): _rv(o) for o in i.get_store().list()} for name, i in
                   (("today", ours), ("classic", classic))}
            got["client-go"] = go.cache()
            if all(state == want for state in got.values()):
                break
            assert time.monotonic() < deadline, "did not converge: " + ", ".join(
                f"{n} misses {sorted(set(want) - set(s))[:3]} has extra {sorted(set(s) - set(want))[:3]}"
                for n, s in got.items())
            time.sleep(0.5)
        assert len(want) >= 10
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        code = go.close()
    assert code == 0, f"the probe exited {code}; its log: {tmp_path / 'probe.log'}"
    assert not any(t.is_alive() for t in threads)
