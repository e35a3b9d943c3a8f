"""The clientset, the RESTClient and the Python client send the same HTTP request for the same call.

Checked through the trace, against the lab: method, path and query (decoded, sorted) of each layer's
request must be equal, and so must what comes back."""

from __future__ import annotations

import pytest
from kubernetes import client

from k8slab.chain import build_config_from_flags, new_for_config, trace

pytestmark = pytest.mark.lab


@pytest.fixture
def layers(lab):
    config = build_config_from_flags("", lab.kubeconfig)
    clientset = new_for_config(config)
    official = client.ApiClient(config.to_configuration())
    yield clientset, client.CoreV1Api(official), client.AppsV1Api(official)
    official.close()
    clientset.close()


def requests_of(t):
    return [(e.label, e.method, e.path, e.query, e.request_bytes) for e in t]


def same(t):
    """Every label sent the same requests (label aside)."""
    by_label: dict[str, list] = {}
    for label, *request in requests_of(t):
        by_label.setdefault(label, []).append(tuple(request))
    assert len(by_label) >= 2
    first, *rest = by_label.values()
    for other in rest:
        assert other == first
    return first


def test_a_list_with_selectors_and_paging_is_one_request_for_every_layer(layers, namespace):
    clientset, core, _ = layers
    for i in range(3):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"c{i}", "labels": {"app": "x"}}})
    rest = clientset.core_v1().rest_client()
    options = dict(label_selector="app=x", field_selector="metadata.name!=c9", limit=2, resource_version="0")
    with trace() as t:
        with t.label("clientset"):
            a = clientset.core_v1().config_maps(namespace).list(**options)
        with t.label("python client"):
            b = core.list_namespaced_config_map(namespace, **options)
        with t.label("RESTClient"):
            c = rest.get().namespace(namespace).resource("configmaps").params(**options).do().into("V1ConfigMapList")
    (request,) = same(t)
    assert request[:2] == ("GET", f"/api/v1/namespaces/{namespace}/configmaps")
    assert request[2] == "fieldSelector=metadata.name!=c9&labelSelector=app=x&limit=2&resourceVersion=0"
    assert [e.status for e in t] == [200, 200, 200]
    assert len({tuple(cm.metadata.name for cm in x.items) for x in (a, b, c)}) == 1


def test_get_create_patch_and_delete_send_the_same_requests(layers, namespace):
    clientset, core, _ = layers
    rest = clientset.core_v1().rest_client()
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"who": "same"}}

    with trace() as t:
        with t.label("clientset"):
            cms = clientset.core_v1().config_maps(namespace)
            cms.create(body)
            cms.get("cm")
            cms.patch("cm", {"data": {"k": "v"}}, "merge")
            cms.delete("cm")
        with t.label("python client"):
            core.create_namespaced_config_map(namespace, body)
            core.read_namespaced_config_map("cm", namespace)
            core.patch_namespaced_config_map("cm", namespace, {"data": {"k": "v"}}, _content_type="application/merge-patch+json")
            core.delete_namespaced_config_map("cm", namespace)
        with t.label("RESTClient"):
            rest.post().namespace(namespace).resource("configmaps").body(body).do()
            rest.get().namespace(namespace).resource("configmaps").name("cm").do()
            rest.patch("merge").namespace(namespace).resource("configmaps").name("cm").body({"data": {"k": "v"}}).do()
            rest.delete().namespace(namespace).resource("configmaps").name("cm").do()
    sent = same(t)  # bodies included: request_bytes are equal too
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, _, _ in sent] == [("POST", "configmaps"), ("GET", "cm"), ("PATCH", "cm"), ("DELETE", "cm")]
    patches = [e for e in t if e.method == "PATCH"]
    assert {e.headers["Content-Type"] for e in patches} == {"application/merge-patch+json"}


def test_another_group_version_and_cluster_scope(layers):
    clientset, core, apps = layers
    with trace() as t:
        with t.label("clientset"):
            clientset.core_v1().namespaces().get("default")
            clientset.apps_v1().deployments("").list(limit=1)
        with t.label("python client"):
            core.read_namespace("default")
            apps.list_deployment_for_all_namespaces(limit=1)
        with t.label("RESTClient"):
            clientset.core_v1().rest_client().get().resource("namespaces").name("default").do()
            clientset.apps_v1().rest_client().get().resource("deployments").params(limit=1).do()
    assert [r[1] for r in same(t)] == ["/api/v1/namespaces/default", "/apis/apps/v1/deployments"]


def test_a_watch_is_the_same_request_too(layers, namespace):
    from kubernetes import watch

    clientset, core, _ = layers
    with trace() as t:
        with t.label("clientset"):
            with clientset.core_v1().config_maps(namespace).watch(resource_version="0", timeout_seconds=1) as w:
                list(w)
        with t.label("python client"):
            list(watch.Watch().stream(core.list_namespaced_config_map, namespace, resource_version="0", timeout_seconds=1))
    (request,) = same(t)
    assert request[2] == "resourceVersion=0&timeoutSeconds=1&watch=true"
