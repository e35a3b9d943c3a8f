"""k8slab.testing: the one in-memory API server (ObjectTracker) and its fake dynamic client.

The faults a cache must survive are tested through FakeSource (test_cache_fake_source.py);
here: what every view relies on (optimistic concurrency, the status subresource,
namespaces, preloading, one tracker shared by several views) and the actions and reactors.
"""

from __future__ import annotations

import pytest

from k8slab import errors
from k8slab.cache.testing import FakeSource, config_map
from k8slab.meta import GroupVersionResource
from k8slab.testing import Action, FakeDynamicClient, ObjectTracker, fail_once

CONFIGMAPS = GroupVersionResource("", "v1", "configmaps")
FOOS = GroupVersionResource("samplecontroller.k8s.io", "v1alpha1", "foos")


def foo(name="a", namespace="demo", **extra):
    return {"apiVersion": "samplecontroller.k8s.io/v1alpha1", "kind": "Foo",
            "metadata": {"name": name, "namespace": namespace}, **extra}


# -- the tracker -----------------------------------------------------------------------------


def test_an_update_with_a_stale_resource_version_is_a_conflict():
    tracker = ObjectTracker()
    first = tracker.create(CONFIGMAPS, config_map("a"), "default")
    tracker.update(CONFIGMAPS, {**first, "data": {"k": "1"}}, "default")  # first's RV was current
    with pytest.raises(errors.Conflict) as caught:
        tracker.update(CONFIGMAPS, {**first, "data": {"k": "2"}}, "default")  # first's RV is stale now
    assert caught.value.reason == "Conflict" and 'configmaps "a"' in str(caught.value)
    unconditional = config_map("a", data={"k": "3"})  # no resourceVersion: no precondition
    assert tracker.update(CONFIGMAPS, unconditional, "default")["metadata"]["resourceVersion"] == "3"


