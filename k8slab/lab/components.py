"""The lab's processes: one place per component for its flags, start, readiness and stop.

Choices follow controller-runtime's envtest (etcd + kube-apiserver on loopback)
and kwokctl's binary runtime (controller-manager, scheduler, kwok):

- everything listens on 127.0.0.1 only, on ports chosen free at start;
- each process runs in its own session (its own process group), writes to its
  own log file, and is stopped with SIGTERM to the group, then SIGKILL after a
  grace period, so nothing is left behind;
- readiness is asked of the process itself (`/health`, `/readyz`, `/healthz`)
  over loopback, with the lab's admin client certificate where TLS is on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import psutil

from ..errors import PortInUse, StartupFailed, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

__all__ = ["COMPONENTS", "Component", "binaries_for", "free_port", "port_owner"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_owner(port: int) -> str:
    """Describe who listens on a loopback port ('' if nobody does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
            return ""
        except OSError:
            pass
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                try:
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                except psutil.Error:
                    return f"pid {conn.pid}"
    except psutil.Error:
        pass
    return "another process"


def check_port_free(port: int, what: str) -> None:
    owner = port_owner(port)
    if owner:
        raise PortInUse(
            f"port {port} on {LOOPBACK}, asked for {what}, is already in use by {owner}; "
            "choose another port, or leave it out and the lab picks a free one"
        )


@dataclasses.dataclass
class Component:
    """How to run one control-plane process."""

    name: str
    ports: tuple[str, ...]  # names of the ports it listens on, e.g. ("client", "peer")
    args: Callable[["Lab"], list[str]]
    ready: Callable[["Lab"], bool]
    binary: str = ""  # defaults to the name; "python" is the Python running k8slab
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL
    env: Callable[["Lab"], dict[str, str]] | None = None  # None: inherit k8slab's environment

    @property
    def binary_name(self) -> str:
        return self.binary or self.name


# -- readiness probes ------------------------------------------------------------


def _http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _etcd_ready(lab: "Lab") -> bool:
    url = f"http://{LOOPBACK}:{lab.port('etcd', 'client')}/health"
    try:
        with urllib.request.urlopen(url, timeout=2.0) as resp:
            return json.loads(resp.read()).get("health") == "true"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _apiserver_ready(lab: "Lab") -> bool:
    return _http_ok(f"{lab.server}/readyz", lab.admin_ssl_context())


def _secure_healthz(component: str, port: str = "secure") -> Callable[["Lab"], bool]:
    def ready(lab: "Lab") -> bool:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # self-signed serving certs made by the component itself
        return _http_ok(f"https://{LOOPBACK}:{lab.port(component, port)}/healthz", ctx)

    return ready


def _kwok_ready(lab: "Lab") -> bool:
    return _http_ok(f"http://{LOOPBACK}:{lab.port('kwok', 'server')}/healthz")


def _gate_ready(lab: "Lab") -> bool:
    """The whole path the API server takes: TLS, its client certificate, kwok behind."""
    pki = lab.dir / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "apiserver-kubelet-client.crt"), str(pki / "apiserver-kubelet-client.key"))
    return _http_ok(f"https://{LOOPBACK}:{lab.port('kubelet-gate', 'secure')}/healthz", ctx)


def _pod_web_ready(lab: "Lab") -> bool:
    return _http_ok(f"http://{LOOPBACK}:{lab.port('pod-web', 'http')}/")


# -- flags ---------------------------------------------------------------------


def _etcd_args(lab: "Lab") -> list[str]:
    client = f"http://{LOOPBACK}:{lab.port('etcd', 'client')}"
    peer = f"http://{LOOPBACK}:{lab.port('etcd', 'peer')}"
    return [
        "--name=k8slab",
        f"--data-dir={lab.dir / 'etcd'}",
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


def _apiserver_args(lab: "Lab") -> list[str]:
    pki = lab.dir / "pki"
    args = [
        f"--etcd-servers=http://{LOOPBACK}:{lab.port('etcd', 'client')}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={lab.port('kube-apiserver', 'secure')}",
        # Without a default route the apiserver cannot pick an address to
        # advertise; loopback is valid here but not in Endpoints, hence "none".
        f"--advertise-address={LOOPBACK}",
        "--endpoint-reconciler-type=none",
        f"--cert-dir={lab.dir / 'apiserver'}",
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
        "--v=1",
    ]
    if lab.profile == "minimal":
        # No controller-manager makes the `default` ServiceAccount, and
        # ServiceAccount admission would refuse every Pod without it.
        args.append("--disable-admission-plugins=ServiceAccount")
    return args


def _controller_manager_args(lab: "Lab") -> list[str]:
    pki = lab.dir / "pki"
    kubeconfig = lab.dir / "components" / "kube-controller-manager.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={lab.port('kube-controller-manager', 'secure')}",
        f"--cert-dir={lab.dir / 'kube-controller-manager'}",
        "--leader-elect=false",
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
        "--v=1",
    ]


def _scheduler_args(lab: "Lab") -> list[str]:
    kubeconfig = lab.dir / "components" / "kube-scheduler.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={lab.port('kube-scheduler', 'secure')}",
        f"--cert-dir={lab.dir / 'kube-scheduler'}",
        "--leader-elect=false",
        "--v=1",
    ]


