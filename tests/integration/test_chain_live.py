"""The clientset against the lab: discovery agrees with the clientset's names; watch; QPS; scripts."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from k8slab.chain import RESTClient, build_config_from_flags, new_for_config, trace
from k8slab.chain.clientset import _group_versions

pytestmark = pytest.mark.lab

SCRIPT = Path(__file__).resolve().parents[2] / "notebooks" / "scripts" / "pod_count.py"


@pytest.fixture
def clientset(lab):
    cs = new_for_config(build_config_from_flags("", lab.kubeconfig))
    yield cs
    cs.close()


def custom_groups(api_client) -> set[str]:
    """Groups served by CustomResourceDefinitions: other tests install some; no clientset knows them."""
    from kubernetes import client

    return {crd.spec.group for crd in client.ApiextensionsV1Api(api_client).list_custom_resource_definition().items}


def test_every_served_resource_is_reachable_through_the_clientset_under_its_own_url(clientset, api_client):
    resources = clientset.discovery().resources_frame()
    resources = resources[~resources["group"].isin(custom_groups(api_client))]
    missing = resources[resources["k8slab"] == ""]
    assert missing.empty, f"no clientset method for: {missing[['group', 'version', 'resource']].values.tolist()}"
    for row in resources.itertuples():
        accessor, rest = row.k8slab.split("().", 1)
        group, version, _ = _group_versions()[accessor]
        assert (group or "(core)", version) == (row.group, row.version)
        plural = rest.split("(")[0]
        assert plural.replace("_", "") == row.resource  # the URL client-go would build


def test_discovery_is_two_requests_and_lists_the_core_group_first(clientset, api_client):
    custom = custom_groups(api_client)
    with trace() as t:
        groups = clientset.discovery().groups_frame()
    groups = groups[~groups["group"].isin(custom)]
    assert [(e.method, e.path, e.status) for e in t] == [("GET", "/api", 200), ("GET", "/apis", 200)]
    assert groups.iloc[0][["group", "version", "python class"]].tolist() == ["(core)", "v1", "CoreV1Api"]
    assert not groups["python class"].str.startswith("(none").any()  # kubernetes 37 knows every built-in group


def test_a_watch_through_the_clientset_sees_added_modified_deleted(clientset, namespace):
    cms = clientset.core_v1().config_maps(namespace)

    def writer():
        time.sleep(0.3)
        cms.create({"metadata": {"name": "w", "labels": {"test": "watch"}}, "data": {"v": "1"}})
        cms.patch("w", {"data": {"v": "2"}}, "merge")
        cms.delete("w")

    seen = []
    thread = threading.Thread(target=writer)
    with cms.watch(label_selector="test=watch", timeout_seconds=20) as watcher:  # not kube-root-ca.crt
        thread.start()
        for event in watcher:
            seen.append((event.type, event.object.metadata.name, (event.object.data or {}).get("v")))
            if event.type == "DELETED":
                break
    thread.join(timeout=10)
    assert seen == [("ADDED", "w", "1"), ("MODIFIED", "w", "2"), ("DELETED", "w", "2")]


def test_stopping_a_watch_from_another_thread_ends_the_loop(clientset, namespace):
    watcher = clientset.core_v1().config_maps(namespace).watch(label_selector="test=none", timeout_seconds=60)
    stopper = threading.Timer(0.5, watcher.stop)
    stopper.start()
    started = time.monotonic()
    assert list(watcher) == []
    assert time.monotonic() - started < 10
    stopper.join()


def test_client_side_qps_slows_requests_against_the_server(lab):
    config = dataclasses.replace(build_config_from_flags("", lab.kubeconfig), qps=10, burst=2)
    rest = RESTClient.for_config(config)
    started = time.monotonic()
    with trace() as t:
        for _ in range(6):
            rest.get().resource("namespaces").name("default").do()
    elapsed = time.monotonic() - started
    rest.close()
    waits = [e.throttled_s for e in t]
    assert waits[:2] == [0.0, 0.0]
    assert all(0 <= w <= 0.1 for w in waits[2:]), waits  # at most 1/qps: less whatever the request itself took
    assert elapsed >= 0.35  # four tokens beyond the burst, at 10 a second, whatever the machine's load


def test_a_clientset_with_qps_0_gives_each_group_version_its_own_bucket(lab):
    """NewForConfig with QPS 0 shares no limiter: ten core and ten apps requests both fit their own burst."""
    with new_for_config(build_config_from_flags("", lab.kubeconfig)) as cs:
        core, apps = cs.core_v1(), cs.apps_v1()
        assert core.rest_client().rate_limiter is not apps.rest_client().rate_limiter and cs.api_client.rate_limiter is None
        with trace() as t:
            for _ in range(10):
                core.namespaces().get("default")
                apps.deployments("kube-system").list(limit=1)
        assert [e.status for e in t] == [200] * 20 and [e.throttled_s for e in t] == [0.0] * 20
    shared = dataclasses.replace(build_config_from_flags("", lab.kubeconfig), qps=5, burst=10)
    with new_for_config(shared) as cs:
        assert cs.core_v1().rest_client().rate_limiter is cs.apps_v1().rest_client().rate_limiter is cs.api_client.rate_limiter


def test_the_pod_count_script_runs_against_the_lab(lab, namespace, clientset):
    for name in ("a", "b"):
        clientset.core_v1().pods(namespace).create(
            {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}})
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--kubeconfig", str(lab.kubeconfig), "--namespace", namespace, "--times", "2", "--interval", "0.2"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"There are 2 pods in namespace {namespace}"] * 2
    everything = subprocess.run([sys.executable, str(SCRIPT), "--kubeconfig", str(lab.kubeconfig), "--times", "1"],
                                capture_output=True, text=True, timeout=60)
    assert everything.returncode == 0 and everything.stdout.startswith("There are ") and everything.stdout.endswith(" pods in the cluster\n")


def test_the_pod_count_script_fails_with_one_line_not_a_traceback(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--kubeconfig", str(tmp_path / "nope"), "--times", "1"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("pod_count: KubeconfigNotFound: kubeconfig ") and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_pod_count_scripts_default_flag_is_home_kube_config_and_an_empty_one_reads_no_kubeconfig(lab, tmp_path):
    """The trap of BuildConfigFromFlags("", ""): the Go example works only because its flag defaults to ~/.kube/config."""
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(lab.kubeconfig.read_text())
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(lab.kubeconfig)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    default = subprocess.run([sys.executable, str(SCRIPT), "--times", "1"], capture_output=True, text=True, timeout=60, env=env)
    assert default.returncode == 0 and default.stdout.startswith("There are "), default.stderr
    empty = subprocess.run([sys.executable, str(SCRIPT), "--kubeconfig", "", "--times", "1"], capture_output=True, text=True,
                           timeout=60, env=env)
    assert empty.returncode == 1 and empty.stdout == ""
    assert "Neither --kubeconfig nor --master was specified." in empty.stderr
    assert "pod_count: KubeconfigNotFound: invalid configuration: no configuration has been provided" in empty.stderr
    assert "Traceback" not in empty.stderr
