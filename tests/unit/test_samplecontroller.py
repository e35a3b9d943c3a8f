"""sample-controller's controller_test.go, in Python: listers preloaded, sync_handler
called directly, the recorded client actions compared with the expected ones.
"""

from __future__ import annotations

import threading
import time

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.cache import DeletedFinalStateUnknown, SharedIndexInformer, deep_copy
from k8slab.cache.testing import FakeSource
from k8slab.record import FakeRecorder
from k8slab.samplecontroller import (
    ERR_RESOURCE_EXISTS,
    MESSAGE_RESOURCE_SYNCED,
    SUCCESS_SYNCED,
    new_controller,
    new_deployment,
    new_foo,
)
from k8slab.samplecontroller.fake import Action, FakeClientset
from k8slab.testing import ObjectTracker

from ._polling import step_until


def _always_ready():
    return True


def _foo(name="test", replicas=1):
    foo = new_foo(name, "default", replicas=replicas)
    foo["metadata"]["uid"] = f"uid-{name}"
    foo["metadata"]["resourceVersion"] = "1"
    return foo


def _with_status(foo, available):
    foo = deep_copy(foo)
    foo["status"] = {"availableReplicas": available}
    return foo


class Fixture:
    """sample-controller's `fixture`: objects for the listers and the fake clients, expected actions."""

    def __init__(self):
        self.foo_lister: list[dict] = []
        self.deployment_lister: list[dict] = []
        self.objects: list[dict] = []  # preloaded into the sample clientset
        self.kubeobjects: list[dict] = []  # preloaded into the kube clientset
        self.actions: list[Action] = []
        self.kubeactions: list[Action] = []

    def new_controller(self):
        self.client = FakeClientset(*self.objects)
        self.kubeclient = FakeClientset(*self.kubeobjects)
        foo_informer = SharedIndexInformer(FakeSource("Foo", resource="foos"), "foos")
        deployment_informer = SharedIndexInformer(FakeSource("Deployment", resource="deployments"),
                                                  "deployments")
        self.recorder = FakeRecorder()
        c = new_controller(self.kubeclient, self.client, deployment_informer, foo_informer,
                           recorder=self.recorder)
        c.foos_synced = _always_ready
        c.deployments_synced = _always_ready
        for foo in self.foo_lister:
            foo_informer.get_indexer().add(foo)
        for d in self.deployment_lister:
            deployment_informer.get_indexer().add(d)
        return c

    def run(self, key, expect_error=False):
        c = self.new_controller()
        if expect_error:
            with pytest.raises(errors.K8sLabError):
                c.sync_handler(key)
        else:
            c.sync_handler(key)
        assert self.client.actions == self.actions
        assert self.kubeclient.actions == self.kubeactions
        return c

    def expect_create_deployment_action(self, d):
        self.kubeactions.append(Action("create", "deployments", d["metadata"]["namespace"], "", d))

    def expect_update_deployment_action(self, d):
        self.kubeactions.append(Action("update", "deployments", d["metadata"]["namespace"], "", d))

    def expect_update_foo_status_action(self, foo):
        self.actions.append(Action("update", "foos", foo["metadata"]["namespace"], "status", foo))


def test_creates_deployment():
    f = Fixture()
    foo = _foo(replicas=1)
    f.foo_lister.append(foo)
    f.objects.append(foo)
    f.expect_create_deployment_action(new_deployment(foo))
    f.expect_update_foo_status_action(_with_status(foo, 0))
    c = f.run("default/test")
    assert f.recorder.events == [f"Normal {SUCCESS_SYNCED} {MESSAGE_RESOURCE_SYNCED}"]
    assert c.recent_errors == type(c.recent_errors)()


def test_do_nothing():
    f = Fixture()
    foo = _foo(replicas=1)
    d = new_deployment(foo)
    f.foo_lister.append(foo)
    f.objects.append(foo)
    f.deployment_lister.append(d)
    f.kubeobjects.append(d)
    f.expect_update_foo_status_action(_with_status(foo, 0))
    f.run("default/test")


def test_update_deployment():
    f = Fixture()
    foo = _foo(replicas=1)
    d = new_deployment(foo)
    foo["spec"]["replicas"] = 2  # update replicas
    exp_deployment = new_deployment(foo)
    f.foo_lister.append(foo)
    f.objects.append(foo)
    f.deployment_lister.append(d)
    f.kubeobjects.append(d)
    f.expect_update_foo_status_action(_with_status(foo, 0))
    f.expect_update_deployment_action(exp_deployment)
    f.run("default/test")


def test_not_controlled_by_us():
    f = Fixture()
    foo = _foo(replicas=1)
    d = new_deployment(foo)
    d["metadata"]["ownerReferences"] = []
    f.foo_lister.append(foo)
    f.objects.append(foo)
    f.deployment_lister.append(d)
    f.kubeobjects.append(d)
    f.run("default/test", expect_error=True)
    assert f.recorder.events == [
        f'Warning {ERR_RESOURCE_EXISTS} Resource "test-deployment" already exists and is not managed by Foo'
    ]


