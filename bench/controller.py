"""The same burst of Foos through each Foo controller, side by side in one run: requests per Foo and latency.

    python bench/controller.py                    # its own cluster lab, stopped at the end
    python bench/controller.py --lab NAME         # a running cluster lab (left running)
    python bench/controller.py --foos 50 --settings 5/10 --only k8slab,sample-controller

For each client setting (default: 5/10, client-go's default, and 20/30,
kube-controller-manager's) and each controller (k8slab/operators/runner.py),
one after the other on the same lab:

1. a fresh namespace, the controller's RBAC and user, the controller started
   as a process watching that namespace (the Go sample-controller watches all:
   each phase's namespace is deleted, and waited for, before the next phase
   starts, so it has nothing else to do);
2. a warm-up Foo, waited for until available (caches synced, leader elected);
3. the burst: `--foos` Foos of 1 replica, created back to back by the admin;
4. until every Foo reports availableReplicas 1, then `--settle` seconds more.

Latencies are measured from just before each Foo's create: to the watch event
that shows its Deployment, and to the one that shows the Foo available
(k8slab's informers, in this process). Requests are the controller's user's,
counted by the API server from the burst's first create to the end of the
settle time:

- with the API server's audit log (`Lab(audit=True)`, when the lab has one):
  one row per request, by user, verb and resource;
- otherwise through API Priority and Fairness: the bench adds a FlowSchema
  per user, verb and resource (same priority level as without it, so nothing
  else changes), and reads `apiserver_flowcontrol_dispatched_requests_total`
  per FlowSchema from /metrics.

What `qps/burst` means differs per controller (runner.py's table): k8slab-one-bucket
shares one bucket (how k8slab's controller sent before it mirrored client-go's limiter
topology); k8slab and the Go sample-controller, at 0/0 (the first setting), have a 5/10
bucket per group version, and with QPS > 0 one bucket per clientset (two); controller-runtime a
bucket per kind; kopf's own requests are never limited. The Go
sample-controller has no QPS flag: it runs in the first setting only.
Figures depend on the machine's load: the bench prints the load average.
"""

from __future__ import annotations

import argparse
import collections
import inspect
import json
import os
import re
import ssl
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from k8slab import errors  # noqa: E402
from k8slab.cache import ResourceEventHandlerFuncs, SharedInformerFactory  # noqa: E402
from k8slab.chain.listwatch import lister_watcher_for  # noqa: E402
from k8slab.lab import Lab  # noqa: E402
from k8slab.meta import GroupVersionResource, get_controller_of  # noqa: E402
from k8slab.operators import kubeconfig_for, run, user_name  # noqa: E402
from k8slab.samplecontroller import DictClientset, install_crd, new_foo  # noqa: E402
from k8slab.samplecontroller.crd import DEPLOYMENTS_RESOURCE, FOOS_RESOURCE  # noqa: E402
from k8slab.samplecontroller.rbac import create_or_replace  # noqa: E402

CONTROLLERS = ["k8slab", "k8slab-one-bucket", "sample-controller", "controller-runtime", "kopf"]
SETTINGS = ["5/10", "20/30"]  # client QPS/burst; "5/10" runs client-go's own default (0/0) where that is the same
NODES = 4  # 110 Pods each: one burst's Pods at a time (each namespace is deleted before the next)
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
RESOURCES = ["foos", "foos/status", "deployments", "events", "leases"]


