"""Benchmark the informer: k8slab's vs the official client's vs the floor, in one run.

    python bench/informer.py                    # 10,000 ConfigMaps, 10,000 updates, 3 rounds
    python bench/informer.py --objects 2000 --keep

Starts a lab (profile minimal) and fills one namespace with ConfigMaps
(concurrently; kept with --keep and reused by the next run), then measures,
side by side, alternating the contenders in each round:

  initial sync   floor:    the same paginated LIST the reflector sends (RV "0", limit 500),
                           each page parsed with json.loads, nothing else
                 floor+gc: the same, plus the full garbage collection the parse leaves owing
                           (see floor_sync)
                 today:    k8slab's SharedIndexInformer as client-go v0.37.2 builds it (the
                           default: a streaming list, an atomic RealFIFO, batches), over a
                           ListWatch, until has_synced and a counting handler saw every add
                 today-list: the same with the streaming list off (use_watch_list=False): the
                           paginated LIST a server that cannot stream gets
                 classic:  pipeline="classic" (v0.32: paginated LIST, DeltaFIFO)
                 official: kubernetes.informer.SharedInformer, until its ADDED handler
                           saw every object (it has no has_synced)
  updates        every ConfigMap updated once while no informer watches; then each
                 informer starts from the state before the updates (served from memory)
                 and watches from that resource version, so the server replays all
                 the updates as fast as the informer reads them: the time until the
                 handler saw the last one is the informer's event throughput
  memory         tracemalloc, bytes still allocated per cached object after a sync

Every informer gets the same unthrottled `kubernetes.client.ApiClient`.
Targets (issue 11, for today's pipeline, streaming list included): sync at
most 1.3x the floor, the official informer at least 3x slower, events at
least 3x the official rate, memory per object at most the floor's + 10%.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import statistics
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from k8slab.cache import SharedIndexInformer  # noqa: E402
from k8slab.chain.listwatch import ListWatch  # noqa: E402
from k8slab.lab import Lab  # noqa: E402

NAMESPACE = "bench-informer"
PAGE = 500
SYNC_VS_FLOOR, SYNC_VS_OFFICIAL, EVENTS_VS_OFFICIAL, MEMORY_VS_FLOOR = 1.3, 3.0, 3.0, 1.1
PIPELINES = {"today": dict(), "today-list": dict(use_watch_list=False), "classic": dict(pipeline="classic")}
TIMEOUT = 600.0


# -- the cluster ----------------------------------------------------------------------------


def config_map(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"cm-{i:05d}", "labels": {"app": "bench", "shard": str(i % 10)}},
        "data": {"index": str(i), "greeting": "hello from the informer benchmark", "round": "0"},
    }


def fill(api: Any, n: int) -> None:
    """Create what is missing of cm-00000 ... cm-<n-1>, 32 at a time."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    have = {o["metadata"]["name"] for o in raw_list(api, "")[0]}
    missing = [i for i in range(n) if config_map(i)["metadata"]["name"] not in have]
    start = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda i: core.create_namespaced_config_map(NAMESPACE, config_map(i)), missing))
    if missing:
        print(f"created {len(missing)} ConfigMaps in {time.monotonic() - start:.1f} s")


