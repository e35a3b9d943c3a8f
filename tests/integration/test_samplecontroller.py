"""sample-controller against the lab: the controller runs as its own least-privilege user,
watching only the test's namespace, and the cluster's Pods really run on kwok's nodes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from k8slab import errors
from k8slab.lab.helpers import wait_for
from k8slab.meta import get_controller_of
from k8slab.samplecontroller import DictClientset, install_crd, new_foo
from k8slab.samplecontroller.app import App
from k8slab.samplecontroller.rbac import install_rbac

pytestmark = pytest.mark.lab

USER = "sample-controller"


_PREPARED: dict[str, tuple[DictClientset, str]] = {}  # lab name -> (admin clientset, the controller's kubeconfig)


def _prepared(lab, api_client) -> tuple[DictClientset, str]:
    """The Foo CRD, the controller's RBAC and its user, once per lab."""
    if lab.name not in _PREPARED:
        cs = DictClientset(api_client)
        install_crd(cs)
        install_rbac(cs, USER)
        _PREPARED[lab.name] = cs, lab.user(USER)
    return _PREPARED[lab.name]


@pytest.fixture
def admin(lab, api_client):
    return _prepared(lab, api_client)[0]


@pytest.fixture
def kubeconfig(lab, api_client):
    return _prepared(lab, api_client)[1]


@pytest.fixture
def app(kubeconfig, namespace):
    app = App(kubeconfig, namespace=namespace).start()
    yield app
    app.stop()


def _allowed(api_client, verb, resource, namespace):
    """What the API server's authorizer answers for USER right now (a SubjectAccessReview)."""
    from kubernetes import client

    review = client.AuthorizationV1Api(api_client).create_subject_access_review({
        "spec": {"user": USER, "resourceAttributes": {"verb": verb, "group": "apps", "resource": resource,
                                                      "namespace": namespace}}})
    return review.status.allowed


def converged(admin, namespace, names=None):
    """True when every Foo (or every named one) reports availableReplicas == spec.replicas."""
    foos = admin.samplecontroller_v1alpha1().foos(namespace).list()["items"]
    if names is not None:
        foos = [f for f in foos if f["metadata"]["name"] in names]
        if len(foos) != len(names):
            return False
    return all((f.get("status") or {}).get("availableReplicas") == f["spec"]["replicas"] for f in foos)


def deployments_by_owner(admin, namespace):
    """Foo UID -> names of the Deployments it controls."""
    owners: dict[str, list[str]] = {}
    for d in admin.apps_v1().deployments(namespace).list()["items"]:
        ref = get_controller_of(d)
        if ref and ref["kind"] == "Foo":
            owners.setdefault(ref["uid"], []).append(d["metadata"]["name"])
    return owners


def test_a_foo_converges(admin, app, namespace):
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    foo = foos.create(new_foo("example", namespace, replicas=2))
    wait_for("Foo available", lambda: converged(admin, namespace))
    d = admin.apps_v1().deployments(namespace).get("example-deployment")
    assert get_controller_of(d)["uid"] == foo["metadata"]["uid"]
    assert d["spec"]["replicas"] == 2
    pods = admin.core_v1().pods(namespace).list(label_selector="controller=example")["items"]
    assert sorted(p["status"]["phase"] for p in pods) == ["Running", "Running"]
    events = wait_for("Synced event", lambda: [
        e for e in admin.core_v1().events(namespace).list()["items"]
        if e["involvedObject"]["kind"] == "Foo" and e["reason"] == "Synced"])
    assert events[0]["source"]["component"] == "sample-controller"
    assert events[0]["type"] == "Normal"


def test_scaling_converges(admin, app, namespace):
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    foos.create(new_foo("web", namespace, replicas=1))
    wait_for("Foo available", lambda: converged(admin, namespace))
    foos.patch("web", {"spec": {"replicas": 4}})
    wait_for("scaled to 4", lambda: converged(admin, namespace) and foos.get("web")["status"]["availableReplicas"] == 4)
    assert admin.apps_v1().deployments(namespace).get("web-deployment")["spec"]["replicas"] == 4
    # Scaling the Deployment behind the Foo's back is undone.
    admin.apps_v1().deployments(namespace).patch("web-deployment", {"spec": {"replicas": 7}})
    wait_for("scaled back", lambda: admin.apps_v1().deployments(namespace).get("web-deployment")["spec"]["replicas"] == 4)


def test_a_deleted_deployment_is_recreated(admin, app, namespace):
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    foos.create(new_foo("phoenix", namespace, replicas=1))
    wait_for("Foo available", lambda: converged(admin, namespace))
    deployments = admin.apps_v1().deployments(namespace)
    old_uid = deployments.get("phoenix-deployment")["metadata"]["uid"]
    deployments.delete("phoenix-deployment")

    def recreated():
        try:
            return deployments.get("phoenix-deployment")["metadata"]["uid"] != old_uid
        except errors.NotFound:
            return False

    wait_for("Deployment recreated", recreated)
    wait_for("Foo available again", lambda: converged(admin, namespace))


