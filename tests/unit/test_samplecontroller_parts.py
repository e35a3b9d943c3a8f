"""The pieces around the controller: CRD, RBAC, Events, metadata helpers, the operator, the CLI."""

from __future__ import annotations

import datetime as dt

import pytest

import k8slab.samplecontroller as samplecontroller
from k8slab import errors
from k8slab.cache import SharedIndexInformer, deep_copy
from k8slab.cache.testing import FakeSource
from k8slab.meta import (
    add_finalizer,
    contains_finalizer,
    find_status_condition,
    get_controller_of,
    is_controlled_by,
    remove_finalizer,
    set_status_condition,
)
from k8slab.record import FakeRecorder, new_recorder
from k8slab.samplecontroller import foo_crd, new_deployment, new_foo
from k8slab.samplecontroller.__main__ import parse_args
from k8slab.samplecontroller.fake import Action, FakeClientset
from k8slab.samplecontroller.operator import FINALIZER, ExternalRegistry, new_operator
from k8slab.samplecontroller.rbac import cluster_role, leader_election_role


def test_public_surface_is_sorted_and_importable():
    assert samplecontroller.__all__ == sorted(samplecontroller.__all__)
    assert all(hasattr(samplecontroller, name) for name in samplecontroller.__all__)


# -- the CRD --------------------------------------------------------------------------------


