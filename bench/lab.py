"""Benchmark the lab: build time, start-to-ready, a 100-replica Deployment, idle memory.

    python bench/lab.py                 # warm starts (both profiles), Deployment, RSS
    python bench/lab.py --cold          # also a cold build into an empty cache (10-20 min)
    python bench/lab.py --audit-cost    # only: start time and request latency with and without the audit log

Figures are printed, with each target and, for start-up, a baseline measured
side by side in the same run: the same binaries with the same flags started
by a bare loop (no certificate generation, no state, no binary checks), which
is the floor any launcher can reach on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from k8slab.lab import Lab  # noqa: E402
from k8slab.lab import components as comp  # noqa: E402
from k8slab.lab import processes  # noqa: E402
from k8slab.lab.build import resolve_binaries  # noqa: E402

TARGETS = {"minimal": 10.0, "cluster": 20.0}
RSS_TARGET_MB = 1536


def fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


def cold_build() -> None:
    """Build every binary into an empty k8slab cache and an empty Go build cache."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as gocache:
        env = dict(os.environ, K8SLAB_CACHE_DIR=cache, GOCACHE=gocache)
        env.pop("KUBEBUILDER_ASSETS", None)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "k8slab", "build", "--profile", "cluster"], env=env, check=True)
        print(f"cold build of all six binaries (empty build cache, module downloads cached): "
              f"{(time.monotonic() - start) / 60:.1f} min")


def k8slab_start(profile: str, root: Path, i: int) -> tuple[float, Lab]:
    lab = Lab(f"bench-{profile}-{i}", profile=profile, state_dir=root / f"{profile}-{i}", progress=None)
    start = time.monotonic()
    lab.up()
    return time.monotonic() - start, lab


def floor_start(profile: str, root: Path, i: int) -> float:
    """The same processes, flags and hooks, started by a bare loop; certificates made beforehand."""
    lab = Lab(f"floor-{profile}-{i}", profile=profile, state_dir=root / f"floor-{profile}-{i}", progress=None)
    binaries = resolve_binaries(comp.binaries_for(profile), progress=None)
    lab._fresh_state_dir()  # PKI and ports: not timed
    layout = lab.layout
    start = time.monotonic()
    try:
        for name in lab.components:
            spec = comp.COMPONENTS[name]
            if spec.before_start:
                spec.before_start(layout)
            proc = processes.spawn(comp.program(spec, binaries), spec.args(layout), layout.log(name),
                                   spec.env(layout) if spec.env else None)
            lab._state["processes"][name] = {"pid": proc.pid, "create_time": proc.create_time()}
            while not spec.ready(layout):
                time.sleep(0.02)
            if spec.after_ready:
                spec.after_ready(layout)
        waits = [comp.COMPONENTS[n].settled for n in lab.components if comp.COMPONENTS[n].settled]
        while not all(settled(layout)[0] for settled in waits):
            time.sleep(0.02)
        return time.monotonic() - start
    finally:
        lab._save_state()
        lab.down()


def starts(profile: str, n: int, root: Path) -> None:
    ours, floor = [], []
    for i in range(n):
        floor.append(floor_start(profile, root, i))
        t, lab = k8slab_start(profile, root, i)
        ours.append(t)
        lab.down()
    m, f = statistics.median(ours), statistics.median(floor)
    print(f"{profile:8s} start-to-ready, median of {n}: k8slab {fmt(m)}  bare-loop floor {fmt(f)}  "
          f"ratio {m / f:.2f}x  target < {TARGETS[profile]:.0f} s: {'met' if m < TARGETS[profile] else 'MISSED'}"
          f"  (k8slab runs: {', '.join(f'{x:.1f}' for x in ours)})")