def update_all(api: Any, n: int, round_: str) -> float:
    """Set data.round on every ConfigMap (a new value each time, or no event would come)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    start = time.monotonic()

    def patch(i: int) -> None:
        core.patch_namespaced_config_map(f"cm-{i:05d}", NAMESPACE, {"data": {"round": round_}})

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(patch, range(n)))
    return time.monotonic() - start


# -- the floor ------------------------------------------------------------------------------


def raw_list(api: Any, resource_version: str = "0") -> tuple[list[dict[str, Any]], str, int]:
    """Page through the namespace's ConfigMaps: items, list RV, pages."""
    items: list[dict[str, Any]] = []
    token, list_rv, pages = "", "", 0
    while True:
        query = [("limit", PAGE)]
        if token:
            query.append(("continue", token))
        elif resource_version:
            query.append(("resourceVersion", resource_version))
        method, url, headers, body, post = api.param_serialize(
            "GET",
            f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = api.call_api(method, url, headers, body, post)
        response.read()
        page = json.loads(response.data)
        pages += 1
        items.extend(page["items"])
        list_rv = list_rv or page["metadata"]["resourceVersion"]
        token = page["metadata"].get("continue") or ""
        if not token:
            return items, list_rv, pages


def floor_sync(api: Any, n: int, pay_gc_debt: bool = False) -> float:
    """The LIST alone; with `pay_gc_debt`, plus the full garbage collection it leaves owing.

    Parsing 10,000 ConfigMaps creates ~150,000 dicts and lists. Python's
    cyclic collector runs a full (generation 2) collection over them at the
    next burst of allocations (15,000-20,000 new containers here), whoever
    makes them; the floor stops its clock just before that. The official
    informer's sync pays it. k8slab's no longer does (its DeltaFIFO keeps a
    lone delta bare: one container per listed object): it runs as many full
    collections as the floor (counted at 5,000, 10,000 and 20,000 objects),
    so the plain floor is the like-for-like reference and `floor+gc`
    flatters k8slab.
    """
    start = time.perf_counter()
    items, _, _ = raw_list(api)
    if pay_gc_debt:
        gc.collect()
    elapsed = time.perf_counter() - start
    assert len(items) == n, f"floor listed {len(items)} of {n}"
    return elapsed


# -- the contenders -------------------------------------------------------------------------


class Counter:
    """A handler counting adds and updates, as cheaply as a handler can.

    `expect(adds, updates)` arms it; `wait()` blocks until both counts are
    reached. Nothing is signalled per event, so the waiting thread does not
    compete with the informer for the GIL.
    """

    def __init__(self) -> None:
        self.adds = self.updates = 0
        self.want_adds = self.want_updates = 0
        self.reached = threading.Event()

    def expect(self, adds: int, updates: int = 0) -> None:
        self.want_adds, self.want_updates = adds, updates
        self.reached.clear()
        self._check()

    def _check(self) -> None:
        if self.adds >= self.want_adds and self.updates >= self.want_updates:
            self.reached.set()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self.adds += 1
        if self.adds == self.want_adds:
            self._check()

    def on_update(self, old: Any, new: Any) -> None:
        self.updates += 1
        if self.updates == self.want_updates:
            self._check()

    def on_delete(self, obj: Any) -> None:
        pass

    def add(self, obj: Any) -> None:  # the official informer's callbacks
        self.on_add(obj, True)

    def update(self, obj: Any) -> None:
        self.on_update(None, obj)

    def wait(self) -> None:
        if not self.reached.wait(TIMEOUT):
            raise TimeoutError(f"gave up after {TIMEOUT} s: adds {self.adds}, updates {self.updates}")


class Snapshot:
    """A ListerWatcher whose list answers from a saved LIST; watches go to the server.

    It cannot stream a list (there is no saved stream), so it says so, and a
    reflector LISTs from it, as client-go's does from a lister-watcher whose
    `IsWatchListSemanticsUnSupported` is true.
    """

    def __init__(self, lw: ListWatch, items: list[dict[str, Any]], rv: str) -> None:
        self.lw, self.items, self.rv = lw, items, rv

    def is_watch_list_semantics_unsupported(self) -> bool:
        return True

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        items = [json.loads(s) for s in self.items]  # fresh dicts, as from the wire
        return {"metadata": {"resourceVersion": self.rv}, "items": items}

    def watch(self, options: dict[str, Any]) -> Any:
        return self.lw.watch(options)


def k8slab_run(api: Any, n: int, lister_watcher: Any = None, updates: int = 0,
               contender: str = "today") -> tuple[float, float, Any]:
    """(seconds to sync, seconds from sync to `updates` updates seen, the informer's cache)."""
    lw = lister_watcher or ListWatch.for_resource(api, "configmaps", namespace=NAMESPACE)
    informer = SharedIndexInformer(lw, "configmaps", **PIPELINES[contender])
    counter = Counter()
    counter.expect(adds=n)
    informer.add_event_handler(counter)
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    start = time.perf_counter()
    thread.start()
    try:
        counter.wait()
        while not informer.has_synced():  # already true: the adds came from popped deltas
            time.sleep(0.001)
        synced = time.perf_counter()
        counter.expect(adds=n, updates=updates)
        counter.wait()
        done = time.perf_counter()
        cache = informer.get_indexer()
        assert len(cache.list_keys()) == n
        return synced - start, done - synced, cache
    finally:
        stop.set()
        thread.join(30)


def official_run(api: Any, n: int, saved: Any = None, updates: int = 0) -> tuple[float, float, Any]:
    from kubernetes import client
    from kubernetes.informer import ADDED, MODIFIED, SharedInformer

    core = client.CoreV1Api(api)
    list_func = core.list_namespaced_config_map
    if saved is not None:  # answer the list from memory, watch the server

        @functools.wraps(core.list_namespaced_config_map)  # Watch reads the return type
        def list_func(namespace: str, **kwargs: Any) -> Any:  # type: ignore[no-redef]
            if kwargs.get("watch"):
                return core.list_namespaced_config_map(namespace, **kwargs)
            return saved

    informer = SharedInformer(list_func, namespace=NAMESPACE)
    counter = Counter()
    counter.expect(adds=n)
    informer.add_event_handler(ADDED, counter.add)
    informer.add_event_handler(MODIFIED, counter.update)
    start = time.perf_counter()
    informer.start()
    try:
        counter.wait()
        synced = time.perf_counter()
        counter.expect(adds=n, updates=updates)
        counter.wait()
        done = time.perf_counter()
        assert len(informer.cache.list_keys()) == n
        return synced - start, done - synced, informer.cache
    finally:
        stop_official(informer)


def stop_official(informer: Any) -> None:
    """Stop an official SharedInformer without hanging.

    Its `stop()` can hang: when it is called before the watch's response has
    arrived, `Watch.stop()` has no socket to shut down and `Watch.stream()`
    resets the stop flag as it starts, so the loop blocks until the next
    event. Keep asking until the thread has ended.
    """
    informer._stop_event.set()
    thread = informer._thread
    while thread is not None and thread.is_alive():
        w = informer._watch
        if w is not None:
            w.stop()
        thread.join(0.1)
    informer._thread = None


# -- memory ---------------------------------------------------------------------------------


def bytes_per_object(run: Callable[[], Any], n: int) -> float:
    """Bytes allocated by `run` and still held by what it returns, per object."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = run()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return (after - before) / n


# -- the run --------------------------------------------------------------------------------


def ratio_line(name: str, value: float, target: float, better: str) -> str:
    ok = value <= target if better == "lower" else value >= target
    sign = "<=" if better == "lower" else ">="
    return f"  {name:<44} {value:6.2f}x   target {sign} {target:g}x   {'met' if ok else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lab", default="bench-informer")
    parser.add_argument("--profile", default="minimal")
    parser.add_argument("--keep", action="store_true", help="leave the lab (and its ConfigMaps) running")
    args = parser.parse_args(argv)
    n = args.objects
    # The official informer logs every watch it loses when stopped; that is expected here.
    logging.getLogger("kubernetes.informer").setLevel(logging.CRITICAL)

    lab = Lab(args.lab, profile=args.profile, progress=None)
    started_here = not lab.running
    lab.up()
    api = lab.api_client()
    try:
        fill(api, n)
        load_before = os.getloadavg()
        _, _, pages = raw_list(api)
        print(f"{n} ConfigMaps in {NAMESPACE}; an RV '0' LIST with limit {PAGE} came in {pages} page(s)")

        # Initial sync, alternating the contenders.
        times: dict[str, list[float]] = {"floor": [], "floor+gc": [], **{c: [] for c in PIPELINES}, "official": []}
        floor_sync(api, n), official_run(api, n)  # warm-up: pools, caches, pydantic
        for contender in PIPELINES:
            k8slab_run(api, n, contender=contender)
        for _ in range(args.rounds):
            gc.collect()  # each contender starts from the same heap
            times["floor"].append(floor_sync(api, n))
            gc.collect()
            times["floor+gc"].append(floor_sync(api, n, pay_gc_debt=True))
            for contender in PIPELINES:
                gc.collect()
                times[contender].append(k8slab_run(api, n, contender=contender)[0])
            gc.collect()
            times["official"].append(official_run(api, n)[0])

        # Updates: the state before, then every object updated, then replayed to each informer.
        event_times: dict[str, list[float]] = {"today": [], "classic": [], "official": []}
        write_times = []
        from kubernetes import client

        core = client.CoreV1Api(api)
        lw = ListWatch.for_resource(api, "configmaps", namespace=NAMESPACE)
        for round_ in range(1, args.rounds + 1):
            before = lw.list({"resource_version": ""})
            raw_items = [json.dumps(o) for o in before["items"]]
            typed_before = core.list_namespaced_config_map(NAMESPACE, resource_version=before["metadata"]["resourceVersion"])
            write_times.append(update_all(api, n, f"{time.time():.0f}-{round_}"))
            snapshot = Snapshot(lw, raw_items, before["metadata"]["resourceVersion"])
            for contender in ("today", "classic"):
                gc.collect()
                event_times[contender].append(k8slab_run(api, n, snapshot, updates=n, contender=contender)[1])
            gc.collect()
            event_times["official"].append(official_run(api, n, typed_before, updates=n)[1])

        # Memory per cached object.
        memory = {
            "floor (json.loads dicts)": bytes_per_object(lambda: raw_list(api)[0], n),
            "today": bytes_per_object(lambda: k8slab_run(api, n)[2], n),
            "classic": bytes_per_object(lambda: k8slab_run(api, n, contender="classic")[2], n),
            "official informer": bytes_per_object(lambda: official_run(api, n)[2], n),
        }
        load_after = os.getloadavg()
    finally:
        api.close()
        if started_here and not args.keep:
            lab.down()

    med = {k: statistics.median(v) for k, v in times.items()}
    ev = {k: statistics.median(v) for k, v in event_times.items()}
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; Python {sys.version.split()[0]}; lab profile {args.profile}")
    print(f"\ninitial sync of {n} ConfigMaps (median of {args.rounds}; all runs)")
    for name, values in times.items():
        runs = ", ".join(f"{v:.3f}" for v in values)
        print(f"  {name:<10} {med[name]:6.3f} s   {n / med[name]:8.0f} objects/s   ({runs})")
    print(f"\n{n} updates replayed to each informer (median of {args.rounds}; all runs)")
    print(f"  writing them took {statistics.median(write_times):.2f} s (32 threads)")
    for name, values in event_times.items():
        runs = ", ".join(f"{v:.3f}" for v in values)
        print(f"  {name:<10} {ev[name]:6.2f} s   {n / ev[name]:8.0f} events/s   ({runs})")
    print("\nmemory per cached object (tracemalloc)")
    for name, value in memory.items():
        print(f"  {name:<26} {value / 1024:6.2f} KiB")
    floor_memory = memory["floor (json.loads dicts)"]
    print("\nratios (targets for today's pipeline)")
    print(ratio_line("today sync / floor sync", med["today"] / med["floor"], SYNC_VS_FLOOR, "lower"))
    print(ratio_line("today sync / (floor + its GC debt)", med["today"] / med["floor+gc"], SYNC_VS_FLOOR, "lower"))
    print(ratio_line("official sync / today sync", med["official"] / med["today"], SYNC_VS_OFFICIAL, "higher"))
    print(ratio_line("today events/s / official events/s", ev["official"] / ev["today"], EVENTS_VS_OFFICIAL, "higher"))
    print(ratio_line("today memory / floor memory", memory["today"] / floor_memory, MEMORY_VS_FLOOR, "lower"))
    print("  (the others, for comparison)")
    print(f"  streaming list: today {med['today']:.3f} s vs the same with a paginated LIST {med['today-list']:.3f} s"
          f" ({med['today'] / med['today-list']:.2f}x)")
    print(f"  classic sync / floor {med['classic'] / med['floor']:.2f}x; classic events/s / official "
          f"{ev['official'] / ev['classic']:.2f}x; classic memory / floor {memory['classic'] / floor_memory:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
