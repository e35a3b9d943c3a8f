"""The lab's components: one place per process for its flags, its readiness and its hooks.

Choices follow controller-runtime's envtest (etcd + kube-apiserver on loopback)
and kwokctl's binary runtime (controller-manager, scheduler, kwok): every
process listens on 127.0.0.1 only, on ports chosen free at start, and is
asked itself whether it is ready (`/health`, `/readyz`, `/healthz`), with the
lab's admin client certificate where TLS is on. How a process is started and
stopped is in processes.py; what a component may know of its lab is a
`Layout` (layout.py).

A component's hooks, each given the Layout, are where starting it takes more
than running a process and waiting for its probe:

    before_start   files it reads (the API server: its audit policy; kwok: its
                   stages, the Pods' streaming rules)
    after_ready    what must exist before the next one starts (the API
                   server: namespace `default`; kwok: the fake nodes)
    settled        what `up` waits for once all run, all of them together
                   (the nodes Ready, ServiceAccount default/default)
"""

from __future__ import annotations

import dataclasses
import ssl
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from ..errors import StartupFailed, UsageError
from . import _http, audit
from .cluster import create_nodes, default_service_account, nodes_ready, prepare_kwok
from .layout import LOOPBACK, Layout, free_port

__all__ = ["COMPONENTS", "PROFILES", "Component", "binaries_for", "free_port", "needed_binaries", "program"]


@dataclasses.dataclass(frozen=True)
class Component:
    """How to run one process of the lab, and what to do around its start."""

    name: str
    ports: tuple[str, ...]  # names of the ports it listens on, e.g. ("client", "peer")
    args: Callable[[Layout], list[str]]
    ready: Callable[[Layout], bool]
    binary: str = ""  # defaults to the name; "python" is the Python running k8slab
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL
    env: Callable[[Layout], dict[str, str]] | None = None  # None: k8slab's own environment
    before_start: Callable[[Layout], None] | None = None
    after_ready: Callable[[Layout], None] | None = None
    settled: Callable[[Layout], tuple[bool, str]] | None = None  # (done, what it waits for)

    @property
    def binary_name(self) -> str:
        return self.binary or self.name


def program(component: Component, binaries: dict[str, Path]) -> Path:
    """The executable that runs `component`: a built binary, or this Python."""
    return Path(sys.executable) if component.binary == "python" else binaries[component.binary_name]


# -- readiness probes and the API server's hook ------------------------------------


def _etcd_ready(layout: Layout) -> bool:
    try:
        status, health = _http.call(f"http://{LOOPBACK}:{layout.port('etcd', 'client')}/health", timeout=2.0)
    except (OSError, ValueError):
        return False
    return status == 200 and health.get("health") == "true"


def _apiserver_ready(layout: Layout) -> bool:
    return _http.ok(f"{layout.server}/readyz", layout.tls())


def _secure_healthz(component: str) -> Callable[[Layout], bool]:
    def ready(layout: Layout) -> bool:
        # The component's own self-signed serving certificate: nothing to verify it against.
        return _http.ok(f"https://{LOOPBACK}:{layout.port(component, 'secure')}/healthz", _no_verify())

    return ready


def _no_verify() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _kwok_ready(layout: Layout) -> bool:
    return _http.ok(f"http://{LOOPBACK}:{layout.port('kwok', 'server')}/healthz")


def _gate_ready(layout: Layout) -> bool:
    """The whole path the API server takes: TLS, its client certificate, kwok behind."""
    url = f"https://{LOOPBACK}:{layout.port('kubelet-gate', 'secure')}/healthz"
    return _http.ok(url, layout.tls("apiserver-kubelet-client"))


def _pod_web_ready(layout: Layout) -> bool:
    return _http.ok(f"http://{LOOPBACK}:{layout.port('pod-web', 'http')}/")


def _wait_for_default_namespace(layout: Layout) -> None:
    """After /readyz: the API server is usable once namespace `default` exists."""
    deadline = time.monotonic() + layout.timeout
    while time.monotonic() < deadline:
        try:
            if _http.call(f"{layout.server}/api/v1/namespaces/default", context=layout.tls(), timeout=5)[0] == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise StartupFailed(
        f"kube-apiserver answered /readyz but namespace 'default' did not appear in "
        f"{layout.timeout:.0f} s; its log: {layout.log('kube-apiserver')}",
        log=str(layout.log("kube-apiserver")),
    )


# -- flags ---------------------------------------------------------------------


def _etcd_args(layout: Layout) -> list[str]:
    client = f"http://{LOOPBACK}:{layout.port('etcd', 'client')}"
    peer = f"http://{LOOPBACK}:{layout.port('etcd', 'peer')}"
    return [
        "--name=k8slab",
        f"--data-dir={layout.dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=k8slab={peer}",
        "--initial-cluster-state=new",
        "--unsafe-no-fsync=true",  # a lab, not a database: speed over durability on power loss
        "--quota-backend-bytes=4294967296",
        "--log-level=warn",
    ]