def test_crd_is_sample_controllers_foo_with_status_subresource():
    crd = foo_crd()
    assert crd["metadata"]["name"] == "foos.samplecontroller.k8s.io"
    assert "api-approved.kubernetes.io" in crd["metadata"]["annotations"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    assert schema["spec"]["properties"]["replicas"] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert schema["status"]["properties"]["availableReplicas"] == {"type": "integer"}
    assert crd["spec"]["names"]["kind"] == "Foo" and crd["spec"]["scope"] == "Namespaced"


def test_new_foo_names_its_deployment():
    foo = new_foo("web", "demo", replicas=3)
    assert foo["spec"] == {"deploymentName": "web-deployment", "replicas": 3}
    assert new_foo("x", "demo", replicas=None)["spec"] == {"deploymentName": "x-deployment"}


# -- RBAC -----------------------------------------------------------------------------------


def _verbs(role, resource):
    return sorted(v for r in role["rules"] if resource in r["resources"] for v in r["verbs"])


def test_cluster_role_grants_exactly_what_the_controller_calls():
    role = cluster_role()
    assert _verbs(role, "foos") == ["get", "list", "watch"]
    assert _verbs(role, "foos/status") == ["update"]
    assert _verbs(role, "deployments") == ["create", "get", "list", "update", "watch"]
    assert _verbs(role, "events") == ["create", "patch"]
    assert _verbs(leader_election_role("ns"), "leases") == ["create", "get", "update"]


def test_cluster_role_can_omit_a_verb_and_add_rules():
    role = cluster_role(omit={"create deployments", "update foos/status"},
                        extra_rules=[{"apiGroups": ["x"], "resources": ["foos"], "verbs": ["update"]}])
    assert _verbs(role, "deployments") == ["get", "list", "update", "watch"]
    assert _verbs(role, "foos/status") == []
    assert _verbs(role, "foos") == ["get", "list", "update", "watch"]
    assert _verbs(cluster_role(), "deployments") == ["create", "get", "list", "update", "watch"]


# -- Events ---------------------------------------------------------------------------------


def test_event_recorder_creates_then_counts_repeats():
    cs = FakeClientset()
    recorder = new_recorder(cs, "sample-controller")
    foo = new_foo("a", "demo")
    foo["metadata"]["uid"] = "u1"
    recorder.event(foo, "Normal", "Synced", "Foo synced successfully")
    recorder.event(foo, "Normal", "Synced", "Foo synced successfully")
    recorder.event(foo, "Warning", "ErrResourceExists", "taken")
    verbs = [(a.verb, a.resource) for a in cs.actions]
    assert verbs == [("create", "events"), ("patch", "events"), ("create", "events")]
    created = cs.actions[0].obj
    assert created["involvedObject"] == {"kind": "Foo", "apiVersion": "samplecontroller.k8s.io/v1alpha1",
                                         "name": "a", "namespace": "demo", "uid": "u1"}
    assert created["source"] == {"component": "sample-controller"}
    assert created["metadata"]["name"].startswith("a.") and created["metadata"]["namespace"] == "demo"
    assert cs.actions[1].obj["count"] == 2


def test_event_recorder_never_raises():
    cs = FakeClientset()

    def refuse(action):
        raise errors.Forbidden("events is forbidden", code=403)

    cs.prepend_reactor("create", "events", refuse)
    new_recorder(cs, "sample-controller").event(new_foo("a", "demo"), "Normal", "Synced", "m")


def test_fake_recorder_keeps_type_reason_message():
    recorder = FakeRecorder()
    recorder.event({}, "Warning", "ErrResourceExists", "taken")
    assert recorder.events == ["Warning ErrResourceExists taken"]


# -- metadata helpers -----------------------------------------------------------------------------


def test_controller_ref_helpers():
    foo = new_foo("a", "demo")
    foo["metadata"]["uid"] = "u1"
    d = new_deployment(foo)
    assert get_controller_of(d)["uid"] == "u1"
    assert is_controlled_by(d, foo)
    other = deep_copy(foo)
    other["metadata"]["uid"] = "u2"
    assert not is_controlled_by(d, other)
    d["metadata"]["ownerReferences"][0]["controller"] = False
    assert get_controller_of(d) is None


def test_finalizer_helpers():
    foo = new_foo("a", "demo")
    assert add_finalizer(foo, "x/y") and not add_finalizer(foo, "x/y")
    assert contains_finalizer(foo, "x/y")
    assert remove_finalizer(foo, "x/y") and not remove_finalizer(foo, "x/y")
    assert foo["metadata"]["finalizers"] == []


def test_set_status_condition_moves_last_transition_time_only_on_a_flip():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    conditions: list = []
    assert set_status_condition(conditions, {"type": "Available", "status": "True", "reason": "R", "message": "1"}, t0)
    stamp = conditions[0]["lastTransitionTime"]
    assert stamp == "2026-01-01T00:00:00Z"
    t1 = t0 + dt.timedelta(minutes=1)
    assert set_status_condition(conditions, {"type": "Available", "status": "True", "reason": "R", "message": "2"}, t1)
    assert conditions[0]["lastTransitionTime"] == stamp and conditions[0]["message"] == "2"
    assert not set_status_condition(conditions, {"type": "Available", "status": "True", "reason": "R", "message": "2"}, t1)
    assert set_status_condition(conditions, {"type": "Available", "status": "False", "reason": "S", "message": "2"}, t1)
    assert find_status_condition(conditions, "Available")["lastTransitionTime"] == "2026-01-01T00:01:00Z"


def test_set_status_condition_reads_a_missing_field_as_gos_zero_value():
    """metav1.Condition always has every field: leaving one out is setting it empty, as in Go."""
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    conditions: list = []
    set_status_condition(conditions, {"type": "Ready", "status": "True", "reason": "R", "message": "m",
                                      "observedGeneration": 3}, t0)
    assert set_status_condition(conditions, {"type": "Ready", "status": "True", "reason": "R"}, t0)
    assert conditions[0]["message"] == "" and "observedGeneration" not in conditions[0]  # omitempty
    assert not set_status_condition(conditions, {"type": "Ready", "status": "True", "reason": "R", "message": ""}, t0)


# -- the operator -------------------------------------------------------------------------------


def _operator(foo, deployment=None):
    client, kubeclient = FakeClientset(foo), FakeClientset()
    foo_informer = SharedIndexInformer(FakeSource("Foo"), "foos")
    deployment_informer = SharedIndexInformer(FakeSource("Deployment"), "deployments")
    foo_informer.get_indexer().add(foo)
    if deployment is not None:
        deployment_informer.get_indexer().add(deployment)
    registry = ExternalRegistry()
    op = new_operator(kubeclient, client, deployment_informer, foo_informer, registry, recorder=FakeRecorder())
    return op, client, kubeclient, registry


def test_operator_first_adds_its_finalizer_and_nothing_else():
    foo = new_foo("a", "demo")
    op, client, kubeclient, registry = _operator(foo)
    op.sync_handler("demo/a")
    [action] = client.actions
    assert (action.verb, action.subresource) == ("update", "")
    assert action.obj["metadata"]["finalizers"] == [FINALIZER]
    assert kubeclient.actions == [] and registry.keys() == []
    op.workqueue.shut_down()


def test_operator_writes_observed_generation_and_an_available_condition():
    foo = new_foo("a", "demo", replicas=2)
    foo["metadata"].update(finalizers=[FINALIZER], generation=3)
    d = new_deployment(foo)
    d["metadata"]["generation"] = 1
    d["status"] = {"availableReplicas": 1, "observedGeneration": 1}
    op, client, _, registry = _operator(foo, d)
    op.sync_handler("demo/a")
    [status_update] = [a for a in client.actions if a.subresource == "status"]
    status = status_update.obj["status"]
    assert status["observedGeneration"] == 3 and status["availableReplicas"] == 1
    condition = find_status_condition(status["conditions"], "Available")
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "ReplicasUnavailable", "1 of 2 replicas available")
    assert registry.keys() == ["demo/a"]
    op.workqueue.shut_down()