def deployment_and_memory(root: Path, replicas: int) -> None:
    from kubernetes import client

    lab = Lab("bench-deploy", profile="cluster", state_dir=root / "deploy", progress=None).up()
    try:
        apps = client.AppsV1Api(lab.api_client())
        time.sleep(10)  # let start-up settle before reading idle memory
        rows = lab.status()
        total = sum(r["rss_mb"] for r in rows)
        print("idle RSS, cluster profile (3 nodes):")
        for r in rows:
            print(f"  {r['component']:24s} {r['rss_mb']:7.1f} MB")
        print(f"  {'total':24s} {total:7.1f} MB  target < {RSS_TARGET_MB} MB: {'met' if total < RSS_TARGET_MB else 'MISSED'}")
        labels = {"app": "bench"}
        body = {"metadata": {"name": "bench"}, "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
        start = time.monotonic()
        apps.create_namespaced_deployment("default", body)
        while (apps.read_namespaced_deployment("bench", "default").status.available_replicas or 0) < replicas:
            time.sleep(0.1)
        print(f"{replicas}-replica Deployment to fully available: {fmt(time.monotonic() - start)}")
        rows = lab.status()
        parts = ", ".join(f"{r['component']} {r['rss_mb']:.0f}" for r in rows)
        print(f"RSS with {replicas} Pods running: {sum(r['rss_mb'] for r in rows):.0f} MB ({parts})")
    finally:
        lab.down()


def request_latencies(lab: Lab, gets: int, creates: int) -> tuple[list[float], list[float]]:
    """Milliseconds per GET of one ConfigMap and per create, over one kept-alive TLS connection."""
    import http.client
    import json

    conn = http.client.HTTPSConnection("127.0.0.1", lab.port("kube-apiserver", "secure"),
                                       context=lab.admin_ssl_context(), timeout=30)
    path = "/api/v1/namespaces/default/configmaps"
    headers = {"Content-Type": "application/json", "User-Agent": "k8slab-bench/audit"}

    def timed(method: str, url: str, body: dict | None = None) -> float:
        start = time.perf_counter()
        conn.request(method, url, body=json.dumps(body) if body else None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status in (200, 201), (method, url, resp.status)
        return (time.perf_counter() - start) * 1000

    timed("POST", path, {"metadata": {"name": "probe"}, "data": {"k": "v"}})
    get_ms = [timed("GET", f"{path}/probe") for _ in range(gets)]
    create_ms = [timed("POST", path, {"metadata": {"name": f"cm-{i}"}, "data": {"k": "v"}}) for i in range(creates)]
    conn.close()
    return get_ms, create_ms


def audit_cost(root: Path, runs: int, gets: int = 300, creates: int = 100) -> None:
    """Minimal labs with and without the audit log, alternated: start-to-ready, then request latency."""
    results: dict[bool, dict[str, list[float]]] = {a: {"start": [], "get": [], "create": []} for a in (False, True)}
    for i in range(runs):
        for audit in (False, True):
            lab = Lab(f"bench-audit-{i}-{int(audit)}", profile="minimal", state_dir=root / f"audit-{i}-{int(audit)}",
                      progress=None, audit=audit)
            start = time.monotonic()
            lab.up()
            results[audit]["start"].append(time.monotonic() - start)
            try:
                get_ms, create_ms = request_latencies(lab, gets, creates)
                results[audit]["get"] += get_ms
                results[audit]["create"] += create_ms
                if audit:
                    size = sum(f.stat().st_size for f in (lab.dir / "audit").glob("audit*.log"))
                    events = len(lab.audit_log(stage=None))
                    print(f"  run {i + 1}: audit log {size / 1024:.0f} KiB, {events} events ({size / events:.0f} B each)")
            finally:
                lab.down()

    def pct(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=100)[int(q) - 1]

    for audit in (False, True):
        r = results[audit]
        print(f"audit {'on ' if audit else 'off'}: start median {fmt(statistics.median(r['start']))} "
              f"(runs: {', '.join(f'{x:.2f}' for x in r['start'])}); "
              f"GET p50 {pct(r['get'], 50):.2f} ms p95 {pct(r['get'], 95):.2f} ms; "
              f"create p50 {pct(r['create'], 50):.2f} ms p95 {pct(r['create'], 95):.2f} ms "
              f"({len(r['get'])} GETs, {len(r['create'])} creates)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cold", action="store_true", help="also time a cold build (10-20 minutes)")
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--replicas", type=int, default=100)
    p.add_argument("--profile", choices=["minimal", "cluster", "both"], default="both")
    p.add_argument("--audit-cost", action="store_true", help="only measure what the audit log costs")
    args = p.parse_args()
    if args.audit_cost:
        with tempfile.TemporaryDirectory(prefix="k8slab-bench-") as tmp:
            audit_cost(Path(tmp), args.starts)
        return
    if args.cold:
        cold_build()
    with tempfile.TemporaryDirectory(prefix="k8slab-bench-") as tmp:
        root = Path(tmp)
        for profile in (["minimal", "cluster"] if args.profile == "both" else [args.profile]):
            starts(profile, args.starts, root)
        deployment_and_memory(root, args.replicas)


if __name__ == "__main__":
    main()
