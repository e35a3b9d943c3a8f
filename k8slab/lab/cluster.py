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
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import StartupFailed
from .build import KWOK_STAGES, copy_kwok_stages, kwok_stages_dir
from .pod_streams import prepare_pods, streaming_rules

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

__all__ = ["NODE_CAPACITY", "finish_cluster", "node_manifest", "prepare_kwok"]

# A modest worker: enough for the course's Deployments (100 replicas fit on
# one node), small enough that a Pod asking for 64 CPUs stays Pending.
NODE_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
ZONES = ("zone-a", "zone-b", "zone-c")


def prepare_kwok(lab: "Lab") -> None:
    """Write kwok's configuration (its stages and the Pods' streaming rules, one YAML stream)."""
    stages = kwok_stages_dir()
    if not all((stages / Path(rel).name).exists() for rel in KWOK_STAGES):
        stages = copy_kwok_stages()
    docs = [(stages / Path(rel).name).read_text().strip() for rel in KWOK_STAGES]
    web_port = lab.port("pod-web", "http")
    prepare_pods(lab.dir / "pods", lab.name, web_port)
    docs += [yaml.safe_dump(rule, sort_keys=False).strip() for rule in streaming_rules(lab.dir / "pods", web_port)]
    (lab.dir / "components" / "kwok.yaml").write_text("\n---\n".join(docs) + "\n")


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


def finish_cluster(lab: "Lab") -> None:
    """Create the fake nodes, then wait until they are Ready and `default/default` exists."""
    for i in range(lab.nodes):
        _api(lab, "POST", "/api/v1/nodes", node_manifest(i), ok=(201, 409))
    deadline = time.monotonic() + lab.start_timeout
    missing = "nodes"
    while time.monotonic() < deadline:
        nodes = _api(lab, "GET", "/api/v1/nodes")["items"]
        ready = [n for n in nodes if _condition(n, "Ready") == "True"]
        sa = _api(lab, "GET", "/api/v1/namespaces/default/serviceaccounts/default", ok=(200, 404))
        if len(ready) >= lab.nodes and sa.get("kind") == "ServiceAccount":
            return
        missing = (
            f"{len(ready)} of {lab.nodes} nodes Ready"
            if len(ready) < lab.nodes
            else "ServiceAccount default/default"
        )
        time.sleep(0.2)
    raise StartupFailed(
        f"the cluster did not finish starting in {lab.start_timeout:.0f} s (waiting for {missing}); "
        f"logs: {lab.dir / 'logs'}"
    )


def _condition(obj: dict[str, Any], kind: str) -> str:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return ""


def _api(lab: "Lab", method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> dict[str, Any]:
    """A tiny admin HTTP call (the lab stays independent of k8slab's client chain)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(lab.server + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, context=lab.admin_ssl_context(), timeout=10) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in ok:
            return json.loads(exc.read() or b"{}")
        raise StartupFailed(f"{method} {path} answered {exc.code}: {exc.read()[:300]!r}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise StartupFailed(
            f"kube-apiserver of lab {lab.name!r} did not answer {method} {path} ({exc}); "
            f"logs: {lab.dir / 'logs'}",
            log=str(lab.log_path("kube-apiserver")),
        ) from None