def test_operator_cleans_up_and_releases_a_deleted_foo():
    foo = new_foo("a", "demo")
    foo["metadata"].update(finalizers=[FINALIZER, "other/keep"], deletionTimestamp="2026-01-01T00:00:00Z")
    op, client, kubeclient, registry = _operator(foo)
    registry.register("demo/a", 1)
    op.sync_handler("demo/a")
    [action] = client.actions
    assert action == Action("update", "foos", "demo", "", action.obj)
    assert action.obj["metadata"]["finalizers"] == ["other/keep"]
    assert registry.keys() == [] and registry.log[-1] == "deregister demo/a"
    assert kubeclient.actions == []
    op.workqueue.shut_down()


# -- the command line ---------------------------------------------------------------------------------


def test_cli_flags_default_to_component_base_values():
    args = parse_args(["--kubeconfig", "k"])
    assert (args.workers, args.leader_elect) == (2, False)
    assert (args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
            args.leader_elect_retry_period) == (15.0, 10.0, 2.0)
    assert (args.leader_elect_resource_namespace, args.leader_elect_resource_name) == (
        "kube-system", "sample-controller")
    # main.go sets no QPS: client-go's NewForConfig then gives each group version its own 5/10 bucket.
    assert (args.kube_api_qps, args.kube_api_burst, args.one_rate_limiter) == (0.0, 0, False)


def test_the_app_builds_main_gos_two_clientsets_with_client_gos_limiter_topology(tmp_path):
    from k8slab.chain import new_token_bucket_rate_limiter
    from k8slab.samplecontroller import App
    from k8slab.samplecontroller.clientset import GroupVersionClientset

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                          "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                          "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n")
    app = App(kubeconfig)  # QPS 0
    try:
        assert app.kubeclientset is not app.sampleclientset
        assert isinstance(app.kubeclientset, GroupVersionClientset)
        app.kubeclientset.apps_v1().deployments("x")
        app.kubeclientset.core_v1().events("x")
        limiters = app.kubeclientset.limiters()
        assert set(limiters) == {"apps/v1", "v1"} and limiters["apps/v1"] is not limiters["v1"]
    finally:
        app.close()
    shared = new_token_bucket_rate_limiter(5, 10)
    app = App(kubeconfig, rate_limiter=shared)  # a rest.Config's RateLimiter: one bucket for both clientsets
    try:
        assert app.kubeclientset.api_client.rate_limiter is shared is app.sampleclientset.api_client.rate_limiter
    finally:
        app.close()


def test_cli_without_a_kubeconfig_exits_2(monkeypatch, capsys):
    from k8slab.samplecontroller.__main__ import main

    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert main([]) == 2
    assert "--kubeconfig" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [{"lease_duration": 2, "renew_deadline": 2}])
def test_app_refuses_a_bad_leader_election_config(tmp_path, bad):
    from k8slab.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaseLock, new_leader_elector
    from k8slab.leaderelection.testing import FakeLeases

    config = LeaderElectionConfig(lock=LeaseLock("n", "l", FakeLeases(), "me"), retry_period=1,
                                  callbacks=LeaderCallbacks(lambda s: None, lambda: None), **bad)
    with pytest.raises(errors.UsageError):
        new_leader_elector(config)


# -- the clientset ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, path",
    [
        pytest.param(lambda cs: cs.apps_v1().deployments("demo").get("web"),
                     "/apis/apps/v1/namespaces/demo/deployments/web", id="namespaced"),
        pytest.param(lambda cs: cs.core_v1().nodes().get("n1"), "/api/v1/nodes/n1", id="cluster-scoped, core group"),
        pytest.param(lambda cs: cs.samplecontroller_v1alpha1().foos("demo").update_status(new_foo("a", "demo")),
                     "/apis/samplecontroller.k8s.io/v1alpha1/namespaces/demo/foos/a/status", id="status subresource"),
    ],
)
def test_the_typed_accessors_are_resources_of_the_dynamic_client(call, path):
    from k8slab.chain.testing import mock_api_client

    cs = samplecontroller.DictClientset(mock_api_client(lambda req: (200, {"path": req.path})))
    assert call(cs) == {"path": path}
    with pytest.raises(AttributeError, match="no resource 'pods'"):
        cs.apps_v1().pods("demo")
