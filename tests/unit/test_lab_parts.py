"""The lab's smaller parts, without starting a control plane."""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import ssl
import threading

import psutil
import pytest
from cryptography import x509

from k8slab import course
from k8slab.errors import LabError, StartupFailed, UsageError
from k8slab.lab import ExternalCluster, Lab, connect, processes
from k8slab.lab import components as comp
from k8slab.lab import lab as lab_module
from k8slab.lab.cluster import _api
from k8slab.lab.layout import Layout
from k8slab.lab.pki import _key_usage


def test_binaries_for_a_profile_in_start_order_with_kubectl_on_request():
    assert comp.binaries_for("minimal") == ["etcd", "kube-apiserver"]
    assert comp.binaries_for("cluster", kubectl=True) == [
        "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl",
    ]


def test_binaries_for_an_unknown_profile_is_a_usage_error():
    with pytest.raises(UsageError, match=r"unknown profile 'huge'; choose one of: minimal, cluster"):
        comp.binaries_for("huge")


def test_run_tests_names_the_variable_of_an_unknown_profile(monkeypatch):
    monkeypatch.setenv("K8SLAB_TEST_PROFILE", "huge")
    with pytest.raises(UsageError, match=r"K8SLAB_TEST_PROFILE: unknown profile 'huge'"):
        course.run_tests([])


def test_key_usage_turns_on_only_what_is_named():
    assert _key_usage(digital_signature=True) == x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )
    ca = _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
    assert (ca.digital_signature, ca.key_cert_sign, ca.crl_sign, ca.key_encipherment) == (True, True, True, False)


def _lab_with_state(tmp_path, processes: dict, ports: dict | None = None, progress=None) -> Lab:
    lab = Lab("parts", profile="minimal", state_dir=tmp_path / "parts", progress=progress)
    lab.dir.mkdir(parents=True)
    state = {"name": "parts", "profile": "minimal", "nodes": 1, "processes": processes,
             "ports": ports or {"etcd": {"client": 1, "peer": 2}, "kube-apiserver": {"secure": 3}}}
    (lab.dir / "state.json").write_text(json.dumps(state))
    lab._load_state()
    return lab


def _this_process() -> dict:
    return {"pid": os.getpid(), "create_time": psutil.Process().create_time()}


def test_start_of_a_running_component_says_so_and_spawns_nothing(tmp_path, monkeypatch):
    said: list[str] = []
    lab = _lab_with_state(tmp_path, {"etcd": _this_process()}, progress=said.append)

    def refuse(*args, **kwargs):
        raise AssertionError("a second process was started")

    monkeypatch.setattr(lab_module, "resolve_binaries", refuse)
    monkeypatch.setattr(processes, "spawn", refuse)
    lab.start("etcd")
    assert said == [f"lab 'parts': etcd is already running (pid {os.getpid()})"]
    assert json.loads((lab.dir / "state.json").read_text())["processes"]["etcd"]["pid"] == os.getpid()


def test_starting_the_apiserver_waits_for_its_namespace_once(tmp_path, monkeypatch):
    lab = _lab_with_state(tmp_path, {"etcd": _this_process()})
    waits: list[str] = []
    monkeypatch.setattr(lab_module, "resolve_binaries", lambda names, **kw: {n: tmp_path / n for n in names})
    monkeypatch.setattr(processes, "spawn", lambda binary, args, log, env=None: psutil.Process())
    monkeypatch.setattr(processes, "wait_ready", lambda *args: 0.0)
    apiserver = dataclasses.replace(comp.COMPONENTS["kube-apiserver"], args=lambda layout: [],
                                    after_ready=lambda layout: waits.append("api"))
    monkeypatch.setitem(comp.COMPONENTS, "kube-apiserver", apiserver)
    lab.start("kube-apiserver")
    assert waits == ["api"]


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(400)
        self.end_headers()
        self.wfile.write(b'{"error":"bad request"}')

    def log_message(self, *args) -> None:
        pass


