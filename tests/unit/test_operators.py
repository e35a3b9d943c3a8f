"""The operators wing without a cluster: Go program specs, RBAC, limiter topology, runner flags, the story's snapshot."""

from __future__ import annotations

import base64

import pytest
import yaml

from k8slab import errors
from k8slab.chain import RestConfig
from k8slab.lab import goprograms
from k8slab.operators import rbac, runner, story
from k8slab.samplecontroller.clientset import GroupVersionClientset
from k8slab.samplecontroller.clientset import new_for_config as new_clientset_for_config
from k8slab.operators.kopf_foo import backoff, connection_info
from k8slab.samplecontroller import DictClientset, new_deployment, new_foo
from k8slab.samplecontroller.fake import FakeClientset

# -- Go programs ------------------------------------------------------------------------------------

SAMPLE = runner.GO_PROGRAMS["sample-controller"]
OURS = runner.GO_PROGRAMS["controller-runtime"]


def test_go_programs_are_cached_per_version_under_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path))
    assert goprograms.go_program_path(SAMPLE) == tmp_path / "bin" / "sample-controller-v0.37.1" / "sample-controller"
    ours = goprograms.go_program_path(OURS)
    assert ours.parent.name.startswith("controller-runtime-foo-v0.25.3-") and ours.name == "controller-runtime-foo"


def test_our_go_program_is_keyed_by_its_sources(monkeypatch):
    files = OURS.source_files()
    assert set(files) == {"main.go", "foo_types.go", "operator.go"}
    assert b"Owns(&appsv1.Deployment{})" in files["main.go"]
    assert SAMPLE.source_files() == {}  # upstream's, unchanged
    before = OURS.cache_subdir
    assert OURS.cache_subdir == before  # the same sources, the same cache entry
    edited = {**files, "main.go": files["main.go"] + b"// edited\n"}
    monkeypatch.setattr(goprograms.GoProgram, "source_files", lambda self: edited)
    assert OURS.cache_subdir != before  # an edit builds anew


def test_a_missing_program_is_not_built_when_told_not_to(tmp_path, monkeypatch):
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path))
    with pytest.raises(errors.ToolchainMissing, match="not built yet"):
        goprograms.go_program(SAMPLE, build=False)


def test_a_binary_without_its_stamp_counts_as_not_built(tmp_path, monkeypatch):
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path))
    path = goprograms.go_program_path(SAMPLE)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a binary")  # a build killed before it finished
    assert not goprograms._ok(path)
    path.with_name(f".{path.name}.ok").write_text(str(path.stat().st_size))
    assert goprograms._ok(path)
    assert goprograms.go_program(SAMPLE, build=False) == path


# -- RBAC ---------------------------------------------------------------------------------------------


def _rules(controller: str) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rbac.cluster_role(controller)["rules"]
            for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def test_each_controller_may_do_what_its_framework_does_and_no_more():
    sample = "samplecontroller.k8s.io"
    assert ("", "events", "patch") not in _rules("kopf")  # kopf posts each Event anew
    assert (sample, "foos", "patch") in _rules("kopf")  # its annotations
    assert (sample, "foos/status", "patch") in _rules("kopf") and (sample, "foos/status", "update") not in _rules("kopf")
    assert ("events.k8s.io", "events", "create") in _rules("controller-runtime")
    assert ("events.k8s.io", "events", "create") not in _rules("sample-controller")
    assert (sample, "foos", "get") not in _rules("sample-controller")  # it reads its informers' caches only
    assert _rules("k8slab") == _rules("k8slab-one-bucket")
    for controller in rbac.RULES:
        assert not any(v == "delete" for _, _, v in _rules(controller))


def test_a_controller_watching_one_namespace_is_bound_there_only():
    admin = FakeClientset()
    assert rbac.install_rbac(admin, "kopf", namespace="demo") == "foo-kopf"
    bindings = admin.rbac_v1().role_bindings("demo").list()["items"]
    assert [(b["roleRef"]["kind"], b["subjects"][0]["name"]) for b in bindings] == [("ClusterRole", "foo-kopf")]
    assert admin.rbac_v1().cluster_role_bindings().list()["items"] == []


def test_the_go_sample_controller_is_bound_cluster_wide_and_a_rerun_replaces():
    admin = FakeClientset()
    rbac.install_rbac(admin, "sample-controller", namespace="demo")
    rbac.install_rbac(admin, "sample-controller", namespace="demo", leader_election_namespace="demo")
    assert [b["metadata"]["name"] for b in admin.rbac_v1().cluster_role_bindings().list()["items"]] == \
        ["k8slab:foo-sample-controller"]
    role = admin.rbac_v1().roles("demo").get("k8slab:foo-sample-controller:leader-election")
    assert {"get", "create", "update"} <= set(role["rules"][0]["verbs"])


