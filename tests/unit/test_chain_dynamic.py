"""The dynamic client over the mock transport, and the RESTMapper (k8slab.meta, built from discovery)."""

from __future__ import annotations

import json

import pytest

from k8slab import errors
from k8slab.chain.dynamic import DeferredDiscoveryRESTMapper, DynamicClient, new_discovery_rest_mapper
from k8slab.chain.testing import mock_api_client
from k8slab.meta import (
    SCOPE_NAMESPACE,
    SCOPE_ROOT,
    GroupVersionKind,
    GroupVersionResource,
    RESTMapper,
    unsafe_guess_kind_to_resource,
)

DEPLOYMENTS = GroupVersionResource("apps", "v1", "deployments")
NODES = GroupVersionResource("", "v1", "nodes")


def echo(req):
    return 200, {"method": req.method, "path": req.path, "query": req.query, "body": req.body,
                 "content-type": req.headers.get("Content-Type", "")}


@pytest.fixture
def dyn():
    return DynamicClient(mock_api_client(echo))


def _sent(answer):
    body = answer["body"]
    return answer["method"], answer["path"], answer["query"], json.loads(body) if isinstance(body, str) else body


@pytest.mark.parametrize(
    "call, method, path, query",
    [
        pytest.param(lambda d: d.resource(DEPLOYMENTS).namespace("demo").get("web"), "GET",
                     "/apis/apps/v1/namespaces/demo/deployments/web", {}, id="get in a namespace"),
        pytest.param(lambda d: d.resource(DEPLOYMENTS).list(label_selector="app=web", limit=5), "GET",
                     "/apis/apps/v1/deployments", {"labelSelector": "app=web", "limit": "5"},
                     id="list in every namespace, ListOptions camel-cased"),
        pytest.param(lambda d: d.resource(NODES).get("n1"), "GET", "/api/v1/nodes/n1", {},
                     id="cluster-scoped, core group"),
        pytest.param(lambda d: d.resource(DEPLOYMENTS).namespace("demo").get("web", "scale"), "GET",
                     "/apis/apps/v1/namespaces/demo/deployments/web/scale", {}, id="a subresource"),
    ],
)
def test_reads_go_where_client_go_sends_them(dyn, call, method, path, query):
    assert _sent(call(dyn))[:3] == (method, path, query)


def test_writes_carry_the_object_and_their_options(dyn):
    deployments = dyn.resource(DEPLOYMENTS).namespace("demo")
    obj = {"metadata": {"name": "web", "resourceVersion": "5"}, "spec": {}}
    assert _sent(deployments.create(obj, field_manager="me")) == (
        "POST", "/apis/apps/v1/namespaces/demo/deployments", {"fieldManager": "me"}, obj)
    assert _sent(deployments.update(obj))[:2] == ("PUT", "/apis/apps/v1/namespaces/demo/deployments/web")
    assert _sent(deployments.update_status(obj))[:2] == ("PUT", "/apis/apps/v1/namespaces/demo/deployments/web/status")
    patched = deployments.patch("web", {"spec": {"replicas": 2}})
    assert patched["content-type"] == "application/merge-patch+json"  # the default: every resource takes it
    method, path, _, body = _sent(deployments.delete("web", propagation_policy="Foreground"))
    assert (method, body) == ("DELETE", {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})


def test_errors_are_k8slab_errors():
    gone = DynamicClient(mock_api_client(lambda req: (404, {"kind": "Status", "code": 404, "reason": "NotFound",
                                                             "message": 'deployments.apps "web" not found'})))
    with pytest.raises(errors.NotFound):
        gone.resource(DEPLOYMENTS).namespace("demo").get("web")


# -- names of types and the RESTMapper -----------------------------------------------------------


@pytest.mark.parametrize(
    "kind, plural",
    [("Pod", "pods"), ("Ingress", "ingresses"), ("NetworkPolicy", "networkpolicies"), ("Endpoints", "endpoints")],
)
def test_a_kinds_resource_is_guessed_as_apimachinery_guesses_it(kind, plural):
    assert unsafe_guess_kind_to_resource(GroupVersionKind("g", "v1", kind)).resource == plural


