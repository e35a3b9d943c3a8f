"""The clientset over the mock transport: names, paths, verbs, errors, retry, discovery tables."""

from __future__ import annotations

import pytest

from k8slab.chain.clientset import Clientset, _group_versions, _plural, new_for_config, python_api_class, retry_on_conflict
from k8slab.chain.flowcontrol import TokenBucketRateLimiter
from k8slab.chain.rest_config import RestConfig
from k8slab.chain.testing import MockTransport, mock_api_client
from k8slab.chain.trace import trace
from k8slab.errors import Conflict, Forbidden, NotFound, UsageError

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}


def echo(req):
    if req.path.endswith("/pods") and req.method == "GET":
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [POD]}
    if "deployments" in req.path:
        return 200, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"selector": {}, "template": {}}}
    if req.path.startswith("/api/v1/nodes"):
        return 200, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    return (201 if req.method == "POST" else 200), POD


@pytest.fixture
def cs():
    return Clientset(mock_api_client(echo))


def sent(cs):
    return [(r.method, r.path, r.query) for r in cs.api_client.rest_client.requests]


@pytest.mark.parametrize("kind, plural", [
    ("pod", "pods"), ("endpoints", "endpoints"), ("network_policy", "network_policies"), ("ingress", "ingresses"),
    ("component_status", "component_statuses"), ("storage_class", "storage_classes"), ("ip_address", "ip_addresses"),
    ("gateway", "gateways"),
])
def test_plurals_follow_client_gen(kind, plural):
    assert _plural(kind) == plural


@pytest.mark.parametrize("group, version, cls, accessor", [
    ("", "v1", "CoreV1Api", "core_v1"),
    ("apps", "v1", "AppsV1Api", "apps_v1"),
    ("rbac.authorization.k8s.io", "v1", "RbacAuthorizationV1Api", "rbac_v1"),
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowcontrolApiserverV1Api", "flowcontrol_v1"),
    ("autoscaling", "v2", "AutoscalingV2Api", "autoscaling_v2"),
])
def test_group_versions_map_to_python_classes_and_client_go_accessors(group, version, cls, accessor):
    assert python_api_class(group, version) == cls
    g, v, api_class = _group_versions()[accessor]
    assert (g, v, api_class) == (group, version, cls)
    import kubernetes.client

    assert getattr(kubernetes.client, api_class).__name__ == cls  # the Python client ships it


@pytest.mark.parametrize(
    "call, expected",
    [
        pytest.param(lambda cs: cs.core_v1().pods("ns").list(label_selector="a=b", limit=2, continue_="t"),
                     ("GET", "/api/v1/namespaces/ns/pods", {"labelSelector": "a=b", "limit": "2", "continue": "t"}), id="list"),
        pytest.param(lambda cs: cs.core_v1().pods("").list(), ("GET", "/api/v1/pods", {}), id="list in all namespaces"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").get("p"), ("GET", "/api/v1/namespaces/ns/pods/p", {}), id="get"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").create(POD), ("POST", "/api/v1/namespaces/ns/pods", {}), id="create"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").update(POD), ("PUT", "/api/v1/namespaces/ns/pods/p", {}), id="update"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").update_status(POD), ("PUT", "/api/v1/namespaces/ns/pods/p/status", {}), id="update status"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").delete("p", grace_period_seconds=0),
                     ("DELETE", "/api/v1/namespaces/ns/pods/p", {"gracePeriodSeconds": "0"}), id="delete"),
        pytest.param(lambda cs: cs.core_v1().nodes().get("n1"), ("GET", "/api/v1/nodes/n1", {}), id="cluster scoped"),
        pytest.param(lambda cs: cs.apps_v1().deployments("ns").get("web"), ("GET", "/apis/apps/v1/namespaces/ns/deployments/web", {}), id="another group"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").apply(POD, field_manager="me", force=True),
                     ("PATCH", "/api/v1/namespaces/ns/pods/p", {"fieldManager": "me", "force": "true"}), id="server-side apply"),
    ],
)
def test_typed_calls_send_client_go_requests(cs, call, expected):
    call(cs)
    assert sent(cs) == [expected]


