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

from ..errors import APIError, KubeconfigNotFound

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

    def service_account(self, name: str, namespace: str, expiration_seconds: int = 3600) -> Path:
        """A kubeconfig for ServiceAccount `name` in `namespace` (created if missing), with a token of its own.

        The lab mints client certificates (`Lab.user`); a cluster k8slab did not
        start cannot, but any cluster issues ServiceAccount tokens (TokenRequest,
        `expiration_seconds` long). The API server knows the account as
        `system:serviceaccount:<namespace>:<name>`. The file is mode 0600, under
        `$K8SLAB_STATE_DIR/external/users/`.
        """
        from kubernetes.client import CoreV1Api
        from kubernetes.client.exceptions import ApiException

        from .pki import kubeconfig_dict, write_kubeconfig
        from .state import state_root

        api = self.api_client()
        try:
            core = CoreV1Api(api)
            try:
                core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
            except ApiException as e:
                if e.status != 409:
                    raise self._refused(f"creating ServiceAccount {namespace}/{name}", e) from None
            try:
                token = core.create_namespaced_service_account_token(
                    name, namespace, {"spec": {"expirationSeconds": int(expiration_seconds)}}).status.token
            except ApiException as e:
                raise self._refused(f"a token for ServiceAccount {namespace}/{name}", e) from None
            ca_file = api.configuration.ssl_ca_cert
            ca_pem = Path(ca_file).read_bytes() if ca_file else None
        finally:
            api.close()
        path = state_root() / "external" / "users" / f"{namespace}.{name}.kubeconfig"
        config = kubeconfig_dict(server=self.server, ca_pem=ca_pem, user=f"system:serviceaccount:{namespace}:{name}",
                                 token=token, cluster="external")
        return write_kubeconfig(path, config)

    def _refused(self, what: str, e: Any) -> Exception:
        return APIError.from_body(e.status or 0, e.body, f"{what} on the cluster of {self.kubeconfig}")

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
