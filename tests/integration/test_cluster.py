"""The full cluster: Deployments, scheduling, garbage collection and Jobs on kwok nodes."""

from __future__ import annotations

import time
from typing import Callable

import psutil
import pytest
from kubernetes import client

from k8slab.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.cluster]


@pytest.fixture(autouse=True)
def _needs_cluster(lab):
    if lab.profile != "cluster":
        pytest.skip("needs the cluster profile (K8SLAB_TEST_PROFILE=cluster)")


def eventually(check: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def running_pods(core: client.CoreV1Api, namespace: str, selector: str) -> list:
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


def test_the_lab_has_ready_nodes_with_capacity_and_zones(api_client, lab):
    nodes = client.CoreV1Api(api_client).list_node().items
    assert len(nodes) == lab.nodes
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True"
        assert node.status.allocatable["cpu"] == "8" and node.status.allocatable["pods"] == "110"
        assert node.metadata.labels["kubernetes.io/hostname"] == node.metadata.name
    assert len({n.metadata.labels["topology.kubernetes.io/zone"] for n in nodes}) == min(lab.nodes, 3)


def test_a_deployment_becomes_available_scales_and_is_garbage_collected(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", 3))

    def available(n: int) -> Callable[[], bool]:
        def check() -> bool:
            d = apps.read_namespaced_deployment("web", namespace)
            return (d.status.available_replicas or 0) == n and d.status.replicas in (n, None if n == 0 else n)
        return check

    eventually(available(3), what="3 available replicas")
    pods = running_pods(core, namespace, "app=web")
    assert len(pods) == 3 and all(p.spec.node_name for p in pods)

    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 5}})
    eventually(available(5), what="5 available replicas")
    assert len(running_pods(core, namespace, "app=web")) == 5

    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 0}})
    eventually(lambda: not core.list_namespaced_pod(namespace, label_selector="app=web").items, what="no pods")

    rs = apps.list_namespaced_replica_set(namespace).items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 2}})
    eventually(available(2), what="2 available replicas")

    apps.delete_namespaced_deployment("web", namespace)  # background propagation: the GC cleans up
    eventually(lambda: not apps.list_namespaced_replica_set(namespace).items, what="ReplicaSet collected")
    eventually(lambda: not core.list_namespaced_pod(namespace).items, what="Pods collected")


def test_a_pod_asking_for_more_cpu_than_any_node_has_stays_pending(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "greedy"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                                 "resources": {"requests": {"cpu": "64"}}}]},
    })

    def failed_scheduling():
        events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=greedy").items
        return [e for e in events if e.reason == "FailedScheduling"]

    events = eventually(failed_scheduling, what="a FailedScheduling event")
    assert "Insufficient cpu" in events[0].message
    pod = core.read_namespaced_pod("greedy", namespace)
    assert pod.status.phase == "Pending" and not pod.spec.node_name


def test_a_job_completes(api_client, namespace):
    batch = client.BatchV1Api(api_client)
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "once"},
        "spec": {"completions": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
        }}},
    })
    eventually(lambda: (batch.read_namespaced_job("once", namespace).status.succeeded or 0) == 2,
               what="2 succeeded Pods")
    job = batch.read_namespaced_job("once", namespace)
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)


def test_node_leases_are_renewed(api_client, lab):
    coord = client.CoordinationV1Api(api_client)
    name = "node-1"
    first = coord.read_namespaced_lease(name, "kube-node-lease").spec.renew_time
    renewed = eventually(
        lambda: coord.read_namespaced_lease(name, "kube-node-lease").spec.renew_time > first,
        timeout=45, what="the node Lease to be renewed",
    )
    assert renewed
    assert coord.read_namespaced_lease(name, "kube-node-lease").spec.lease_duration_seconds == 40


def test_status_lists_all_seven_components(lab):
    names = [row["component"] for row in lab.status()]
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
                     "kubelet-gate", "pod-web"]
    assert all(row["running"] for row in lab.status())


@pytest.mark.slow
def test_down_of_a_full_cluster_leaves_no_process(tmp_path):
    lab = Lab("pytest-down", profile="cluster", nodes=1, state_dir=tmp_path / "lab", progress=None).up()
    pids = [r["pid"] for r in lab.status()]
    assert len(pids) == 7
    lab.down()
    still = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert still == []
