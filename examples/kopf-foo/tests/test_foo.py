"""A kopf operator's tests, on k8slab's pytest plugin: a real API server, a fresh namespace per test.

The operator under test runs in this process (kopf in a thread), with the lab's admin kubeconfig,
watching only the test's namespace. The tests talk to the cluster with the official client, as any
operator's tests would.
"""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from k8slab.operators.kopf_foo import KopfFoo
from k8slab.samplecontroller.crd import CRD_FILE

GROUP, VERSION = "samplecontroller.k8s.io", "v1alpha1"


@pytest.fixture(scope="session")
def foo_crd(k8slab_install_crds):
    """The Foo CRD, installed once and served before any test runs."""
    return k8slab_install_crds(CRD_FILE)


@pytest.fixture
def operator(foo_crd, k8slab_kubeconfig, k8slab_namespace):
    foo = KopfFoo(k8slab_kubeconfig, namespace=k8slab_namespace).start()
    yield foo
    foo.stop()


def wait_for(what, condition, timeout=120.0):
    """Poll until `condition()` is true; a generous deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not true after {timeout:.0f} s"
        time.sleep(0.2)
    return value


def foo(name, namespace, replicas):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Foo", "metadata": {"name": name, "namespace": namespace},
            "spec": {"deploymentName": f"{name}-deployment", "replicas": replicas}}


def available(api, namespace, name):
    status = client.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, namespace, "foos", name)
    return (status.get("status") or {}).get("availableReplicas")


def test_a_foo_gets_a_deployment_it_owns(operator, k8slab_api_client, k8slab_namespace):
    created = client.CustomObjectsApi(k8slab_api_client).create_namespaced_custom_object(
        GROUP, VERSION, k8slab_namespace, "foos", foo("web", k8slab_namespace, 2))
    wait_for("web available", lambda: available(k8slab_api_client, k8slab_namespace, "web") == 2)
    deployment = client.AppsV1Api(k8slab_api_client).read_namespaced_deployment("web-deployment", k8slab_namespace)
    owner = deployment.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Foo", "web", created["metadata"]["uid"], True)
    assert deployment.spec.replicas == 2


def test_scaling_a_foo_scales_its_deployment(operator, k8slab_api_client, k8slab_namespace):
    custom = client.CustomObjectsApi(k8slab_api_client)
    custom.create_namespaced_custom_object(GROUP, VERSION, k8slab_namespace, "foos", foo("api", k8slab_namespace, 1))
    wait_for("api available", lambda: available(k8slab_api_client, k8slab_namespace, "api") == 1)
    custom.patch_namespaced_custom_object(GROUP, VERSION, k8slab_namespace, "foos", "api", {"spec": {"replicas": 3}})
    wait_for("api scaled to 3", lambda: available(k8slab_api_client, k8slab_namespace, "api") == 3)
    apps = client.AppsV1Api(k8slab_api_client)
    assert apps.read_namespaced_deployment("api-deployment", k8slab_namespace).spec.replicas == 3
