"""Benchmark sample-controller on the lab: reconcile latency and 1,000-Foo convergence.

    python bench/controller.py               # its own lab (12 kwok nodes), stopped at the end
    python bench/controller.py --lab NAME    # an existing cluster-profile lab (>= 1,000 Pods of room)
    python bench/controller.py --skip-1000   # only the latency part

The controller runs as a separate process (`python -m k8slab.samplecontroller`,
2 workers, its default 20 QPS / burst 30 client, as its own RBAC user), so
the measuring process does not share its interpreter. The bench watches Foos
and Deployments with k8slab's own informers and timestamps, on arrival of
the watch event, when each Foo's Deployment first exists and when the Foo
first reports `status.availableReplicas == spec.replicas`. Latencies are
measured from just before each Foo's create call.

1. Latency: 100 Foos of 1 replica, created 2 per second (`--rate`), slow
   enough that each measures one reconcile rather than a backlog: p50 / p99
   of Foo -> Deployment created and Foo -> available. "Available" includes
   the cluster's own work: the Deployment and ReplicaSet controllers, the
   scheduler and kwok. Each Foo costs the controller about ten requests
   (a create, then a status update and an Event patch per sync, and every
   change of its Deployment's status is a sync), so its client's QPS, not
   its code, sets the pace: at 10 Foos/s a 20 QPS client falls behind.
2. Throughput: 1,000 Foos created as fast as one client can, then the time
   until every Deployment exists and until every Foo is available.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from k8slab import errors  # noqa: E402
from k8slab.cache import ResourceEventHandlerFuncs, SharedInformerFactory  # noqa: E402
from k8slab.chain.listwatch import lister_watcher_for  # noqa: E402
from k8slab.lab import Lab  # noqa: E402
from k8slab.meta import get_controller_of  # noqa: E402
from k8slab.samplecontroller import DictClientset, install_crd, new_foo  # noqa: E402
from k8slab.samplecontroller.crd import DEPLOYMENTS_RESOURCE, FOOS_RESOURCE  # noqa: E402
from k8slab.samplecontroller.rbac import install_rbac  # noqa: E402

NODES = 12  # 110 Pods each: room for 1,000 one-replica Foos and the rest


class Observer:
    """Watches one namespace; records when each Foo's Deployment appears and when it is available."""

    def __init__(self, lab: Lab, namespace: str) -> None:
        self.deployment_seen: dict[str, float] = {}  # Foo name -> time
        self.available: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._factory = SharedInformerFactory(lister_watcher_for(lab, namespace=namespace))
        foos = self._factory.informer_for(FOOS_RESOURCE)
        deployments = self._factory.informer_for(DEPLOYMENTS_RESOURCE)
        foos.add_event_handler(ResourceEventHandlerFuncs(
            add_func=self._foo, update_func=lambda old, new: self._foo(new)))
        deployments.add_event_handler(ResourceEventHandlerFuncs(
            add_func=self._deployment, update_func=lambda old, new: self._deployment(new)))

    def _foo(self, foo: dict) -> None:
        if (foo.get("status") or {}).get("availableReplicas") == foo["spec"].get("replicas"):
            now = time.monotonic()
            with self._lock:
                self.available.setdefault(foo["metadata"]["name"], now)

    def _deployment(self, d: dict) -> None:
        ref = get_controller_of(d)
        if ref and ref["kind"] == "Foo":
            now = time.monotonic()
            with self._lock:
                self.deployment_seen.setdefault(ref["name"], now)

    def start(self) -> "Observer":
        self._factory.start(self._stop)
        if not all(self._factory.wait_for_cache_sync(self._stop, timeout=30).values()):
            raise RuntimeError("bench informers did not sync")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._factory.shutdown(10)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return len(self.deployment_seen), len(self.available)


def fresh_namespace(admin: DictClientset, name: str) -> None:
    namespaces = admin.core_v1().namespaces()
    try:
        namespaces.delete(name)
    except errors.NotFound:
        pass
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            namespaces.get(name)
            time.sleep(0.5)
        except errors.NotFound:
            namespaces.create({"metadata": {"name": name}})
            return
    raise TimeoutError(f"namespace {name} not deleted in 300 s")


QPS, BURST = 20.0, 30  # the controller's client; --qps/--burst change them