def test_an_unknown_controller_is_refused_with_the_known_ones():
    with pytest.raises(errors.UsageError, match="k8slab, sample-controller, controller-runtime, kopf"):
        rbac.user_name("operator-sdk")


# -- client-go's limiter topology ---------------------------------------------------------------------------


def _config(**kw) -> RestConfig:
    return RestConfig(host="https://127.0.0.1:1", **kw)


def test_qps_0_gives_each_group_version_a_bucket_of_its_own():
    cs = new_clientset_for_config(_config())
    assert isinstance(cs, GroupVersionClientset)
    cs.apps_v1().deployments("demo")
    cs.core_v1().events("demo")
    cs.samplecontroller_v1alpha1().foos("demo")
    cs.apps_v1().deployments("other")  # the same group version: the same bucket
    limiters = cs.limiters()
    assert sorted(limiters) == ["apps/v1", "samplecontroller.k8s.io/v1alpha1", "v1"]
    assert len({id(lim) for lim in limiters.values()}) == 3
    assert {(lim.qps, lim.burst) for lim in limiters.values()} == {(5.0, 10)}


def test_qps_above_0_shares_one_bucket_and_needs_a_burst():
    cs = new_clientset_for_config(_config(qps=20, burst=30))
    assert type(cs) is DictClientset
    assert (cs.api_client.rate_limiter.qps, cs.api_client.rate_limiter.burst) == (20.0, 30)
    assert cs.apps_v1().deployments("demo").rest.api_client.rate_limiter is cs.api_client.rate_limiter
    with pytest.raises(errors.UsageError, match="burst must be greater than 0"):
        new_clientset_for_config(_config(qps=5))


def test_negative_qps_means_no_limiter():
    cs = new_clientset_for_config(_config(qps=-1))
    cs.apps_v1().deployments("demo")
    assert cs.limiters() == {"apps/v1": None}


# -- the runner -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    pytest.param({"qps": 5}, "no flag for qps/burst", id="the Go sample-controller has no QPS flag"),
    pytest.param({"leader_elect": True}, "no flag for leader election", id="nor leader election"),
])
def test_the_go_sample_controller_refuses_what_main_go_cannot_do(kwargs, match):
    with pytest.raises(errors.UsageError, match=match):
        runner.command("sample-controller", "/k", **kwargs)


def test_python_controllers_get_their_flags(tmp_path):
    cmd = runner.command("k8slab", "/k", namespace="demo", qps=5, burst=10, leader_elect=True)
    assert cmd[1:3] == ["-m", "k8slab.samplecontroller"]
    assert cmd[3:] == ["--kubeconfig", "/k", "--namespace", "demo", "--kube-api-qps", "5", "--kube-api-burst", "10",
                       "--leader-elect", "--leader-elect-resource-namespace", "demo"]
    assert runner.command("kopf", "/k")[1:] == ["-m", "k8slab.operators.kopf_foo", "--kubeconfig", "/k"]
    with pytest.raises(errors.UsageError, match="peering"):
        runner.command("kopf", "/k", leader_elect=True)
    with pytest.raises(errors.UsageError, match="unknown controller 'foo'"):
        runner.command("foo", "/k")
    with pytest.raises(errors.UsageError, match="Go program"):
        runner.run("controller-runtime", "/k", in_process=True)


def test_the_operators_take_an_external_dir_and_the_others_refuse_it():
    for name in ("k8slab", "kopf"):
        assert runner.command(name, "/k", namespace="demo", external_dir="/records")[-2:] == ["--external-dir", "/records"]
    for name in ("sample-controller", "k8slab-one-bucket"):
        with pytest.raises(errors.UsageError, match="no operator patterns.*k8slab, controller-runtime, kopf"):
            runner.command(name, "/k", external_dir="/records")
        with pytest.raises(errors.UsageError, match="no operator patterns"):
            runner.run(name, "/k", external_dir="/records", in_process=True)


def test_an_in_process_controller_cannot_be_killed():
    class Thread:
        running = True

    with pytest.raises(errors.UsageError, match="cannot be killed, only stopped"):
        runner.Running("kopf", "demo", in_process=Thread()).kill()