@pytest.mark.parametrize("patch_type, content_type", [
    ("strategic", "application/strategic-merge-patch+json"),
    ("merge", "application/merge-patch+json"),
    ("json", "application/json-patch+json"),
])
def test_patches_say_their_type(cs, patch_type, content_type):
    body = [{"op": "add", "path": "/metadata/labels/a", "value": "b"}] if patch_type == "json" else {"metadata": {"labels": {"a": "b"}}}
    cs.core_v1().pods("ns").patch("p", body, patch_type)
    request = cs.api_client.rest_client.requests[0]
    assert (request.method, request.headers["Content-Type"], request.body) == ("PATCH", content_type, body)


def test_results_are_the_python_clients_models(cs):
    assert type(cs.core_v1().pods("ns").list()).__name__ == "V1PodList"
    assert cs.core_v1().pods("ns").get("p").metadata.name == "p"


@pytest.mark.parametrize(
    "call, error, message",
    [
        pytest.param(lambda cs: cs.core_v1().pods("").get("p"), UsageError, "a pod lives in a namespace", id="get without a namespace"),
        pytest.param(lambda cs: cs.core_v1().pods(None), UsageError, "namespace must be a string", id="namespace None"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").update({"metadata": {}}), UsageError, "no metadata.name", id="update without a name"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").patch("p", {}, "yaml"), UsageError, "unknown patch type", id="unknown patch type"),
        pytest.param(lambda cs: cs.core_v1().pods("ns").list(limit="many"), UsageError, "limit: Input should be a valid integer", id="a bad option"),
        pytest.param(lambda cs: cs.core_v1().deployments, AttributeError, "CoreV1Api has no resource 'deployments'", id="a resource of another group"),
        pytest.param(lambda cs: cs.core_v2, AttributeError, "no group version 'core_v2'", id="an unknown group version"),
    ],
)
def test_misuse_is_reported_before_anything_is_sent(cs, call, error, message):
    with pytest.raises(error, match=message):
        call(cs)
    assert sent(cs) == []


@pytest.mark.parametrize("code, reason, error", [(404, "NotFound", NotFound), (403, "Forbidden", Forbidden), (409, "Conflict", Conflict)])
def test_api_exceptions_of_the_python_client_become_k8slab_errors_with_context(code, reason, error):
    cs = Clientset(mock_api_client(lambda req: (code, {"kind": "Status", "reason": reason, "code": code, "message": "no"})))
    with pytest.raises(error, match="get pods 'p' in namespace 'ns': no") as info:
        cs.core_v1().pods("ns").get("p")
    assert info.value.code == code


def test_a_clientset_on_one_api_client_sends_every_group_through_it_and_its_limiter():
    """Clientset(api_client) is client-go's kubernetes.New(c): one RESTClient for every group version."""
    limiter = TokenBucketRateLimiter(5, 10)
    cs = Clientset(mock_api_client(echo, rate_limiter=limiter))
    assert cs.core_v1().api.api_client is cs.apps_v1().api.api_client is cs.api_client
    assert cs.core_v1().rest_client().rate_limiter is cs.apps_v1().rest_client().rate_limiter is limiter
    assert cs.discovery().rest.rate_limiter is limiter
    assert cs.core_v1() is cs.core_v1()


def limiters(cs) -> dict[str, object]:
    return {"core": cs.core_v1().rest_client().rate_limiter, "apps": cs.apps_v1().rest_client().rate_limiter,
            "rbac": cs.rbac_v1().rest_client().rate_limiter, "discovery": cs.discovery().rest.rate_limiter,
            "clientset": cs.api_client.rate_limiter}