def test_a_foo_violating_the_schema_is_rejected_readably(admin, namespace):
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    with pytest.raises(errors.Invalid) as info:
        foos.create(new_foo("too-big", namespace, replicas=11))
    message = str(info.value)
    assert "spec.replicas" in message and "less than or equal to 10" in message
    with pytest.raises(errors.Invalid, match="spec.replicas"):
        foos.create({**new_foo("wrong-type", namespace), "spec": {"deploymentName": "x", "replicas": "two"}})


def test_a_deployment_it_does_not_control_is_refused_with_a_warning(admin, app, namespace):
    deployments = admin.apps_v1().deployments(namespace)
    theirs = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "taken"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "theirs"}},
                 "template": {"metadata": {"labels": {"app": "theirs"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }
    deployments.create(theirs)
    admin.samplecontroller_v1alpha1().foos(namespace).create(
        new_foo("claimant", namespace, replicas=1, deployment_name="taken"))
    warning = wait_for("ErrResourceExists event", lambda: [
        e for e in admin.core_v1().events(namespace).list()["items"] if e["reason"] == "ErrResourceExists"])
    assert warning[0]["type"] == "Warning"
    assert warning[0]["message"] == 'Resource "taken" already exists and is not managed by Foo'
    assert get_controller_of(deployments.get("taken")) is None  # left alone
    # Once the other Deployment goes, the Foo gets its own (the key was being retried).
    deployments.delete("taken")
    wait_for("its own Deployment", lambda: converged(admin, namespace, ["claimant"]), timeout=90)


def test_a_removed_verb_is_a_403_and_restoring_it_converges(admin, api_client, app, kubeconfig, namespace):
    install_rbac(admin, USER, omit={"create deployments"})
    try:
        # RBAC changes reach the authorizer through its own informer: ask it until it says no.
        wait_for("the authorizer denies creating Deployments", lambda: not _allowed(api_client, "create",
                                                                                  "deployments", namespace))
        admin.samplecontroller_v1alpha1().foos(namespace).create(new_foo("denied", namespace))
        wait_for("a 403 in the controller", lambda: app.controller and any(
            "forbidden" in e.lower() and "create resource \"deployments\"" in e
            for e in app.controller.recent_errors))
        assert app.controller.workqueue.num_requeues(f"{namespace}/denied") >= 1
    finally:
        install_rbac(admin, USER)
    wait_for("converged once allowed", lambda: converged(admin, namespace, ["denied"]), timeout=90)


def test_a_hundred_foos_converge(admin, app, namespace):
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    start = time.monotonic()
    for i in range(100):
        foos.create(new_foo(f"foo-{i:03d}", namespace, replicas=1))
    wait_for("100 Foos available", lambda: converged(admin, namespace) and len(foos.list()["items"]) == 100,
             timeout=180, interval=1.0)
    owners = deployments_by_owner(admin, namespace)
    assert len(owners) == 100 and all(len(v) == 1 for v in owners.values())
    print(f"100 Foos converged in {time.monotonic() - start:.1f} s")


def test_killing_the_process_mid_reconcile_and_restarting_converges_without_duplicates(
        admin, kubeconfig, namespace):
    def start():
        return subprocess.Popen(
            [sys.executable, "-m", "k8slab.samplecontroller", "--kubeconfig", str(kubeconfig),
             "--namespace", namespace, "--kube-api-qps", "10", "--kube-api-burst", "10"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    deployments = admin.apps_v1().deployments(namespace)
    proc = start()
    try:
        for i in range(40):
            foos.create(new_foo(f"k-{i:02d}", namespace, replicas=1))
        made = wait_for("some Deployments made", lambda: len(deployments.list()["items"]) >= 5, interval=0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        made = len(deployments.list()["items"])
        assert made < 40, "the kill came too late to be mid-reconcile"
        proc = start()
        wait_for("all 40 available", lambda: converged(admin, namespace) and len(foos.list()["items"]) == 40,
                 timeout=150, interval=1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    owners = deployments_by_owner(admin, namespace)
    assert len(owners) == 40 and all(len(v) == 1 for v in owners.values())
    assert len(deployments.list()["items"]) == 40


@pytest.mark.disruptive(profile="cluster")
def test_restarting_kube_apiserver_mid_run_converges(lab, admin, app, namespace):
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    for i in range(10):
        foos.create(new_foo(f"before-{i}", namespace, replicas=1))
    restarter = threading.Thread(target=lab.restart, args=("kube-apiserver",))
    restarter.start()
    restarter.join(120)
    assert not restarter.is_alive()
    for i in range(10):
        foos.create(new_foo(f"after-{i}", namespace, replicas=1))
    wait_for("20 Foos available", lambda: converged(admin, namespace) and len(foos.list()["items"]) == 20,
             timeout=120, interval=1.0)
    assert app.running
    assert len(deployments_by_owner(admin, namespace)) == 20
