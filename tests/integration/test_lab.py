"""The lab against itself: a real etcd and kube-apiserver on 127.0.0.1."""

from __future__ import annotations

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

import psutil
import pytest
from kubernetes import client, config

from k8slab.lab import Lab

pytestmark = pytest.mark.lab

BUILTIN_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


def k8slab_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "k8slab", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def lab_pids(lab: Lab) -> list[int]:
    return [row["pid"] for row in lab.status() if row["pid"]]


def test_server_reports_the_built_version(api_client):
    info = client.VersionApi(api_client).get_code()
    assert info.git_version.startswith("v1.37."), info.git_version
    assert (info.major, info.minor) == ("1", "37")


def test_the_four_builtin_namespaces_exist(api_client):
    names = {ns.metadata.name for ns in client.CoreV1Api(api_client).list_namespace().items}
    assert BUILTIN_NAMESPACES <= names


def test_configmap_create_get_list_delete(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "greeting"}, "data": {"hello": "world"}})
    assert core.read_namespaced_config_map("greeting", namespace).data == {"hello": "world"}
    listed = [cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items]
    assert "greeting" in listed
    core.delete_namespaced_config_map("greeting", namespace)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("greeting", namespace)
    assert err.value.status == 404


def test_a_new_user_is_forbidden_until_a_rolebinding_grants_it(lab, api_client, namespace):
    out = k8slab_cli("user", "alice", "--group", "students", "--lab", lab.name)
    assert out.returncode == 0, out.stderr
    path = out.stdout.strip().splitlines()[-1]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    alice = client.CoreV1Api(config.new_client_from_config(config_file=path))
    with pytest.raises(client.ApiException) as err:
        alice.list_namespaced_secret(namespace)
    assert err.value.status == 403
    assert 'User "alice" cannot list resource "secrets"' in json.loads(err.value.body)["message"]

    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "secret-reader"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
    })
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "students-read-secrets"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "students"}],
    })
    assert alice.list_namespaced_secret(namespace).items == []


def test_a_client_that_does_not_trust_the_lab_ca_fails_tls(lab):
    ctx = ssl.create_default_context()  # the system's CAs, not the lab's
    with pytest.raises(urllib.error.URLError) as err:
        urllib.request.urlopen(f"{lab.server}/version", context=ctx, timeout=10)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


def test_the_serving_certificate_names_loopback(lab):
    ctx = ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))
    url = lab.server.replace("127.0.0.1", "localhost")
    with urllib.request.urlopen(f"{url}/version", context=ctx, timeout=10) as resp:
        # anonymous /version is allowed by RBAC's bootstrap policy
        assert json.loads(resp.read())["major"] == "1"


def test_nothing_listens_beyond_loopback(lab):
    pids = set(lab_pids(lab))
    for pid in list(pids):
        pids |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
    listening = [
        c for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    ]
    assert listening, "found no listening sockets at all: the check itself is broken"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}


def test_kubeconfig_and_keys_are_private(lab):
    private = [lab.kubeconfig, *(lab.dir / "pki").glob("*.key"), *(lab.dir / "components").glob("*.kubeconfig")]
    assert len(private) >= 4
    for path in private:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_status_lists_every_component_with_pid_port_and_memory(lab):
    out = k8slab_cli("status", "--lab", lab.name)
    assert out.returncode == 0, out.stderr
    for name in lab.components:
        line = next(l for l in out.stdout.splitlines() if l.startswith(name + " "))
        assert " True " in line
    rows = lab.status()
    assert all(r["running"] and r["pid"] and r["rss_mb"] > 0 and r["ports"] for r in rows)


@pytest.mark.disruptive
def test_restarting_the_apiserver_keeps_the_data(lab, api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "survivor"}, "data": {"k": "v"}})
    old_pid = next(r["pid"] for r in lab.status() if r["component"] == "kube-apiserver")
    lab.restart("kube-apiserver")
    new_pid = next(r["pid"] for r in lab.status() if r["component"] == "kube-apiserver")
    assert new_pid != old_pid
    assert core.read_namespaced_config_map("survivor", namespace).data == {"k": "v"}