class Observer:
    """Watches one namespace; when each Foo's Deployment first appears and when the Foo is first available."""

    def __init__(self, lab: Lab, namespace: str) -> None:
        self.deployment_seen: dict[str, float] = {}
        self.available: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._factory = SharedInformerFactory(lister_watcher_for(lab, namespace=namespace))
        self._factory.informer_for(FOOS_RESOURCE).add_event_handler(ResourceEventHandlerFuncs(
            add_func=self._foo, update_func=lambda old, new: self._foo(new)))
        self._factory.informer_for(DEPLOYMENTS_RESOURCE).add_event_handler(ResourceEventHandlerFuncs(
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
        if not all(self._factory.wait_for_cache_sync(self._stop, timeout=60).values()):
            raise RuntimeError("bench informers did not sync")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._factory.shutdown(10)

    def count_available(self, names: list[str]) -> int:
        with self._lock:
            return sum(1 for n in names if n in self.available)


# -- counting requests per user -------------------------------------------------------------------


class AuditCounter:
    """Requests per (verb, resource) of a user, from the lab's audit log."""

    source = "the API server's audit log"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def mark(self) -> Any:
        return time.time()

    def since(self, mark: Any, user: str) -> collections.Counter:
        import pandas as pd

        df = self.lab.audit_log()
        df = df[(df["user"] == user) & (pd.to_datetime(df["received"], utc=True) >= pd.Timestamp(mark, unit="s", tz="UTC"))]
        df = df.drop_duplicates("audit_id")  # a watch has two events (ResponseStarted, then ResponseComplete)
        resource = df["resource"].fillna("") + df["subresource"].fillna("").map(lambda s: f"/{s}" if s else "")
        return collections.Counter(zip(df["verb"], resource))


class FlowSchemaCounter:
    """Requests per (verb, resource) of a user, as API Priority and Fairness counts them per FlowSchema."""

    source = "APF: apiserver_flowcontrol_dispatched_requests_total per FlowSchema (user, verb, resource)"

    def __init__(self, lab: Lab, admin: DictClientset, users: list[str]) -> None:
        self.lab = lab
        self.schemas: dict[str, tuple[str, str, str]] = {}  # FlowSchema name -> (user, verb, resource)
        flowschemas = admin.resource(GroupVersionResource("flowcontrol.apiserver.k8s.io", "v1", "flowschemas"))
        for user in users:
            for verb in VERBS:
                for resource in RESOURCES:
                    name = f"kb-{user}-{verb}-{resource.replace('/', '-')}"
                    self.schemas[name] = (user, verb, resource)
                    create_or_replace(flowschemas, _flow_schema(name, user, [verb], [resource], 500))
            name = f"kb-{user}-other"
            self.schemas[name] = (user, "*", "other")
            create_or_replace(flowschemas, _flow_schema(name, user, ["*"], ["*"], 501, non_resource=True))

    def _read(self) -> dict[str, float]:
        ctx = ssl.create_default_context(cafile=str(self.lab.dir / "pki" / "ca.crt"))
        ctx.load_cert_chain(str(self.lab.dir / "pki" / "admin.crt"), str(self.lab.dir / "pki" / "admin.key"))
        text = urllib.request.urlopen(f"{self.lab.server}/metrics", context=ctx, timeout=30).read().decode()
        counts: dict[str, float] = collections.defaultdict(float)
        for line in text.splitlines():
            if line.startswith("apiserver_flowcontrol_dispatched_requests_total{"):
                m = re.search(r'flow_schema="([^"]+)"', line)
                if m and m.group(1) in self.schemas:
                    counts[m.group(1)] += float(line.rsplit(" ", 1)[1])
        return counts

    def mark(self) -> Any:
        return self._read()

    def since(self, mark: Any, user: str) -> collections.Counter:
        now = self._read()
        out: collections.Counter = collections.Counter()
        for name, (who, verb, resource) in self.schemas.items():
            if who == user and now.get(name, 0) - mark.get(name, 0):
                out[verb, resource] += int(now.get(name, 0) - mark.get(name, 0))
        return out


def _flow_schema(name: str, user: str, verbs: list[str], resources: list[str], precedence: int,
                 non_resource: bool = False) -> dict[str, Any]:
    rule: dict[str, Any] = {"subjects": [{"kind": "User", "user": {"name": user}}],
                            "resourceRules": [{"verbs": verbs, "apiGroups": ["*"], "resources": resources,
                                               "clusterScope": True, "namespaces": ["*"]}]}
    if non_resource:
        rule["nonResourceRules"] = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
    return {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": name},
            "spec": {"priorityLevelConfiguration": {"name": "global-default"}, "matchingPrecedence": precedence,
                     "distinguisherMethod": {"type": "ByUser"}, "rules": [rule]}}


# -- one phase: one controller, one setting -------------------------------------------------------


def wait_until(what: str, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(0.1)


def delete_namespace(admin: DictClientset, name: str) -> None:
    """Delete `name` (if it exists) and wait until it is gone, its Foos, Deployments and Pods with it."""
    namespaces = admin.core_v1().namespaces()
    try:
        namespaces.delete(name)
    except errors.NotFound:
        pass

    def gone() -> bool:
        try:
            namespaces.get(name)
            return False
        except errors.NotFound:
            return True

    wait_until(f"namespace {name} deleted", gone, 300)


def fresh_namespace(admin: DictClientset, name: str) -> None:
    """An empty namespace `name`, ready for Pods (its default ServiceAccount exists)."""
    delete_namespace(admin, name)
    admin.core_v1().namespaces().create({"metadata": {"name": name}})
    accounts = admin.resource(GroupVersionResource("", "v1", "serviceaccounts")).namespace(name)
    wait_until(f"{name}'s default ServiceAccount", lambda: accounts.list(field_selector="metadata.name=default")["items"], 120)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def phase(lab: Lab, admin: DictClientset, counter: Any, controller: str, setting: str, foos: int,
          settle: float, log_dir: Path) -> dict[str, Any]:
    ns = f"bench-{controller}"
    fresh_namespace(admin, ns)
    qps, burst = (float(x) for x in setting.split("/"))
    limits: dict[str, Any] = {"qps": qps, "burst": int(burst)}
    if setting == "5/10" and controller in ("k8slab", "sample-controller", "kopf"):
        limits = {}  # client-go's own default: QPS 0, a 5/10 bucket per group version
    kubeconfig = kubeconfig_for(lab, admin, controller, namespace=ns)
    proc = run(controller, kubeconfig, namespace=ns, log_dir=log_dir, progress=None, **limits)
    observer = Observer(lab, ns).start()
    client = admin.samplecontroller_v1alpha1().foos(ns)
    try:
        client.create(new_foo("warmup", ns, replicas=1))
        wait_until(f"{controller}: the warm-up Foo available", lambda: observer.count_available(["warmup"]), 180)
        time.sleep(1.0)  # the warm-up's last writes land before the count starts
        mark = counter.mark()
        created: dict[str, float] = {}
        start = time.monotonic()
        for i in range(foos):
            name = f"foo-{i:03d}"
            created[name] = time.monotonic()
            client.create(new_foo(name, ns, replicas=1))
        sent = time.monotonic() - start
        wait_until(f"{controller}: {foos} Foos available", lambda: observer.count_available(list(created)) == foos, 900)
        converged = time.monotonic() - start
        time.sleep(settle)
        requests = counter.since(mark, user_name(controller))
        if not proc.running:
            raise RuntimeError(f"{controller} exited: {proc.logs()}")
    finally:
        observer.stop()
        proc.stop()
        # Gone before the next phase: the Go sample-controller watches every namespace, and the Pods
        # must leave room on the kwok nodes.
        delete_namespace(admin, ns)
    to_deployment = [observer.deployment_seen[n] - t for n, t in created.items()]
    to_available = [observer.available[n] - t for n, t in created.items()]
    return {"controller": controller, "setting": setting if limits else "0/0 (client-go default)",
            "sent": sent, "converged": converged, "requests": requests,
            "deployment": (percentile(to_deployment, 50), percentile(to_deployment, 99)),
            "available": (percentile(to_available, 50), percentile(to_available, 99)),
            "mean_available": statistics.mean(to_available)}


def report(result: dict[str, Any], foos: int) -> str:
    req = result["requests"]
    total = sum(req.values())
    by_verb = collections.Counter()
    for (verb, resource), n in req.items():
        by_verb[f"{verb} {resource}"] += n
    detail = ", ".join(f"{k} {v / foos:.1f}" for k, v in sorted(by_verb.items(), key=lambda kv: -kv[1]))
    d50, d99 = result["deployment"]
    a50, a99 = result["available"]
    return (f"  {result['controller']:<19} {result['setting']:<24} {total / foos:6.1f}   "
            f"{d50:6.2f} / {d99:6.2f}   {a50:6.2f} / {a99:6.2f}   {result['converged']:6.1f}\n"
            f"  {'':<19} per Foo: {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", help="use this running cluster lab instead of starting one")
    parser.add_argument("--foos", type=int, default=100)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds counted after the last Foo is available")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="client QPS/burst settings, e.g. 5/10,20/30")
    parser.add_argument("--only", default=",".join(CONTROLLERS), help="controllers, comma-separated")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    controllers = [c for c in args.only.split(",") if c]
    audit = "audit" in inspect.signature(Lab).parameters
    lab = Lab(args.lab or "bench-controller", profile="cluster", nodes=NODES, progress=None,
              **({"audit": True} if audit else {}))
    started = not lab.running
    lab.up()
    admin = DictClientset(lab.api_client())
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "k8slab-bench-controller"
    results = []
    try:
        install_crd(admin)
        users = [user_name(c) for c in controllers]
        counter = AuditCounter(lab) if audit and hasattr(lab, "audit_log") else FlowSchemaCounter(lab, admin, users)
        print(f"lab {lab.name!r} ({lab.nodes} kwok nodes); {args.foos} Foos of 1 replica per controller, "
              f"created back to back; requests from {counter.source}; load average "
              f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"  {'controller':<19} {'client QPS/burst':<24} {'req/Foo':>6}   {'-> Deployment p50/p99 s':<17}  "
              f"{'-> available p50/p99 s':<17}  all available s")
        for setting in args.settings.split(","):
            for controller in controllers:
                if controller == "sample-controller" and setting != "5/10":
                    print(f"  {controller:<19} {setting:<24} (not run: main.go has no QPS flag)")
                    continue
                result = phase(lab, admin, counter, controller, setting, args.foos, args.settle, log_dir)
                results.append(result)
                print(report(result, args.foos), flush=True)
    finally:
        if args.json:
            Path(args.json).write_text(json.dumps([{**r, "requests": {f"{v} {res}": n for (v, res), n in
                                                                    r["requests"].items()}} for r in results], indent=1))
        admin.close()
        if started:
            lab.down()


if __name__ == "__main__":
    main()
