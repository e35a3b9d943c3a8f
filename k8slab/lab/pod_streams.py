"""What answers `kubectl logs`, `exec` and `port-forward` on the lab's Pods, which run no containers.

kwok v0.8.0 can answer a node's streaming requests from configuration
(`pkg/apis/v1alpha1/cluster_{logs,exec,port_forward}_types.go`, served by
`pkg/kwok/server/debugging_*.go`). The lab gives it one rule of each kind,
for every Pod and every container, all of it inside the lab's state directory
(`pods/`):

    container.log   ClusterLogs: the log every container shows, in the CRI log
                    format kwok reads (`<RFC 3339 time> stdout F <line>`)
    workdir/        ClusterExec: an exec's command runs here, on this machine,
                    as the lab's user, with kwok's environment
    bin/            ... and kwok's PATH is this folder of symlinks to the
                    allow-listed commands (see kubelet_gate.py)
    www/            ClusterPortForward: every port of every Pod forwards to the
                    `pod-web` component, Python's http.server serving this folder

The path a request takes: kubectl → kube-apiserver → (TLS, client certificate)
the kubelet gate on the nodes' kubelet port → kwok → the file, the command or
pod-web. What the allow-list does and does not prevent is in kubelet_gate.py.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from .kubelet_gate import ALLOWED_COMMANDS

__all__ = ["prepare_pods", "streaming_rules"]

_API = "kwok.x-k8s.io/v1alpha1"


def prepare_pods(pods: Path, lab_name: str, web_port: int) -> None:
    """Write the log, the page, the working directory and the command folder."""
    for sub in ("bin", "workdir", "www"):
        (pods / sub).mkdir(parents=True, exist_ok=True)
    found = [(name, shutil.which(name)) for name in ALLOWED_COMMANDS]
    for name, path in found:
        if path:
            link = pods / "bin" / name
            link.unlink(missing_ok=True)  # kwok's restart writes all of this again
            link.symlink_to(path)
    commands = ", ".join(name for name, path in found if path)
    (pods / "workdir" / "README.txt").write_text(
        f"This is {pods / 'workdir'}, on the machine running lab {lab_name!r}: kubectl exec on any of\n"
        f"its Pods runs here, and may run only: {commands}.\n"
    )
    lines = [
        f"lab {lab_name!r}: this Pod runs no container; kwok plays its node's kubelet.",
        f"Every Pod's every container shows these lines, from {pods / 'container.log'}.",
        f"kubectl exec runs one of {commands} on this machine, in {pods / 'workdir'}.",
        f"kubectl port-forward reaches the lab's pod-web server on 127.0.0.1:{web_port}.",
    ]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    (pods / "container.log").write_text("".join(f"{stamp} stdout F {line}\n" for line in lines))
    (pods / "www" / "index.html").write_text(
        "<!doctype html>\n<title>k8slab pod-web</title>\n"
        f"<h1>Hello from lab {lab_name!r}</h1>\n"
        f"<p>Every port of every Pod forwards here: pod-web, Python's http.server on 127.0.0.1:{web_port}.</p>\n"
    )


def streaming_rules(pods: Path, web_port: int) -> list[dict[str, Any]]:
    """kwok's ClusterLogs, ClusterExec and ClusterPortForward for every Pod (no selector)."""

    def rule(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": _API, "kind": kind, "metadata": {"name": f"k8slab-{kind.lower()}"}, "spec": spec}

    return [
        rule("ClusterLogs", {"logs": [{"logsFile": str(pods / "container.log")}]}),
        rule("ClusterExec", {"execs": [{"local": {"workDir": str(pods / "workdir")}}]}),
        rule("ClusterPortForward", {"forwards": [{"target": {"address": "127.0.0.1", "port": web_port}}]}),
    ]