def test_status_reports_the_deployments_available_replicas():
    f = Fixture()
    foo = _foo(replicas=3)
    d = new_deployment(foo)
    d["status"] = {"availableReplicas": 2}
    f.foo_lister.append(foo)
    f.objects.append(foo)
    f.deployment_lister.append(d)
    f.expect_update_foo_status_action(_with_status(foo, 2))
    f.run("default/test")


def test_status_is_written_from_a_copy_never_the_cached_foo():
    f = Fixture()
    foo = _foo()
    f.foo_lister.append(foo)
    f.objects.append(foo)
    c = f.new_controller()
    c.sync_handler("default/test")
    cached = c.foos_lister.namespace("default").get("test")
    assert "status" not in cached


def test_a_deleted_foo_is_forgotten_without_error():
    f = Fixture()
    c = f.run("default/gone")
    assert "no longer exists" in c.recent_errors[-1]


def test_a_foo_without_deployment_name_is_absorbed_without_requeue():
    f = Fixture()
    foo = new_foo("nameless", "default", deployment_name="")
    f.foo_lister.append(foo)
    c = f.run("default/nameless")
    assert "deployment name must be specified" in c.recent_errors[-1]


def test_replicas_unset_leaves_the_deployment_alone():
    f = Fixture()
    foo = new_foo("free", "default", replicas=None)
    d = new_deployment(_foo("free", replicas=4))
    d["metadata"]["ownerReferences"] = new_deployment(foo)["metadata"]["ownerReferences"]
    f.foo_lister.append(foo)
    f.objects.append(foo)
    f.deployment_lister.append(d)
    f.expect_update_foo_status_action(_with_status(foo, 0))
    f.run("default/free")


# -- the pure part -------------------------------------------------------------------------


def test_new_deployment_is_pure_and_owned_by_its_foo():
    foo = _foo("web", replicas=3)
    before = deep_copy(foo)
    d = new_deployment(foo)
    assert foo == before
    assert d == new_deployment(foo)
    assert d["metadata"]["name"] == "web-deployment"
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["selector"]["matchLabels"] == {"app": "nginx", "controller": "web"}
    assert d["metadata"]["ownerReferences"] == [{
        "apiVersion": "samplecontroller.k8s.io/v1alpha1", "kind": "Foo", "name": "web",
        "uid": "uid-web", "controller": True, "blockOwnerDeletion": True,
    }]


# -- handlers ----------------------------------------------------------------------------------


def _handler_fixture():
    f = Fixture()
    foo = _foo("owner")
    f.foo_lister.append(foo)
    return f, foo


@pytest.mark.parametrize(
    "make, queued",
    [
        pytest.param(lambda foo: new_deployment(foo), ["default/owner"], id="owned deployment queues its foo"),
        pytest.param(lambda foo: DeletedFinalStateUnknown("default/owner-deployment", new_deployment(foo)),
                     ["default/owner"], id="tombstone is unwrapped"),
        pytest.param(lambda foo: {**new_deployment(foo), "metadata": {"name": "x", "namespace": "default"}},
                     [], id="deployment without owner is skipped"),
        pytest.param(lambda foo: {**new_deployment(foo), "metadata": {
            "name": "x", "namespace": "default",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "owner", "controller": True, "uid": "u"}]}},
            [], id="deployment owned by another kind is skipped"),
        pytest.param(lambda foo: new_deployment(_foo("orphan")), [], id="orphan of a missing foo is skipped"),
        pytest.param(lambda foo: "not an object", [], id="garbage is reported and skipped"),
    ],
)
def test_handle_object(make, queued):
    f, foo = _handler_fixture()
    c = f.new_controller()
    c.handle_object(make(foo))
    got = []
    while c.workqueue.len():
        key, _ = c.workqueue.get()
        got.append(key)
        c.workqueue.done(key)
    assert got == queued


class _CountingResyncs:
    """An informer whose handlers count the resyncs (updates with an unchanged RV) they have handled."""

    def __init__(self, informer):
        self.informer, self.resyncs = informer, 0

    def __getattr__(self, name):
        return getattr(self.informer, name)

    def add_event_handler(self, handler, *args):
        outer = self

        class Counting:
            on_add, on_delete = handler.on_add, handler.on_delete

            def on_update(self, old, new):
                handler.on_update(old, new)
                if old["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"]:
                    outer.resyncs += 1

        return self.informer.add_event_handler(Counting(), *args)


