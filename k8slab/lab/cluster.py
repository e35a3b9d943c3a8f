"""The `cluster` profile's extras: kwok's stages, the fake nodes, the last waits.

kwok ("Kubernetes WithOut Kubelet") plays every kubelet: it watches Nodes and
Pods and moves them through *stages* (a Node is initialised and keeps its
Lease renewed; a scheduled Pod becomes Running and Ready; a Job's Pod
completes; a deleted Pod goes away). The stage definitions ship inside the
kwok Go module (`kustomize/stage/...`); k8slab copies them next to the kwok
binary when it builds it, and reads them from there.

Nodes are plain `v1.Node` objects the lab creates, with a realistic capacity
and the labels a scheduler and a reader expect (`kubernetes.io/hostname`,
`topology.kubernetes.io/zone`, ...).

Each function here is a hook of a component (see components.py) and gets
the lab's `Layout`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import StartupFailed
from . import _http
from .build import KWOK_STAGES, copy_kwok_stages, kwok_stages_dir
from .layout import Layout
from .pod_streams import prepare_pods, streaming_rules

__all__ = ["NODE_CAPACITY", "create_nodes", "default_service_account", "node_manifest", "nodes_ready",
           "prepare_kwok"]

# A modest worker: enough for the course's Deployments (100 replicas fit on
# one node), small enough that a Pod asking for 64 CPUs stays Pending.
NODE_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
ZONES = ("zone-a", "zone-b", "zone-c")


def prepare_kwok(layout: Layout) -> None:
    """kwok's before_start: its configuration (stages, the Pods' streaming rules), one YAML stream."""
    stages = kwok_stages_dir()
    if not all((stages / Path(rel).name).exists() for rel in KWOK_STAGES):
        stages = copy_kwok_stages()
    docs = [(stages / Path(rel).name).read_text().strip() for rel in KWOK_STAGES]
    web_port = layout.port("pod-web", "http")
    prepare_pods(layout.dir / "pods", layout.name, web_port)
    docs += [yaml.safe_dump(rule, sort_keys=False).strip() for rule in streaming_rules(layout.dir / "pods", web_port)]
    (layout.dir / "components" / "kwok.yaml").write_text("\n---\n".join(docs) + "\n")


def node_manifest(index: int) -> dict[str, Any]:
    """The Node object for fake node number `index` (0-based)."""
    name = f"node-{index + 1}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/region": "lab",
                "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "capacity": dict(NODE_CAPACITY),
            "allocatable": dict(NODE_CAPACITY),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                "containerRuntimeVersion": "kwok",
                "osImage": "kwok",
                "kernelVersion": "kwok",
            },
        },
    }


def create_nodes(layout: Layout) -> None:
    """kwok's after_ready: the fake nodes (kept if they exist, as after a restart of kwok)."""
    for i in range(layout.nodes):
        _api(layout, "POST", "/api/v1/nodes", node_manifest(i), ok=(201, 409))


def nodes_ready(layout: Layout) -> tuple[bool, str]:
    """kwok's settled: every fake node Ready."""
    nodes = _api(layout, "GET", "/api/v1/nodes")["items"]
    ready = sum(_condition(n, "Ready") == "True" for n in nodes)
    return ready >= layout.nodes, f"{min(ready, layout.nodes)} of {layout.nodes} fake nodes Ready"


def default_service_account(layout: Layout) -> tuple[bool, str]:
    """The controller-manager's settled: ServiceAccount default/default, which Pods need."""
    sa = _api(layout, "GET", "/api/v1/namespaces/default/serviceaccounts/default", ok=(200, 404))
    done = sa.get("kind") == "ServiceAccount"
    return done, f"ServiceAccount default/default {'exists' if done else 'is missing'}"


def _condition(obj: dict[str, Any], kind: str) -> str:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return ""


def _api(layout: Layout, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> dict[str, Any]:
    """A tiny admin call to the API server during a start."""
    try:
        status, answer = _http.call(layout.server + path, method=method, body=body, context=layout.tls())
    except (OSError, ValueError) as exc:
        raise StartupFailed(
            f"kube-apiserver of lab {layout.name!r} did not answer {method} {path} ({exc}); "
            f"logs: {layout.dir / 'logs'}",
            log=str(layout.log("kube-apiserver")),
        ) from None
    if status not in ok:
        raise StartupFailed(f"{method} {path} answered {status}: {str(answer)[:300]}")
    return answer