def _apiserver_args(layout: Layout) -> list[str]:
    pki = layout.pki
    args = [
        f"--etcd-servers=http://{LOOPBACK}:{layout.port('etcd', 'client')}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={layout.port('kube-apiserver', 'secure')}",
        # Without a default route the apiserver cannot pick an address to
        # advertise; loopback is valid here but not in Endpoints, hence "none".
        f"--advertise-address={LOOPBACK}",
        "--endpoint-reconciler-type=none",
        f"--cert-dir={layout.dir / 'apiserver'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=Node,RBAC",
        # How it reaches a node's kubelet (for logs, exec, port-forward): at
        # the node's InternalIP, verifying the kubelet's serving certificate,
        # presenting a client certificate of its own.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--allow-privileged=true",
        "--profiling=false",
        # On SIGTERM, give open connections (the components' watches) 2 s, not the
        # default 60 s (--request-timeout): past our 15 s grace, a restart would
        # otherwise always end in SIGKILL. Requests in that window get 429 with
        # Retry-After, which clients retry.
        "--shutdown-send-retry-after=true",
        "--v=1",
    ]
    if layout.profile == "minimal":
        # No controller-manager makes the `default` ServiceAccount, and
        # ServiceAccount admission would refuse every Pod without it.
        args.append("--disable-admission-plugins=ServiceAccount")
    return args + (audit.apiserver_flags(layout.dir / "audit") if layout.audit else [])


def _write_audit_policy(layout: Layout) -> None:
    if layout.audit:
        audit.write_policy(layout.dir / "audit")


def _kube_component_args(layout: Layout, name: str) -> list[str]:
    """What kube-controller-manager and kube-scheduler share: their identity, loopback, no election."""
    kubeconfig = layout.dir / "components" / f"{name}.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={layout.port(name, 'secure')}",
        f"--cert-dir={layout.dir / name}",
        "--leader-elect=false",  # else a restart waits for the old lease to expire
        "--v=1",
    ]


def _controller_manager_args(layout: Layout) -> list[str]:
    pki = layout.pki
    return _kube_component_args(layout, "kube-controller-manager") + [
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        "--use-service-account-credentials=true",
        # The default client budget (20 qps) spaces out the discovery calls of
        # ~50 controllers' start-up over seconds; a lab has no one to protect.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        # Every default controller but IPAM: fake nodes need no Pod CIDRs.
        "--controllers=*,-node-ipam-controller",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
    ]


def _scheduler_args(layout: Layout) -> list[str]:
    return _kube_component_args(layout, "kube-scheduler")


def _kwok_args(layout: Layout) -> list[str]:
    return [
        f"--kubeconfig={layout.dir / 'components' / 'kwok.kubeconfig'}",
        f"--config={layout.dir / 'components' / 'kwok.yaml'}",
        "--manage-all-nodes=true",
        f"--server-address={LOOPBACK}:{layout.port('kwok', 'server')}",
        # The port every node advertises as its kubelet's: the gate's, in front of kwok.
        f"--node-port={layout.port('kubelet-gate', 'secure')}",
        "--node-lease-duration-seconds=40",
        "--node-ip=127.0.0.1",
        "--cidr=10.244.0.0/16",  # Pod IPs, apart from the Service range 10.96.0.0/16
        "--v=INFO",
    ]


def _kwok_env(layout: Layout) -> dict[str, str]:
    """kwok runs an exec's command itself: its PATH holds only the allow-listed ones."""
    pods = layout.dir / "pods"
    return {"PATH": str(pods / "bin"), "HOME": str(pods / "workdir"), "LANG": "C.UTF-8"}


def _gate_args(layout: Layout) -> list[str]:
    pki = layout.pki
    commands = sorted(p.name for p in (layout.dir / "pods" / "bin").iterdir())
    return [
        str(Path(__file__).with_name("kubelet_gate.py")),
        f"--port={layout.port('kubelet-gate', 'secure')}",
        f"--kwok-port={layout.port('kwok', 'server')}",
        f"--cert={pki / 'kubelet.crt'}",
        f"--key={pki / 'kubelet.key'}",
        f"--ca={pki / 'ca.crt'}",
        f"--commands={','.join(commands)}",
    ]


def _pod_web_args(layout: Layout) -> list[str]:
    www = layout.dir / "pods" / "www"
    return ["-m", "http.server", "--bind", LOOPBACK, "--directory", str(www), str(layout.port("pod-web", "http"))]


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in [
        Component("etcd", ("client", "peer"), _etcd_args, _etcd_ready),
        Component("kube-apiserver", ("secure",), _apiserver_args, _apiserver_ready, grace=15.0,
                  before_start=_write_audit_policy, after_ready=_wait_for_default_namespace),
        Component("kube-controller-manager", ("secure",), _controller_manager_args,
                  _secure_healthz("kube-controller-manager"), settled=default_service_account),
        Component("kube-scheduler", ("secure",), _scheduler_args, _secure_healthz("kube-scheduler")),
        Component("kwok", ("server",), _kwok_args, _kwok_ready, env=_kwok_env,
                  before_start=prepare_kwok, after_ready=create_nodes, settled=nodes_ready),
        Component("kubelet-gate", ("secure",), _gate_args, _gate_ready, binary="python", grace=5.0),
        Component("pod-web", ("http",), _pod_web_args, _pod_web_ready, binary="python", grace=5.0),
    ]
}

PROFILES: dict[str, tuple[str, ...]] = {
    "minimal": ("etcd", "kube-apiserver"),
    "cluster": ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
                "kubelet-gate", "pod-web"),
}


def binaries_for(profile: str, kubectl: bool = False) -> list[str]:
    """The binaries a profile runs (and kubectl, if asked), in start order."""
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    names = needed_binaries(PROFILES[profile])
    return names + ["kubectl"] if kubectl else names


def needed_binaries(components: Iterable[str]) -> list[str]:
    """The built binaries these components run (a Python component needs none)."""
    return [COMPONENTS[c].binary_name for c in components if COMPONENTS[c].binary != "python"]