def _kwok_args(lab: "Lab") -> list[str]:
    return [
        f"--kubeconfig={lab.dir / 'components' / 'kwok.kubeconfig'}",
        f"--config={lab.dir / 'components' / 'kwok.yaml'}",
        "--manage-all-nodes=true",
        f"--server-address={LOOPBACK}:{lab.port('kwok', 'server')}",
        # The port every node advertises as its kubelet's: the gate's, in front of kwok.
        f"--node-port={lab.port('kubelet-gate', 'secure')}",
        "--node-lease-duration-seconds=40",
        "--node-ip=127.0.0.1",
        "--cidr=10.244.0.0/16",  # Pod IPs, apart from the Service range 10.96.0.0/16
        "--v=INFO",
    ]


def _kwok_env(lab: "Lab") -> dict[str, str]:
    """kwok runs an exec's command itself: its PATH holds only the allow-listed ones."""
    pods = lab.dir / "pods"
    return {"PATH": str(pods / "bin"), "HOME": str(pods / "workdir"), "LANG": "C.UTF-8"}


def _gate_args(lab: "Lab") -> list[str]:
    pki = lab.dir / "pki"
    commands = sorted(p.name for p in (lab.dir / "pods" / "bin").iterdir())
    return [
        str(Path(__file__).with_name("kubelet_gate.py")),
        f"--port={lab.port('kubelet-gate', 'secure')}",
        f"--kwok-port={lab.port('kwok', 'server')}",
        f"--cert={pki / 'kubelet.crt'}",
        f"--key={pki / 'kubelet.key'}",
        f"--ca={pki / 'ca.crt'}",
        f"--commands={','.join(commands)}",
    ]


def _pod_web_args(lab: "Lab") -> list[str]:
    www = lab.dir / "pods" / "www"
    return ["-m", "http.server", "--bind", LOOPBACK, "--directory", str(www), str(lab.port("pod-web", "http"))]


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in [
        Component("etcd", ("client", "peer"), _etcd_args, _etcd_ready),
        Component("kube-apiserver", ("secure",), _apiserver_args, _apiserver_ready, grace=15.0),
        Component(
            "kube-controller-manager",
            ("secure",),
            _controller_manager_args,
            _secure_healthz("kube-controller-manager"),
        ),
        Component("kube-scheduler", ("secure",), _scheduler_args, _secure_healthz("kube-scheduler")),
        Component("kwok", ("server",), _kwok_args, _kwok_ready, env=_kwok_env),
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
    names = [COMPONENTS[c].binary_name for c in PROFILES[profile] if COMPONENTS[c].binary != "python"]
    return names + ["kubectl"] if kubectl else names


# -- processes -------------------------------------------------------------------


def program(component: Component, binaries: dict[str, Path]) -> Path:
    """The executable that runs `component`: a built binary, or this Python."""
    return Path(sys.executable) if component.binary == "python" else binaries[component.binary_name]


def spawn(binary: Path, args: list[str], log: Path, env: dict[str, str] | None = None) -> psutil.Process:
    """Start a process in its own session, output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {binary.name} started by k8slab\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    return psutil.Process(proc.pid)


def alive(pid: int, create_time: float) -> psutil.Process | None:
    """The process if it still runs and is the one we started (pids get reused)."""
    try:
        p = psutil.Process(pid)
        if abs(p.create_time() - create_time) > 1.0 or p.status() == psutil.STATUS_ZOMBIE:
            return None
        return p
    except psutil.Error:
        return None


def terminate(pid: int, create_time: float, grace: float) -> None:
    """SIGTERM the process group, wait `grace` seconds, then SIGKILL what is left."""
    p = alive(pid, create_time)
    if p is None:
        _reap(pid)
        return
    group = [p, *p.children(recursive=True)]
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        p.terminate()
    _, left = psutil.wait_procs(group, timeout=grace)
    if left:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for q in left:
            try:
                q.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status if the process was our child (no zombies left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_ready(component: Component, lab: "Lab", proc: psutil.Process, log: Path, timeout: float) -> float:
    """Poll until `component` is ready; returns seconds taken, raises StartupFailed."""
    start = time.monotonic()
    delay = 0.05
    while True:
        if component.ready(lab):
            return time.monotonic() - start
        try:
            running = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            running = False
        if not running:
            _reap(proc.pid)
            raise StartupFailed(
                f"{component.name} exited during start-up{_hint(log)}; its log: {log}", log=str(log)
            )
        if time.monotonic() - start > timeout:
            raise StartupFailed(
                f"{component.name} was not ready after {timeout:.0f} s{_hint(log)}; its log: {log}",
                log=str(log),
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _hint(log: Path) -> str:
    """Pick a known failure out of a log so the message says what happened."""
    try:
        text = log.read_text(errors="replace")[-20000:]
    except OSError:
        return ""
    if "address already in use" in text:
        return " (a port it wanted was taken)"
    for line in reversed(text.splitlines()):
        low = line.lower()
        if "error" in low or "fatal" in low or low.startswith("e1") or low.startswith("f1"):
            return f" (last error: {line.strip()[:200]})"
    return ""
