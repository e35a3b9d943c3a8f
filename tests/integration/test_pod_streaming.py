"""Logs, exec and port-forward on lab Pods, from kubectl and the official client.

The path: kubectl → kube-apiserver → (TLS, client certificate) the kubelet gate
on the nodes' kubelet port → kwok → the log file, the command or pod-web.
"""

from __future__ import annotations

import selectors
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import psutil
import pytest
from kubernetes import client
from kubernetes.stream import portforward, stream

from k8slab.lab.build import resolve_binaries
from tests.integration.test_cluster import eventually

pytestmark = [pytest.mark.lab, pytest.mark.cluster]


@pytest.fixture(autouse=True)
def _needs_cluster(lab):
    if lab.profile != "cluster":
        pytest.skip("needs the cluster profile (K8SLAB_TEST_PROFILE=cluster)")


@pytest.fixture(scope="module")
def kubectl():
    return resolve_binaries(["kubectl"], progress=None)["kubectl"]


@pytest.fixture
def pod(api_client, namespace) -> str:
    """A Pod named `web` (container `web`, port 80), Running and Ready."""
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
    })

    def ready() -> bool:
        p = core.read_namespaced_pod("web", namespace)
        conditions = {c.type: c.status for c in p.status.conditions or []}
        return p.status.phase == "Running" and conditions.get("Ready") == "True"

    eventually(ready, timeout=120, what="Pod web Running and Ready")
    return "web"