def test_deployment_resync_updates_are_ignored():
    """A resync replays every Deployment as an update with an unchanged RV: no enqueue."""
    foo = _foo("owner")
    source = FakeSource("Deployment", "apps/v1", resource="deployments")
    source.add(new_deployment(foo))
    clock = FakeClock()
    informer = SharedIndexInformer(source, "deployments", 1.0, clock=clock)  # resync every second
    deployment_informer = _CountingResyncs(informer)
    foo_informer = SharedIndexInformer(FakeSource("Foo", resource="foos"), "foos")
    foo_informer.get_indexer().add(foo)
    c = new_controller(FakeClientset(), FakeClientset(), deployment_informer, foo_informer,
                       recorder=FakeRecorder())
    stop = threading.Event()
    runner = threading.Thread(target=informer.run, args=(stop,))
    runner.start()
    try:
        key, _ = c.workqueue.get()  # the initial add
        c.workqueue.done(key)
        assert key == "default/owner"
        step_until(clock, lambda: deployment_informer.resyncs >= 2)  # two resyncs, handled
        assert c.workqueue.len() == 0
        changed = deep_copy(source.objects()[0])
        changed["spec"]["replicas"] = 3
        source.modify(changed)  # a real change: new RV
        key, _ = c.workqueue.get()
        assert key == "default/owner"
    finally:
        stop.set()
        runner.join(5)
        c.workqueue.shut_down()


# -- the worker ------------------------------------------------------------------------------


def test_a_failed_sync_is_requeued_with_rate_limiting_and_success_forgets():
    f = Fixture()
    foo = _foo()
    f.foo_lister.append(foo)
    f.objects.append(foo)
    c = f.new_controller()
    calls = []

    def flaky_create(action):
        calls.append(action)
        if len(calls) == 1:
            raise errors.ServerUnreachable("connection refused")
        return False, None

    f.kubeclient.prepend_reactor("create", "deployments", flaky_create)
    c.enqueue_foo(foo)
    assert c.process_next_work_item()
    assert c.workqueue.num_requeues("default/test") == 1
    assert c.sync_errors == 1 and "connection refused" in c.recent_errors[-1]
    deadline = time.monotonic() + 2
    while c.workqueue.len() == 0 and time.monotonic() < deadline:  # back after ~5 ms
        time.sleep(0.005)
    assert c.process_next_work_item()
    assert c.workqueue.num_requeues("default/test") == 0
    assert c.syncs == 1
    c.workqueue.shut_down()


def test_rate_limiter_is_sample_controllers():
    c = Fixture().new_controller()
    limiter = c.workqueue.rate_limiter
    assert [limiter.when("k") for _ in range(3)] == [0.005, 0.01, 0.02]
    exp, bucket = limiter.limiters
    assert (exp.base_delay, exp.max_delay) == (0.005, 1000.0)
    assert (bucket.qps, bucket.burst) == (50.0, 300)
    c.workqueue.shut_down()


def test_run_waits_for_sync_then_stops_workers_and_queue():
    f = Fixture()
    foo = _foo()
    f.foo_lister.append(foo)
    f.objects.append(foo)
    c = f.new_controller()
    stop = threading.Event()
    runner = threading.Thread(target=c.run, args=(2, stop))
    runner.start()
    c.enqueue_foo(foo)
    deadline = time.monotonic() + 5
    while c.syncs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert c.syncs == 1
    stop.set()
    runner.join(5)
    assert not runner.is_alive()
    assert c.workqueue.shutting_down()
    assert not [t for t in threading.enumerate() if t.name.startswith("k8slab-foo-worker")]


def test_run_refuses_to_start_when_stopped_before_caches_sync():
    c = Fixture().new_controller()
    c.foos_synced = lambda: False
    stop = threading.Event()
    stop.set()
    with pytest.raises(errors.K8sLabError, match="caches to sync"):
        c.run(1, stop)


# -- the whole loop, informers over fake sources ---------------------------------------------


def test_converges_through_informers_over_fake_sources():
    """Informers on FakeSources and fake clients, all views of one in-memory API server."""
    tracker = ObjectTracker()
    foos = FakeSource("Foo", "samplecontroller.k8s.io/v1alpha1", resource="foos", tracker=tracker)
    deployments = FakeSource("Deployment", "apps/v1", resource="deployments", tracker=tracker)
    kubeclient, client = FakeClientset(tracker=tracker), FakeClientset(tracker=tracker)

    foo_informer = SharedIndexInformer(foos, "foos")
    deployment_informer = SharedIndexInformer(deployments, "deployments")
    recorder = FakeRecorder()
    c = new_controller(kubeclient, client, deployment_informer, foo_informer, recorder=recorder)
    stop = threading.Event()
    threads = [threading.Thread(target=i.run, args=(stop,)) for i in (foo_informer, deployment_informer)]
    threads.append(threading.Thread(target=c.run, args=(2, stop)))
    for t in threads:
        t.start()
    try:
        foos.add(_foo("a", replicas=2))
        deadline = time.monotonic() + 5
        while not deployments.objects() and time.monotonic() < deadline:
            time.sleep(0.01)
        [d] = deployments.objects()
        assert d["spec"]["replicas"] == 2
        # Someone scales the Deployment by hand: the handler maps it back to its Foo,
        # and the Foo's replicas win.
        scaled = deep_copy(d)
        scaled["spec"]["replicas"] = 5
        deployments.modify(scaled)
        while time.monotonic() < deadline and deployments.objects()[0]["spec"]["replicas"] != 2:
            time.sleep(0.01)
        assert deployments.objects()[0]["spec"]["replicas"] == 2
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert f"Normal {SUCCESS_SYNCED} {MESSAGE_RESOURCE_SYNCED}" in recorder.events