def test_with_qps_0_each_group_version_gets_its_own_default_bucket_over_one_connection_pool():
    cs = new_for_config(RestConfig(host="https://mock.invalid"))  # QPS 0, Burst 0: client-go's defaults
    cs.api_client.rest_client = MockTransport(echo)
    got = limiters(cs)
    assert got["clientset"] is None  # NewForConfigAndClient made no shared limiter
    assert len({id(got[k]) for k in ("core", "apps", "rbac", "discovery")}) == 4
    assert [(got[k].qps, got[k].burst) for k in ("core", "apps", "rbac")] == [(5.0, 10)] * 3
    assert (got["discovery"].qps, got["discovery"].burst) == (5.0, 300)  # setDiscoveryDefaults: burst 300
    assert cs.core_v1().rest_client().rate_limiter is got["core"]  # one RESTClient per group version, kept
    with trace() as t:
        for _ in range(10):
            cs.core_v1().pods("ns").list()
            cs.apps_v1().deployments("ns").get("web")
    assert len(cs.api_client.rest_client.requests) == 20  # one transport for all
    assert [e.throttled_s for e in t] == [0.0] * 20  # two buckets of ten: nobody waited
    assert got["core"].tokens() < 1 and got["apps"].tokens() < 1


def test_discovery_gets_a_32_s_timeout_unless_the_config_sets_one():
    cs = new_for_config(RestConfig(host="https://mock.invalid"))
    assert (cs.discovery().rest.api_client.timeout, cs.core_v1().api.api_client.timeout) == (32.0, 0.0)
    assert new_for_config(RestConfig(host="https://mock.invalid", timeout=5)).discovery().rest.api_client.timeout == 5


def test_with_qps_0_and_a_burst_each_bucket_takes_that_burst():
    got = limiters(new_for_config(RestConfig(host="https://mock.invalid", burst=20)))
    assert [(got[k].qps, got[k].burst) for k in ("core", "apps", "discovery")] == [(5.0, 20)] * 3


def test_with_qps_above_0_one_bucket_is_shared_by_every_group_version_and_discovery():
    got = limiters(new_for_config(RestConfig(host="https://mock.invalid", qps=20, burst=30)))
    assert len({id(v) for v in got.values()}) == 1 and (got["core"].qps, got["core"].burst) == (20.0, 30)


def test_an_explicit_rate_limiter_is_shared_as_given():
    mine = TokenBucketRateLimiter(1, 1)
    got = limiters(new_for_config(RestConfig(host="https://mock.invalid", rate_limiter=mine)))
    assert all(v is mine for v in got.values())


def test_a_negative_qps_means_no_limiter_anywhere():
    assert set(limiters(new_for_config(RestConfig(host="https://mock.invalid", qps=-1))).values()) == {None}


def test_qps_without_a_burst_is_refused_as_client_go_refuses_it():
    with pytest.raises(UsageError, match="burst is required to be greater than 0 when RateLimiter is not set and QPS is set"):
        new_for_config(RestConfig(host="https://mock.invalid", qps=50))


def test_watch_goes_through_the_groups_rest_client_and_decodes_typed_objects():
    body = b'{"type": "ADDED", "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"selector": {}, "template": {}}}}\n'
    cs = Clientset(mock_api_client(lambda req: (200, body)))
    with cs.apps_v1().deployments("ns").watch(resource_version="5", timeout_seconds=3) as w:
        events = list(w)
    assert sent(cs) == [("GET", "/apis/apps/v1/namespaces/ns/deployments", {"resourceVersion": "5", "timeoutSeconds": "3", "watch": "true"})]
    assert [(e.type, type(e.object).__name__, e.object.metadata.name) for e in events] == [("ADDED", "V1Deployment", "web")]


# -- retry_on_conflict ----------------------------------------------------------------------------------


def flaky(conflicts: int):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= conflicts:
            raise Conflict("stale", code=409, reason="Conflict")
        return "done"

    return fn, calls


def test_retry_on_conflict_retries_until_the_update_goes_through():
    fn, calls = flaky(2)
    sleeps: list[float] = []
    assert retry_on_conflict(fn, sleep=sleeps.append) == "done"
    assert len(calls) == 3 and len(sleeps) == 2 and all(0.010 <= s <= 0.011 for s in sleeps)