def test_operator_rules_add_update_foos_and_omit_takes_verbs_away():
    assert ("samplecontroller.k8s.io", "foos", "update") not in _rules("controller-runtime")
    def rules(role):
        return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    for name in ("k8slab", "controller-runtime"):
        assert ("samplecontroller.k8s.io", "foos", "update") in rules(rbac.cluster_role(name, operator=True))
    assert rules(rbac.cluster_role("kopf", operator=True)) == _rules("kopf")  # its finalizer goes on with patch
    less = rules(rbac.cluster_role("k8slab", operator=True, omit=["create deployments", "update foos/status"]))
    assert less == rules(rbac.cluster_role("k8slab", operator=True)) - {
        ("apps", "deployments", "create"), ("samplecontroller.k8s.io", "foos/status", "update")}
    assert not [r for r in rbac.cluster_role("k8slab", omit=["update foos/status"])["rules"] if not r["verbs"]]
    with pytest.raises(errors.UsageError, match="no such rule; write 'verb resource'"):
        rbac.cluster_role("kopf", omit=["delete pods"])
    with pytest.raises(errors.UsageError, match="no operator patterns"):
        rbac.cluster_role("sample-controller", operator=True)


def test_a_directory_registry_is_one_file_per_foo_that_other_processes_can_read(tmp_path):
    from k8slab.samplecontroller.operator import DirectoryRegistry

    records = DirectoryRegistry(tmp_path / "records")
    records.register("shop/web.v2", 3)  # a name may hold dots; a namespace may not
    records.register("shop/db", 1)
    records.register("shop/db", 2)
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == ["shop.db", "shop.web.v2"]
    assert (tmp_path / "records" / "shop.db").read_text() == "2"  # what operator.go writes too
    assert records.records() == {"shop/db": 2, "shop/web.v2": 3} and records.keys() == ["shop/db", "shop/web.v2"]
    records.deregister("shop/db")
    records.deregister("shop/db")  # gone already: fine
    assert DirectoryRegistry(tmp_path / "records").keys() == ["shop/web.v2"]


# -- kopf ---------------------------------------------------------------------------------------------------


def test_kopf_retries_back_off_as_the_workqueue_does():
    assert [backoff(n) for n in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert backoff(40) == 1000.0


def test_kopf_gets_the_kubeconfig_credentials(tmp_path):
    pem = {k: f"-----BEGIN {k}-----\nAAAA\n-----END {k}-----\n".encode() for k in ("CERTIFICATE", "PRIVATE KEY")}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443",
                                                "certificate-authority-data": base64.b64encode(pem["CERTIFICATE"]).decode()}}],
        "users": [{"name": "u", "user": {"client-certificate-data": base64.b64encode(pem["CERTIFICATE"]).decode(),
                                          "client-key-data": base64.b64encode(pem["PRIVATE KEY"]).decode()}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    info = connection_info(path)
    assert info.server == "https://127.0.0.1:6443"
    assert (info.ca_data, info.certificate_data, info.private_key_data) == \
        (pem["CERTIFICATE"], pem["CERTIFICATE"], pem["PRIVATE KEY"])
    assert info.certificate_path is None and info.token is None


# -- the story's snapshot -------------------------------------------------------------------------------------


def _foo(name: str, uid: str, **kw) -> dict:
    foo = new_foo(name, "demo", **kw)
    foo["metadata"]["uid"] = uid
    return foo


def test_the_snapshot_keeps_what_controllers_decide_and_checks_owners_by_uid():
    story_foo = _foo("story", "u-1", replicas=3)
    impostor = new_deployment(_foo("story", "u-2", replicas=3, deployment_name="other"))
    admin = FakeClientset(story_foo, new_deployment(story_foo), impostor)
    seen = story.snapshot(admin, "demo")
    assert seen["deployments"]["story-deployment"] == story.STEPS[1].expected["deployments"]["story-deployment"]
    assert seen["deployments"]["other"]["controller"]["name"] == "story (uid of no Foo here)"
    assert seen["foos"] == {"story": {}}


def test_a_step_that_remakes_a_deployment_waits_for_a_new_uid():
    step = story.STEPS[2]
    assert step.remade == "story-deployment"
    foo = _foo("story", "u-1", replicas=3)
    foo["status"] = {"availableReplicas": 3}
    deployment = new_deployment(foo)
    admin = FakeClientset(foo, deployment)
    before = story.uids(admin, "demo")
    assert story.reached(admin, "demo", step, before)[0] is False  # the same uid: not made again yet
    assert story.reached(admin, "demo", step, {"story-deployment": "an older uid"})[0] is True


def test_the_rename_leaves_the_old_deployment_controlled_by_the_foo():
    rename = next(s for s in story.STEPS if s.name == "rename")
    owners = {name: view["controller"]["name"] for name, view in rename.expected["deployments"].items()}
    assert owners == {"story-deployment": "story", "story-renamed": "story", "taken": "squatter"}
    assert story.STEPS[-1].expected == {"deployments": {}, "foos": {}}