def start_controller(kubeconfig: Path, namespace: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "k8slab.samplecontroller", "--kubeconfig", str(kubeconfig),
         "--namespace", namespace, "--kube-api-qps", str(QPS), "--kube-api-burst", str(BURST)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_controller(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def wait_until(what: str, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(0.1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def latency(lab: Lab, admin: DictClientset, kubeconfig: Path, count: int = 100, rate: float = 2.0) -> None:
    ns = "bench-latency"
    fresh_namespace(admin, ns)
    proc = start_controller(kubeconfig, ns)
    observer = Observer(lab, ns).start()
    try:
        time.sleep(3)  # the controller is up and synced
        foos = admin.samplecontroller_v1alpha1().foos(ns)
        created: dict[str, float] = {}
        start = time.monotonic()
        for i in range(count):
            name = f"lat-{i:03d}"
            next_at = start + i / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
            created[name] = time.monotonic()
            foos.create(new_foo(name, ns, replicas=1))
        wait_until(f"{count} Foos available", lambda: observer.counts()[1] >= count, 300)
        to_deployment = [1000 * (observer.deployment_seen[n] - t) for n, t in created.items()]
        to_available = [observer.available[n] - t for n, t in created.items()]
        print(f"{count} Foos of 1 replica, created {rate:g} per second:")
        print(f"  Foo created -> Deployment created      p50 {percentile(to_deployment, 50):7.1f} ms   "
              f"p99 {percentile(to_deployment, 99):7.1f} ms   mean {statistics.mean(to_deployment):7.1f} ms")
        print(f"  Foo created -> availableReplicas ok    p50 {percentile(to_available, 50):7.2f} s    "
              f"p99 {percentile(to_available, 99):7.2f} s    mean {statistics.mean(to_available):7.2f} s")
    finally:
        observer.stop()
        stop_controller(proc)
        admin.core_v1().namespaces().delete(ns)


def throughput(lab: Lab, admin: DictClientset, kubeconfig: Path, count: int = 1000) -> None:
    ns = "bench-throughput"
    fresh_namespace(admin, ns)
    proc = start_controller(kubeconfig, ns)
    observer = Observer(lab, ns).start()
    try:
        time.sleep(3)
        foos = admin.samplecontroller_v1alpha1().foos(ns)
        start = time.monotonic()
        for i in range(count):
            foos.create(new_foo(f"tp-{i:04d}", ns, replicas=1))
        created = time.monotonic() - start
        wait_until("all Deployments", lambda: observer.counts()[0] >= count, 900)
        deployments = time.monotonic() - start
        wait_until("all Foos available", lambda: observer.counts()[1] >= count, 1800)
        converged = time.monotonic() - start
        print(f"{count:,} Foos of 1 replica, created back to back ({created:.1f} s to send the creates):")
        print(f"  every Deployment created   {deployments:7.1f} s")
        print(f"  every Foo available        {converged:7.1f} s   ({count / converged:.1f} Foos/s)")
    finally:
        observer.stop()
        stop_controller(proc)
        admin.core_v1().namespaces().delete(ns)


def main() -> None:
    global QPS, BURST
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", help="use this running lab instead of starting one")
    parser.add_argument("--skip-1000", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--rate", type=float, default=2.0, help="Foos created per second (latency part)")
    parser.add_argument("--qps", type=float, default=QPS, help="the controller's --kube-api-qps")
    parser.add_argument("--burst", type=int, default=BURST, help="the controller's --kube-api-burst")
    args = parser.parse_args()
    QPS, BURST = args.qps, args.burst
    lab = Lab(args.lab or "bench-controller", profile="cluster", nodes=NODES, progress=None)
    started = not lab.running
    lab.up()
    admin = DictClientset(lab.api_client())
    try:
        install_crd(admin)
        install_rbac(admin, "sample-controller")
        kubeconfig = lab.user("sample-controller")
        print(f"sample-controller on lab {lab.name!r} ({lab.nodes} kwok nodes); "
              f"controller: a process, 2 workers, {QPS:g} QPS / burst {BURST}")
        if not args.skip_latency:
            latency(lab, admin, kubeconfig, rate=args.rate)
        if not args.skip_1000:
            throughput(lab, admin, kubeconfig)
    finally:
        admin.close()
        if started:
            lab.down()


if __name__ == "__main__":
    main()