def run(kubectl, lab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(kubectl), "--kubeconfig", str(lab.kubeconfig), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_nodes_advertise_the_gate_as_their_kubelet(api_client, lab):
    for node in client.CoreV1Api(api_client).list_node().items:
        assert node.status.daemon_endpoints.kubelet_endpoint.port == lab.port("kubelet-gate", "secure")
        assert {(a.type, a.address) for a in node.status.addresses} >= {("InternalIP", "127.0.0.1")}


def test_kubectl_logs_shows_the_file_the_lab_wrote(kubectl, lab, namespace, pod):
    written = (lab.dir / "pods" / "container.log").read_text().splitlines()
    expected = [line.split(" ", 3)[3] for line in written]  # CRI format: time, stream, tag, text
    out = run(kubectl, lab, "logs", "-n", namespace, pod)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == expected
    assert expected[0].startswith(f"lab {lab.name!r}: this Pod runs no container")

    tail = run(kubectl, lab, "logs", "-n", namespace, pod, "--tail", "1")
    assert tail.stdout.splitlines() == expected[-1:]


def test_kubectl_logs_previous_says_there_was_no_previous_container(kubectl, lab, namespace, pod):
    out = run(kubectl, lab, "logs", "-n", namespace, pod, "--previous")
    assert out.returncode == 1
    assert 'previous terminated container "web" in pod "web" not found' in out.stderr


def test_kubectl_exec_echo_hi(kubectl, lab, namespace, pod):
    out = run(kubectl, lab, "exec", "-n", namespace, pod, "--", "echo", "hi")
    assert (out.returncode, out.stdout) == (0, "hi\n"), out.stderr


def test_kubectl_exec_runs_in_the_pods_working_directory(kubectl, lab, namespace, pod):
    out = run(kubectl, lab, "exec", "-n", namespace, pod, "--", "pwd")
    assert out.stdout.strip() == str(lab.dir / "pods" / "workdir")
    listing = run(kubectl, lab, "exec", "-n", namespace, pod, "--", "ls")
    assert listing.stdout.split() == ["README.txt"]


def test_kubectl_exec_passes_on_the_commands_exit_code(kubectl, lab, namespace, pod):
    out = run(kubectl, lab, "exec", "-n", namespace, pod, "--", "ls", "no-such-file")
    assert out.returncode == 2
    assert "no-such-file" in out.stderr and "command terminated with exit code 2" in out.stderr


@pytest.mark.parametrize("command, reason", [
    pytest.param(["sh", "-c", "echo x"], "only these commands: cat, echo, false", id="a shell"),
    pytest.param(["/bin/echo", "x"], "(not '/bin/echo')", id="an absolute path"),
    pytest.param(["cat", "../../kubeconfig"], "'../../kubeconfig' names a path outside", id="a parent directory"),
    pytest.param(["cat", "/etc/hostname"], "'/etc/hostname' names a path outside", id="an absolute argument"),
    pytest.param(["-i", "cat"], "exec without stdin and tty only", id="stdin"),
])
def test_kubectl_exec_off_the_allow_list_is_refused_by_the_gate(kubectl, lab, namespace, pod, command, reason):
    flags = command[:1] if command[0] == "-i" else []
    argv = command[len(flags):]
    out = run(kubectl, lab, "exec", *flags, "-n", namespace, pod, "--", *argv)
    assert out.returncode == 1
    assert out.stdout == ""
    assert "unable to upgrade connection" in out.stderr and reason in out.stderr
    assert f"refused POST /exec/{namespace}/{pod}/web?command={argv[0].replace('/', '%2F')}" in lab.logs("kubelet-gate")


def test_official_client_exec_stream_reports_a_non_zero_exit_code(api_client, namespace, pod):
    core = client.CoreV1Api(api_client)
    resp = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=["ls", "no-such-file"],
                  stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    resp.run_forever(timeout=60)
    assert resp.returncode == 2
    assert "no-such-file" in resp.read_stderr()

    hi = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=["echo", "hi"],
                stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    hi.run_forever(timeout=60)
    assert (hi.returncode, hi.read_stdout()) == (0, "hi\n")


def _forwarded_port(proc: subprocess.Popen, timeout: float = 60) -> int:
    """The local port from kubectl port-forward's 'Forwarding from 127.0.0.1:N -> 80' line."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=deadline - time.monotonic()):
                line = proc.stdout.readline()
                assert line, f"kubectl port-forward ended: {proc.stderr.read()}"
                if line.startswith("Forwarding from 127.0.0.1:"):
                    return int(line.split(":")[1].split()[0])
    pytest.fail(f"kubectl port-forward printed no port in {timeout} s")


def test_kubectl_port_forward_fetches_the_page(kubectl, lab, namespace, pod):
    proc = subprocess.Popen([str(kubectl), "--kubeconfig", str(lab.kubeconfig), "port-forward", "-n", namespace,
                             f"pod/{pod}", ":80"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = _forwarded_port(proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
            assert resp.status == 200
            assert f"Hello from lab {lab.name!r}" in resp.read().decode()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_official_client_port_forward_fetches_the_page(api_client, lab, namespace, pod):
    core = client.CoreV1Api(api_client)
    forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports="80")
    try:
        sock = forward.socket(80)
        sock.settimeout(30)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        data = b""
        while b"</p>" not in data:  # the forwarded socket stays open after the page: read what it holds
            chunk = sock.recv(4096)
            assert chunk, f"the forwarded connection closed early: {data!r}"
            data += chunk
        assert data.startswith(b"HTTP/1.0 200 OK")
        assert f"Hello from lab {lab.name!r}".encode() in data
        sock.close()
    finally:
        forward.close()


def test_the_gate_admits_only_the_api_servers_client_certificate(lab):
    url = f"https://127.0.0.1:{lab.port('kubelet-gate', 'secure')}/healthz"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, context=lab.admin_ssl_context(), timeout=30)
    assert err.value.code == 403
    assert "CN='admin' is not 'kube-apiserver-kubelet-client'" in err.value.read().decode()

    anonymous = ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        with urllib.request.urlopen(url, context=anonymous, timeout=30) as resp:
            resp.read()


def test_the_gate_serves_only_the_streaming_paths(lab):
    pki = lab.dir / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "apiserver-kubelet-client.crt"), str(pki / "apiserver-kubelet-client.key"))
    base = f"https://127.0.0.1:{lab.port('kubelet-gate', 'secure')}"
    with urllib.request.urlopen(f"{base}/healthz", context=ctx, timeout=30) as resp:
        assert resp.status == 200
    for path in ("/pods", "/run/default/web/web?cmd=ls", "/exec/../pods"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, context=ctx, timeout=30)
        assert err.value.code == 403, path


def test_nothing_an_exec_starts_outlives_it(kubectl, lab, namespace, pod):
    for _ in range(3):
        assert run(kubectl, lab, "exec", "-n", namespace, pod, "--", "true").returncode == 0
    kwok = next(r["pid"] for r in lab.status() if r["component"] == "kwok")
    eventually(lambda: not psutil.Process(kwok).children(), timeout=30, what="kwok without child processes")