def test_the_status_subresource_changes_only_the_status():
    tracker = ObjectTracker()
    stored = tracker.create(FOOS, foo(spec={"replicas": 1}), "demo")
    sent = {**stored, "spec": {"replicas": 9}, "status": {"availableReplicas": 1}}
    after = tracker.update(FOOS, sent, "demo", "status")
    assert after["spec"] == {"replicas": 1} and after["status"] == {"availableReplicas": 1}
    assert int(after["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])


def test_resource_versions_are_cluster_wide_and_watches_see_only_their_resource_and_namespace():
    tracker = ObjectTracker()
    demo = tracker.watch(FOOS, "demo", {"resource_version": "0"})
    everywhere = tracker.watch(FOOS, "", {"resource_version": "0"})
    tracker.create(CONFIGMAPS, config_map("cm"), "default")
    tracker.create(FOOS, foo("x", "other"), "other")
    tracker.create(FOOS, foo("y"), "demo")
    assert [e["object"]["metadata"]["name"] for e in demo.drain()] == ["y"]
    assert [(e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
            for e in everywhere.drain()] == [("x", "2"), ("y", "3")]
    assert [o["metadata"]["name"] for o in tracker.list(FOOS, "other")["items"]] == ["x"]


def test_a_preloaded_object_keeps_its_resource_version_and_uid_a_created_one_does_not():
    tracker = ObjectTracker()
    preloaded = tracker.add(foo(metadata={"name": "a", "namespace": "demo", "uid": "u-1", "resourceVersion": "7"}))
    assert (preloaded["metadata"]["uid"], preloaded["metadata"]["resourceVersion"]) == ("u-1", "7")
    assert tracker.get(FOOS, "demo", "a") == preloaded  # the resource was guessed from the kind
    created = tracker.create(FOOS, foo("b", metadata={"name": "b", "namespace": "demo", "uid": "mine"}), "demo")
    assert created["metadata"]["uid"] != "mine" and created["metadata"]["resourceVersion"] == "8"


def test_a_merge_patch_merges_and_none_deletes():
    tracker = ObjectTracker()
    tracker.create(CONFIGMAPS, config_map("a", data={"keep": "1", "drop": "2"}), "default")
    patched = tracker.patch(CONFIGMAPS, "default", "a", {"data": {"drop": None, "new": "3"}})
    assert patched["data"] == {"keep": "1", "new": "3"}
    with pytest.raises(errors.UsageError, match="merge patches"):
        tracker.patch(CONFIGMAPS, "default", "a", [{"op": "remove", "path": "/data"}])


@pytest.mark.parametrize(
    "call, error",
    [
        pytest.param(lambda t: t.get(FOOS, "demo", "missing"), errors.NotFound, id="get of a missing object"),
        pytest.param(lambda t: t.delete(FOOS, "demo", "missing"), errors.NotFound, id="delete of a missing object"),
        pytest.param(lambda t: t.create(FOOS, foo("a", "elsewhere"), "demo"), errors.BadRequest,
                     id="an object in another namespace than the request's"),
        pytest.param(lambda t: t.list(FOOS, "", {"resource_version": "soon"}), errors.BadRequest,
                     id="a resource version that is not a number"),
    ],
)
def test_bad_requests_get_the_api_servers_errors(call, error):
    with pytest.raises(error):
        call(ObjectTracker())


def test_views_sharing_one_tracker_see_each_others_writes():
    tracker = ObjectTracker()
    source = FakeSource("Foo", "samplecontroller.k8s.io/v1alpha1", resource="foos", tracker=tracker)
    watch = source.watch({"resource_version": "0"})
    FakeDynamicClient(tracker=tracker).resource(FOOS).namespace("demo").create(foo())
    [event] = watch.drain()
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "a")
    assert source.list_calls == []  # the client's calls are its own actions, not the source's
    watch.stop()


# -- actions and reactors ----------------------------------------------------------------------


def test_every_call_is_recorded_as_client_go_records_it():
    client = FakeDynamicClient(foo())
    foos = client.resource(FOOS).namespace("demo")
    got = foos.get("a")
    foos.update_status({**got, "status": {"availableReplicas": 1}})
    foos.patch("a", {"metadata": {"labels": {"x": "y"}}})
    foos.list(label_selector="x=y")
    foos.delete("a")
    assert client.actions == [
        Action("get", "foos", "demo", name="a"),
        Action("update", "foos", "demo", "status", {**got, "status": {"availableReplicas": 1}}),
        Action("patch", "foos", "demo", obj={"metadata": {"labels": {"x": "y"}}}, name="a"),
        Action("list", "foos", "demo", obj={"label_selector": "x=y"}),
        Action("delete", "foos", "demo", name="a"),
    ]
    client.clear_actions()
    assert client.actions == []


def test_reactors_answer_before_the_tracker_newest_prepended_first():
    client = FakeDynamicClient(foo())
    foos = client.resource(FOOS).namespace("demo")
    client.add_reactor("get", "*", lambda action: (True, {"answered by": "added"}))
    client.prepend_reactor("*", "foos", lambda action: (False, None))  # looks, lets it pass
    client.prepend_reactor("get", "configmaps", lambda action: (True, "never: another resource"))
    assert foos.get("a") == {"answered by": "added"}
    client.prepend_reactor("get", "foos", lambda action: (True, {"answered by": "prepended"}))
    assert foos.get("a") == {"answered by": "prepended"}
    assert foos.list()["items"][0]["metadata"]["name"] == "a"  # no reactor handles a list: the tracker


def test_fail_once_fails_one_call_and_the_next_reaches_the_tracker():
    client = FakeDynamicClient(foo())
    client.prepend_reactor("get", "foos", fail_once(errors.new_internal_error("injected")))
    foos = client.resource(FOOS).namespace("demo")
    with pytest.raises(errors.APIError) as caught:
        foos.get("a")
    assert caught.value.code == 500
    assert foos.get("a")["metadata"]["name"] == "a"
    assert [a.verb for a in client.actions] == ["get", "get"]  # the failed call is recorded too
