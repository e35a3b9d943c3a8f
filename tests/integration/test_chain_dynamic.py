"""The dynamic client and the RESTMapper against the lab, and the fake API server held to the same contract.

The same scenario runs on `DynamicClient` (the lab's kube-apiserver) and on
`k8slab.testing.FakeDynamicClient`: what the fake answers is what a real server answers.
"""

from __future__ import annotations

import pytest

from k8slab import errors
from k8slab.chain import Clientset, DeferredDiscoveryRESTMapper, DynamicClient
from k8slab.meta import SCOPE_NAMESPACE, SCOPE_ROOT, GroupVersionKind, GroupVersionResource, RESTMapping
from k8slab.samplecontroller import DictClientset, install_crd, new_foo
from k8slab.testing import FakeDynamicClient

pytestmark = pytest.mark.lab

FOOS = GroupVersionResource("samplecontroller.k8s.io", "v1alpha1", "foos")


@pytest.fixture(scope="module")
def crd(shared_lab, k8slab_lab_pool):
    install_crd(DictClientset(k8slab_lab_pool.api_client(shared_lab)))


def test_the_rest_mapper_maps_what_discovery_serves(api_client, crd):
    mapper = DeferredDiscoveryRESTMapper(Clientset(api_client).discovery())
    deployments = GroupVersionResource("apps", "v1", "deployments")
    assert mapper.rest_mapping("apps", "Deployment") == RESTMapping(
        deployments, GroupVersionKind("apps", "v1", "Deployment"), SCOPE_NAMESPACE)
    assert mapper.rest_mapping("", "Node").scope == SCOPE_ROOT
    assert mapper.resource_for(GroupVersionResource("", "", "foo")) == FOOS
    assert mapper.kind_for(GroupVersionResource("", "", "events")) == GroupVersionKind("", "v1", "Event")
    assert mapper.kind_for(GroupVersionResource("events.k8s.io", "", "events")).group == "events.k8s.io"


@pytest.fixture(params=["lab", "fake"])
def foos(request, api_client, crd, namespace):
    client = DynamicClient(api_client) if request.param == "lab" else FakeDynamicClient()
    return client.resource(FOOS).namespace(namespace)


def test_the_fake_and_the_api_server_answer_writes_alike(foos, namespace):
    created = foos.create(new_foo("a", namespace, replicas=1))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    with pytest.raises(errors.AlreadyExists):
        foos.create(new_foo("a", namespace))

    updated = foos.update({**created, "spec": {**created["spec"], "replicas": 2}})
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(errors.Conflict):
        foos.update({**created, "spec": {**created["spec"], "replicas": 3}})  # created's RV is stale

    status = foos.update_status({**updated, "spec": {**updated["spec"], "replicas": 9},
                                 "status": {"availableReplicas": 1}})
    assert status["spec"]["replicas"] == 2 and status["status"] == {"availableReplicas": 1}

    foos.patch("a", {"metadata": {"labels": {"keep": "1", "drop": "2"}}})
    patched = foos.patch("a", {"metadata": {"labels": {"drop": None}}})
    assert patched["metadata"]["labels"] == {"keep": "1"}
    assert foos.get("a")["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    assert [f["metadata"]["name"] for f in foos.list()["items"]] == ["a"]

    foos.delete("a")
    with pytest.raises(errors.NotFound):
        foos.get("a")