def _discovery_items():
    """Aggregated discovery's shape (apidiscovery.k8s.io/v2), trimmed to what the mapper reads."""
    def resource(name, kind, namespaced=True, singular=""):
        return {"resource": name, "responseKind": {"kind": kind}, "scope": "Namespaced" if namespaced else "Cluster",
                "singularResource": singular or kind.lower()}

    return [
        {"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
            resource("pods", "Pod"), resource("nodes", "Node", namespaced=False), resource("events", "Event")]}]},
        {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
            resource("deployments", "Deployment")]}]},
        {"metadata": {"name": "events.k8s.io"}, "versions": [{"version": "v1", "resources": [
            resource("events", "Event")]}]},
        {"metadata": {"name": "autoscaling"}, "versions": [
            {"version": "v2", "resources": [resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")]},
            {"version": "v1", "resources": [resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")]}]},
    ]


@pytest.mark.parametrize(
    "partial, resource",
    [
        pytest.param(GroupVersionResource("", "", "pod"), GroupVersionResource("", "v1", "pods"), id="singular name"),
        pytest.param(GroupVersionResource("", "", "Deployments"), DEPLOYMENTS, id="any group, any case"),
        pytest.param(GroupVersionResource("", "", "events"), GroupVersionResource("", "v1", "events"),
                     id="two groups serve it: the core group comes first"),
        pytest.param(GroupVersionResource("events.k8s.io", "", "events"),
                     GroupVersionResource("events.k8s.io", "v1", "events"), id="the group chooses"),
        pytest.param(GroupVersionResource("autoscaling", "", "horizontalpodautoscalers"),
                     GroupVersionResource("autoscaling", "v2", "horizontalpodautoscalers"),
                     id="the preferred version first"),
        pytest.param(GroupVersionResource("autoscaling", "v1", "horizontalpodautoscalers"),
                     GroupVersionResource("autoscaling", "v1", "horizontalpodautoscalers"), id="a version asked for"),
    ],
)
def test_the_mapper_resolves_partial_resources_by_priority(partial, resource):
    assert new_discovery_rest_mapper(_discovery_items()).resource_for(partial) == resource


def test_the_mapper_maps_kinds_to_resources_and_scopes():
    mapper = new_discovery_rest_mapper(_discovery_items())
    assert mapper.kind_for(GroupVersionResource("", "", "nodes")) == GroupVersionKind("", "v1", "Node")
    node = mapper.rest_mapping("", "Node")
    assert (node.resource, node.scope) == (NODES, SCOPE_ROOT)
    assert mapper.rest_mapping("apps", "Deployment").scope == SCOPE_NAMESPACE
    assert mapper.rest_mapping("autoscaling", "HorizontalPodAutoscaler", "v1", "v2").gvk.version == "v1"
    with pytest.raises(errors.UsageError, match="no kind 'Deployment' in group ''"):
        mapper.rest_mapping("", "Deployment")
    with pytest.raises(errors.UsageError, match="no resource 'foos'"):
        mapper.resource_for(GroupVersionResource("", "", "foos"))


def test_a_mapper_without_discovery_guesses_plurals():
    mapper = RESTMapper()
    mapper.add(GroupVersionKind("samplecontroller.k8s.io", "v1alpha1", "Foo"), SCOPE_NAMESPACE)
    assert mapper.resource_for(GroupVersionResource("", "", "foo")).resource == "foos"


class _Discovery:
    """A discovery client that serves `items` and counts how often it was asked."""

    def __init__(self, items):
        self.items, self.calls = items, 0

    def server_groups_and_resources(self):
        self.calls += 1
        return self.items


def test_the_deferred_mapper_discovers_on_first_use_and_again_once_on_a_miss():
    discovery = _Discovery(_discovery_items())
    mapper = DeferredDiscoveryRESTMapper(discovery)
    assert discovery.calls == 0
    assert mapper.resource_for(GroupVersionResource("", "", "pods")).version == "v1"
    assert mapper.resource_for(GroupVersionResource("", "", "nodes")).version == "v1"
    assert discovery.calls == 1
    foo_group = {"metadata": {"name": "samplecontroller.k8s.io"}, "versions": [{"version": "v1alpha1", "resources": [
        {"resource": "foos", "responseKind": {"kind": "Foo"}, "scope": "Namespaced", "singularResource": "foo"}]}]}
    discovery.items = [*discovery.items, foo_group]  # the Foo CRD is installed
    assert mapper.rest_mapping("samplecontroller.k8s.io", "Foo").resource.resource == "foos"
    assert discovery.calls == 2
    with pytest.raises(errors.UsageError):
        mapper.resource_for(GroupVersionResource("", "", "bars"))
    assert discovery.calls == 3  # one more look, then the answer: not served