@pytest.mark.disruptive
def test_after_compaction_a_watch_from_an_old_resource_version_is_gone(lab, api_client, namespace):
    core = client.CoreV1Api(api_client)
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"n": "0"}})
    old_rv = first.metadata.resource_version
    for n in range(1, 4):
        core.patch_namespaced_config_map("c", namespace, {"data": {"n": str(n)}})
    compacted = lab.compact()
    assert compacted > int(old_rv)
    url = f"{lab.server}/api/v1/namespaces/{namespace}/configmaps?watch=1&resourceVersion={old_rv}&timeoutSeconds=5"
    with urllib.request.urlopen(url, context=lab.admin_ssl_context(), timeout=30) as resp:
        event = json.loads(resp.readline())
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    # A list at that exact old version reaches etcd, which has forgotten it too.
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace, resource_version=old_rv, resource_version_match="Exact")
    assert err.value.status == 410


def test_up_while_running_says_so_and_exits_zero(lab):
    out = k8slab_cli("up", "--lab", lab.name)
    assert out.returncode == 0, out.stderr
    assert "already running" in out.stdout
    shown = str(lab.kubeconfig).replace(str(Path.home()), "~", 1)  # messages show the home directory as ~
    assert f"kubeconfig: {shown}" in out.stdout and shown.startswith("~/")


def test_down_when_none_runs_is_a_clear_error(tmp_path):
    out = k8slab_cli("down", "--lab", "nothing-here", env={"K8SLAB_STATE_DIR": str(tmp_path)})
    assert out.returncode == 1
    assert "no lab named 'nothing-here' is running" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_option_is_a_usage_error():
    out = k8slab_cli("up", "--frobnicate")
    assert out.returncode == 2
    assert "unknown option --frobnicate" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(["--nodes", "0"], "--nodes must be at least 1, not 0", id="zero nodes"),
        pytest.param(["--nodes", "-2"], "--nodes must be at least 1, not -2", id="negative nodes"),
        pytest.param(["--nodes", "three"], "--nodes must be a whole number, not 'three'", id="non-numeric nodes"),
        pytest.param(["--profile", "huge"], "unknown profile 'huge'", id="unknown profile"),
    ],
)
def test_bad_up_arguments_start_nothing(tmp_path, args, message):
    out = k8slab_cli("up", "--lab", "bad", *args, env={"K8SLAB_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert message in out.stderr
    assert not (tmp_path / "bad").exists()


def test_a_port_already_taken_is_named_and_nothing_starts(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = k8slab_cli("up", "--lab", "busy", "--profile", "minimal", "--port", str(port),
                         env={"K8SLAB_STATE_DIR": str(tmp_path)})
    assert out.returncode == 1
    assert f"port {port} on 127.0.0.1" in out.stderr and "already in use" in out.stderr
    assert not (tmp_path / "busy" / "state.json").exists()


@pytest.mark.slow
def test_down_leaves_no_process_and_a_killed_lab_is_recovered(tmp_path):
    lab = Lab("stale", profile="minimal", state_dir=tmp_path / "stale", progress=None).up()
    pids = lab_pids(lab)
    assert len(pids) == 2
    # Kill it the way a crash would: no chance to clean up.
    for pid in pids:
        os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=10)
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    said: list[str] = []
    again = Lab("stale", profile="minimal", state_dir=tmp_path / "stale", progress=said.append)
    assert not again.running
    again.up()
    assert any("stale state directory" in line for line in said)
    assert client.VersionApi(again.api_client()).get_code().major == "1"
    new_pids = lab_pids(again)
    again.down()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in new_pids)
    assert not (tmp_path / "stale").exists()


@pytest.mark.slow
def test_a_lab_tied_to_a_process_stops_when_that_process_is_killed(tmp_path):
    script = (
        "import sys, time\n"
        "from k8slab.lab import Lab\n"
        f"lab = Lab('owned', profile='minimal', state_dir={str(tmp_path / 'owned')!r}, progress=None).up()\n"
        "lab.stop_with()\n"
        "print(' '.join(str(r['pid']) for r in lab.status()), flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in owner.stdout.readline().split()]
    assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
    owner.kill()  # no teardown runs in the owner
    owner.wait()
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in pids], timeout=30)
    assert not alive, f"lab processes outlived their owner: {[p.pid for p in alive]}"
    deadline = time.monotonic() + 10
    while (tmp_path / "owned").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (tmp_path / "owned").exists()
