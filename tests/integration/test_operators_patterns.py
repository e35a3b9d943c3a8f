"""The operator's patterns in three frameworks: a finalizer that cleans up outside, observedGeneration, conditions.

k8slab's operator (k8slab/samplecontroller/operator.py), the controller-runtime
reconciler with --external-dir (assets/crfoo/operator.go) and kopf with an
on.delete handler (kopf_foo.py) each run as a process, as their own user, with
a directory of records per Foo as the world outside the cluster. The story:
a Foo gets a finalizer and a record; its status says which generation it
describes; a Foo deleted while its controller is down stays, Terminating,
record and all, until the controller is back, cleans up and lets it go.
"""

from __future__ import annotations

import time

import pytest

from k8slab import errors
from k8slab.meta import find_status_condition
from k8slab.operators import kubeconfig_for, run
from k8slab.samplecontroller import DictClientset, install_crd, new_foo
from k8slab.samplecontroller.operator import FINALIZER, DirectoryRegistry

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.slow]

TIMEOUT = 120.0  # a loaded 2-core machine
FINALIZERS = {"k8slab": FINALIZER, "controller-runtime": FINALIZER, "kopf": "kopf.zalando.org/KopfFinalizerMarker"}


def until(what, condition, proc):
    deadline = time.monotonic() + TIMEOUT
    while not (value := condition()):
        assert proc is None or proc.running, f"{proc.name} exited ({proc.returncode}) before {what}:\n{proc.logs()}"
        assert time.monotonic() < deadline, f"{what}: not within {TIMEOUT:.0f} s" + (f"\n{proc.logs()}" if proc else "")
        time.sleep(0.1)
    return value


@pytest.mark.parametrize("controller", ["k8slab", "controller-runtime", "kopf"])
def test_finalizer_generation_and_condition_survive_a_controller_that_is_down(controller, lab, api_client,
                                                                              namespace, tmp_path):
    admin = DictClientset(api_client)
    install_crd(admin)
    kubeconfig = kubeconfig_for(lab, admin, controller, namespace=namespace, operator=True)
    records = DirectoryRegistry(tmp_path / "records")
    foos = admin.samplecontroller_v1alpha1().foos(namespace)
    key = f"{namespace}/shop"

    def current(replicas):
        foo = foos.get("shop")
        status = foo.get("status") or {}
        available = find_status_condition(status.get("conditions"), "Available") or {}
        return (status.get("observedGeneration") == foo["metadata"]["generation"]
                and available.get("status") == "True"
                and available.get("message") == f"{replicas} of {replicas} replicas available"
                and records.records().get(key) == replicas) and foo

    def gone():
        try:
            foos.get("shop")
            return False
        except errors.NotFound:
            return True

    proc = run(controller, kubeconfig, namespace=namespace, external_dir=records.path, log_dir=tmp_path)
    try:
        foos.create(new_foo("shop", namespace, replicas=1))
        foo = until("the Foo current, available and recorded", lambda: current(1), proc)
        assert FINALIZERS[controller] in foo["metadata"]["finalizers"]
        assert foo["metadata"]["generation"] == 1
        foos.patch("shop", {"spec": {"replicas": 2}})
        foo = until("generation 2 observed", lambda: current(2), proc)
        assert foo["status"]["observedGeneration"] == 2
    finally:
        proc.stop()

    foos.delete("shop")
    waiting = foos.get("shop")  # no controller: the finalizer holds it, and its record stays
    assert waiting["metadata"].get("deletionTimestamp") and FINALIZERS[controller] in waiting["metadata"]["finalizers"]
    assert records.records() == {key: 2}

    proc = run(controller, kubeconfig, namespace=namespace, external_dir=records.path, log_dir=tmp_path)
    try:
        until("the Foo finalized and gone", gone, proc)
        assert records.records() == {}
    finally:
        proc.stop()
    deployments = admin.apps_v1().deployments(namespace)
    until("its Deployment garbage-collected", lambda: not deployments.list()["items"], None)