def test_retry_on_conflict_gives_up_after_five_tries_with_the_last_conflict():
    fn, calls = flaky(10)
    with pytest.raises(Conflict, match="stale"):
        retry_on_conflict(fn, sleep=lambda s: None)
    assert len(calls) == 5


def test_retry_on_conflict_does_not_retry_other_errors():
    calls = []

    def fn():
        calls.append(1)
        raise NotFound("gone", code=404)

    with pytest.raises(NotFound):
        retry_on_conflict(fn, sleep=lambda s: None)
    assert len(calls) == 1


# -- discovery -------------------------------------------------------------------------------------------


def aggregated(req):
    core = {"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
        {"resource": "pods", "responseKind": {"kind": "Pod"}, "scope": "Namespaced", "verbs": ["get", "list", "watch"]},
        {"resource": "bindings", "responseKind": {"kind": "Binding"}, "scope": "Namespaced", "verbs": ["create"]},
    ]}]}
    groups = [
        {"metadata": {"name": "autoscaling"}, "versions": [
            {"version": "v2", "resources": [{"resource": "horizontalpodautoscalers", "responseKind": {"kind": "HorizontalPodAutoscaler"},
                                             "scope": "Namespaced", "verbs": ["list"]}]},
            {"version": "v1", "resources": []}]},
        {"metadata": {"name": "example.com"}, "versions": [{"version": "v1", "resources": [
            {"resource": "widgets", "responseKind": {"kind": "Widget"}, "scope": "Cluster", "verbs": ["list"]}]}]},
    ]
    assert req.headers["Accept"].startswith("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    return 200, {"kind": "APIGroupDiscoveryList", "items": [core] if req.path == "/api" else groups}


def test_discovery_maps_each_served_group_version_to_accessors_and_classes():
    frame = Clientset(mock_api_client(aggregated)).discovery().groups_frame()
    rows = frame[["group", "version", "preferred", "resources", "client-go", "k8slab", "python class"]].values.tolist()
    assert rows == [
        ["(core)", "v1", True, 2, "CoreV1()", "core_v1()", "CoreV1Api"],
        ["autoscaling", "v2", True, 1, "AutoscalingV2()", "autoscaling_v2()", "AutoscalingV2Api"],
        ["autoscaling", "v1", False, 0, "AutoscalingV1()", "autoscaling_v1()", "AutoscalingV1Api"],
        ["example.com", "v1", True, 1, "ExampleV1()", "example_v1()", "(none in kubernetes 37)"],
    ]


def test_discovery_lists_resources_with_the_clientset_call_that_reaches_them():
    frame = Clientset(mock_api_client(aggregated)).discovery().resources_frame()
    calls = dict(zip(frame["resource"], frame["k8slab"]))
    assert calls == {
        "pods": "core_v1().pods(namespace)",
        "bindings": "core_v1().bindings(namespace)",
        "horizontalpodautoscalers": "autoscaling_v2().horizontal_pod_autoscalers(namespace)",
        "widgets": "",
    }


def test_a_custom_group_is_not_shown_as_the_built_in_group_of_its_first_label():
    def served(req):
        cronjobs = {"resource": "cronjobs", "responseKind": {"kind": "CronJob"}, "scope": "Namespaced", "verbs": ["list"]}
        groups = [{"metadata": {"name": name}, "versions": [{"version": "v1", "resources": [cronjobs]}]}
                  for name in ("batch", "batch.tutorial.kubebuilder.io")]
        return 200, {"kind": "APIGroupDiscoveryList", "items": [] if req.path == "/api" else groups}

    frame = Clientset(mock_api_client(served)).discovery().resources_frame()
    assert frame[["group", "k8slab"]].values.tolist() == [
        ["batch", "batch_v1().cron_jobs(namespace)"],
        ["batch.tutorial.kubebuilder.io", ""],
    ]


def test_a_server_without_aggregated_discovery_is_refused_clearly():
    cs = Clientset(mock_api_client(lambda req: (200, {"kind": "APIVersions", "versions": ["v1"]})))
    with pytest.raises(UsageError, match="did not answer with aggregated discovery"):
        cs.discovery().groups_frame()