def test_an_etcd_error_answer_is_a_lab_error_not_a_startup_failure(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        port = server.server_address[1]
        lab = _lab_with_state(tmp_path, {"etcd": _this_process()},
                              ports={"etcd": {"client": port, "peer": 2}, "kube-apiserver": {"secure": 3}})
        with pytest.raises(LabError, match=r"etcd of lab 'parts' answered 400 to /v3/kv/range") as err:
            lab.etcd_revision()
        assert not isinstance(err.value, StartupFailed)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_apiserver_that_does_not_answer_is_a_startup_failure(tmp_path, monkeypatch):
    lab = _lab_with_state(tmp_path, {}, ports={"kube-apiserver": {"secure": comp.free_port()}})
    # no PKI here; the connection is refused first
    monkeypatch.setattr(Layout, "tls", lambda self, identity="admin": ssl.create_default_context())
    with pytest.raises(StartupFailed, match=r"did not answer GET /api/v1/nodes") as err:
        _api(lab.layout, "GET", "/api/v1/nodes")
    assert err.value.log.endswith("kube-apiserver.log")


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://example.invalid:6443"}
users:
- name: u
  user: {token: not-a-real-token}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
"""


def test_an_external_cluster_reads_its_kubeconfig_once(tmp_path, monkeypatch):
    from kubernetes import config

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    loads: list[str] = []
    real = config.load_kube_config
    monkeypatch.setattr(config, "load_kube_config", lambda **kw: (loads.append("load"), real(**kw))[1])
    cluster = ExternalCluster(path)
    assert cluster.server == cluster.server == "https://example.invalid:6443"
    assert loads == ["load"]


def test_connect_picks_the_named_lab(tmp_path, monkeypatch):
    monkeypatch.delenv("K8SLAB_KUBECONFIG", raising=False)
    monkeypatch.setenv("K8SLAB_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(Lab, "up", lambda self: self)
    assert connect(progress=None, name="other").name == "other"
    monkeypatch.setenv("K8SLAB_LAB", "from-env")
    assert connect(progress=None).name == "from-env"


@pytest.mark.parametrize("running, stopped", [(False, ["pytest"]), (True, [])])
def test_run_tests_stops_the_test_lab_only_if_it_was_not_running_before(monkeypatch, running, stopped):
    from k8slab.lab import build

    monkeypatch.delenv("K8SLAB_TEST_LAB", raising=False)
    monkeypatch.delenv("K8SLAB_TEST_PROFILE", raising=False)
    monkeypatch.setattr(build, "resolve_binaries", lambda names, **kw: {})
    monkeypatch.setattr(course.subprocess, "call", lambda cmd, **kw: 0)
    monkeypatch.setattr(Lab, "running", property(lambda self: running))
    calls: list[str] = []
    monkeypatch.setattr(course, "_stop_test_lab", calls.append)
    assert course.run_tests(["tests/unit"]) == 0
    assert calls == stopped


def _with_settled(monkeypatch, **settled) -> None:
    for name, check in settled.items():
        monkeypatch.setitem(comp.COMPONENTS, name, dataclasses.replace(comp.COMPONENTS[name], settled=check))


def test_the_last_waits_are_asked_together_and_say_what_they_waited_for(tmp_path, monkeypatch):
    lab = _lab_with_state(tmp_path, {})
    seen: list[object] = []
    _with_settled(monkeypatch, etcd=lambda layout: (seen.append(layout), (True, "etcd is fine"))[1],
                  **{"kube-apiserver": lambda layout: (True, "the API is fine")})
    assert lab._settle() == "etcd is fine, the API is fine"
    assert isinstance(seen[0], Layout)  # a hook gets the frozen layout, never the Lab
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].nodes = 5  # type: ignore[misc]


def test_a_last_wait_that_never_ends_names_what_is_missing(tmp_path, monkeypatch):
    lab = _lab_with_state(tmp_path, {})
    lab.start_timeout = 0.3
    asked: list[str] = []
    _with_settled(monkeypatch, etcd=lambda layout: (asked.append("etcd"), (False, "2 of 3 fake nodes Ready"))[1],
                  **{"kube-apiserver": lambda layout: (asked.append("api"), (True, "fine"))[1]})
    with pytest.raises(StartupFailed, match=r"lab 'parts' did not finish starting in 0 s \(2 of 3 fake nodes Ready\)"):
        lab._settle()
    assert asked[:2] == ["etcd", "api"]
