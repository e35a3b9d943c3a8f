"""Bring your own cluster: the course against any kubeconfig instead of the lab.

    export K8SLAB_KUBECONFIG=~/.kube/config      # kind, minikube, a real cluster
    python3 -m k8slab course

`connect()` is how every notebook gets its cluster: the lab (started, or
adopted if it runs), or, when `K8SLAB_KUBECONFIG` names a kubeconfig, an
`ExternalCluster` with the same reading surface (`kubeconfig`, `server`,
`api_client()`). What only the lab can do (compact etcd, restart the
apiserver, mint client certificates) is skipped there with a note that says
so, never a traceback; notebooks check `cluster.is_lab` where the rest of a
lesson depends on such a step.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import KubeconfigNotFound

__all__ = ["ExternalCluster", "connect"]


class ExternalCluster:
    """A cluster k8slab did not start, reached through a kubeconfig."""

    is_lab = False
    profile = "external"

    def __init__(self, kubeconfig: str | os.PathLike[str], say: Callable[[str], None] = print) -> None:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise KubeconfigNotFound(
                f"K8SLAB_KUBECONFIG names {path}, which does not exist; point it at a kubeconfig file, "
                "or unset it to use the k8slab lab"
            )
        self.kubeconfig = path
        self.name = "external"
        self._say = say

    @functools.cached_property
    def server(self) -> str:
        """The API server's URL, read once (loading a kubeconfig may run exec plugins)."""
        from kubernetes import config
        from kubernetes.client import Configuration

        cfg = Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
        return cfg.host

    def api_client(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def up(self) -> "ExternalCluster":
        return self

    def _skip(self, what: str) -> None:
        self._say(f"skipped on this cluster: {what} needs the k8slab lab (K8SLAB_KUBECONFIG is set)")

    def compact(self, *args: Any, **kwargs: Any) -> None:
        self._skip("compacting etcd")

    def restart(self, component: str) -> None:
        self._skip(f"restarting {component}")

    def stop(self, component: str) -> None:
        self._skip(f"stopping {component}")

    def start(self, component: str) -> None:
        self._skip(f"starting {component}")

    def user(self, name: str, groups: Any = ()) -> None:
        self._skip(f"a client certificate for {name!r}")

    def enable_audit(self) -> None:
        self._skip("the API server's audit log")

    def audit_log(self, *args: Any, **kwargs: Any) -> None:
        self._skip("the API server's audit log")

    def status(self) -> list[dict[str, Any]]:
        return []


def connect(progress: Callable[[str], None] | None = print, name: str | None = None):
    """The course's cluster: `$K8SLAB_KUBECONFIG` if set, else the lab (started or adopted).

    `name` picks the lab, as in `Lab(name)` (default `$K8SLAB_LAB`, else "default").
    """
    external = os.environ.get("K8SLAB_KUBECONFIG")
    if external:
        return ExternalCluster(external, say=progress or (lambda _: None))
    from .lab import Lab

    return Lab(name, progress=progress).up()
