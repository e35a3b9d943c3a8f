"""ListWatch: the ListerWatcher protocol over HTTP, against a mock transport and the lab."""

from __future__ import annotations

import json
import threading
import time

import pytest

from k8slab import errors
from k8slab.chain import RESTClient, RestConfig
from k8slab.chain.listwatch import ListWatch, lister_watcher_for, parse_resource_key
from k8slab.chain.testing import mock_api_client
from k8slab.watch import status_error
from tests.unit._polling import eventually, stack_of


def config_map(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"k": "v"}}


# -- without a server -----------------------------------------------------------------------


def mock_list_watch(handler, **kwargs) -> tuple[ListWatch, list]:
    client = mock_api_client(handler)
    lw = ListWatch(RESTClient(client), "configmaps", **kwargs)
    return lw, client.rest_client.requests


def test_options_become_list_options_query_parameters():
    lw, requests = mock_list_watch(
        lambda req: (200, {"metadata": {"resourceVersion": "7"}, "items": []}),
        namespace="demo",
        label_selector="app=web",
    )
    lw.list({"resource_version": "0", "limit": 500, "continue_": "tok", "label_selector": "tier"})
    req = requests[0]
    assert req.path == "/api/v1/namespaces/demo/configmaps"
    assert req.query == {
        "resourceVersion": "0",
        "limit": "500",
        "continue": "tok",
        "labelSelector": "app=web,tier",
    }


def test_unset_options_are_not_sent():
    lw, requests = mock_list_watch(lambda req: (200, {"items": []}))
    lw.list({"resource_version": "", "limit": 0})
    assert requests[0].path == "/api/v1/configmaps" and requests[0].query == {}


def test_an_unknown_option_is_a_usage_error():
    lw, _ = mock_list_watch(lambda req: (200, {"items": []}))
    with pytest.raises(errors.UsageError, match="resourceVersion"):
        lw.list({"resourceVersion": "0"})


@pytest.mark.parametrize(
    "code, reason, expected",
    [
        pytest.param(410, "Expired", errors.Gone, id="410 is Gone"),
        pytest.param(429, "TooManyRequests", errors.TooManyRequests, id="429 is TooManyRequests"),
        pytest.param(403, "Forbidden", errors.Forbidden, id="403 is Forbidden"),
    ],
)
def test_failure_statuses_raise_their_api_error(code, reason, expected):
    status = {"kind": "Status", "code": code, "reason": reason, "message": "no"}
    lw, _ = mock_list_watch(lambda req: (code, status))
    with pytest.raises(expected):
        lw.list({})
    with pytest.raises(expected):
        lw.watch({"resource_version": "5"})


def test_no_answer_is_server_unreachable():
    lw = ListWatch.for_resource(RestConfig(host="https://127.0.0.1:1"), "configmaps")
    start = time.monotonic()
    with pytest.raises(errors.ServerUnreachable):
        lw.list({})
    with pytest.raises(errors.ServerUnreachable):
        lw.watch({})
    assert time.monotonic() - start < 10


def test_watch_yields_events_as_dicts_and_passes_error_events_on():
    gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
    lines = [
        {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "2"}}},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "3"}}},
        {"type": "ERROR", "object": gone},
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines) + b"not json\n"
    lw, requests = mock_list_watch(lambda req: (200, body))
    events = list(lw.watch({"resource_version": "1", "allow_watch_bookmarks": True}))
    assert requests[0].query == {"resourceVersion": "1", "allowWatchBookmarks": "true", "watch": "true"}
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "ERROR", "ERROR"]
    assert events[0] == lines[0]
    assert isinstance(status_error(events[2]), errors.Gone)
    assert events[3]["object"]["code"] == 500  # an undecodable line, as client-go reports it


def test_a_watch_iterated_again_resumes_where_the_last_loop_left_off():
    lines = [{"type": "ADDED", "object": {"metadata": {"name": n}}} for n in "abc"]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    lw, _ = mock_list_watch(lambda req: (200, body))
    w = lw.watch({})
    for event in w:
        break
    assert event["object"]["metadata"]["name"] == "a"
    assert [e["object"]["metadata"]["name"] for e in w] == ["b", "c"]
    assert list(w) == []


@pytest.mark.parametrize(
    "key, expected",
    [
        pytest.param("configmaps", ("", "v1", "configmaps"), id="core resource"),
        pytest.param("deployments.apps", ("apps", "", "deployments"), id="group, version discovered"),
        pytest.param("leases.coordination.k8s.io", ("coordination.k8s.io", "", "leases"), id="dotted group"),
        pytest.param(
            "foos.v1alpha1.samplecontroller.k8s.io",
            ("samplecontroller.k8s.io", "v1alpha1", "foos"),
            id="resource, version and group",
        ),
        pytest.param("jobs.v1.batch", ("batch", "v1", "jobs"), id="explicit v1"),
    ],
)
def test_parse_resource_key(key, expected):
    assert parse_resource_key(key) == expected


# -- against the lab ------------------------------------------------------------------------


@pytest.fixture
def core(api_client):
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.mark.lab
def test_list_pages_with_continue_tokens(lab, namespace, core):
    for i in range(7):
        core.create_namespaced_config_map(namespace, config_map(f"cm-{i}", {"n": str(i % 2)}))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace, label_selector="n")
    first = lw.list({"limit": 3})
    assert len(first["items"]) == 3 and first["metadata"]["continue"]
    names = [o["metadata"]["name"] for o in first["items"]]
    page = first
    while page["metadata"].get("continue"):
        page = lw.list({"limit": 3, "continue_": page["metadata"]["continue"]})
        names += [o["metadata"]["name"] for o in page["items"]]
    assert sorted(names) == [f"cm-{i}" for i in range(7)]  # kube-root-ca.crt has no label "n"
    odd = lw.list({"label_selector": "n=1"})
    assert sorted(o["metadata"]["name"] for o in odd["items"]) == ["cm-1", "cm-3", "cm-5"]


@pytest.mark.lab
def test_watch_reports_changes_in_order_from_the_list_resource_version(lab, namespace, core):
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    rv = lw.list({})["metadata"]["resourceVersion"]
    core.create_namespaced_config_map(namespace, config_map("a"))
    core.patch_namespaced_config_map("a", namespace, {"data": {"k": "w"}})
    core.delete_namespaced_config_map("a", namespace)
    seen = []
    with lw.watch({"resource_version": rv, "timeout_seconds": 10}) as w:
        for event in w:
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                break
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert w.stopped


@pytest.mark.lab
def test_stop_from_another_thread_ends_a_blocked_read_promptly(lab, namespace):
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    rv = lw.list({})["metadata"]["resourceVersion"]
    w = lw.watch({"resource_version": rv, "timeout_seconds": 60})
    events, ended = [], threading.Event()

    def read() -> None:
        events.extend(w)
        ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    eventually(lambda: "_read_chunk" in stack_of(reader))  # blocked reading the socket: no event comes
    assert not ended.is_set()
    start = time.monotonic()
    w.stop()
    assert ended.wait(10), "stop() did not end the blocked read"
    assert time.monotonic() - start < 10  # not the watch's 60 s timeout
    reader.join(1)
    w.stop()  # twice is fine
    assert events == []


@pytest.mark.lab
def test_bookmarks_carry_the_resource_version_of_changes_the_watch_filters_out(lab, namespace, core):
    # The watch sees only name=nothing; the churn moves the resource version of configmaps, and
    # the API server tells the watcher so with a bookmark 2 s before the watch's timeout, provided
    # its cache moved past the watch's starting resourceVersion by then: the churn starts once the
    # watch is open (the server has registered it when the response begins) and lasts until it ends.
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace, field_selector="metadata.name=nothing")
    rv = lw.list({})["metadata"]["resourceVersion"]
    created: list[str] = []
    watch_over = threading.Event()

    def churn() -> None:
        i = 0
        while not watch_over.is_set():
            cm = core.create_namespaced_config_map(namespace, config_map(f"churn-{i}"))
            created.append(cm.metadata.resource_version)
            i += 1
            watch_over.wait(0.3)  # the churn's pace

    start = time.monotonic()
    w = lw.watch({"resource_version": rv, "timeout_seconds": 8, "allow_watch_bookmarks": True})
    churner = threading.Thread(target=churn, daemon=True)
    churner.start()
    try:
        events = list(w)
    finally:
        watch_over.set()
        churner.join(30)
    assert 7 <= time.monotonic() - start < 20  # the server ended the watch at its timeout
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) > int(rv)
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) >= int(created[0])


@pytest.mark.lab
def test_streaming_list_sends_initial_events_then_the_end_bookmark(lab, namespace, core):
    for name in ("a", "b"):
        core.create_namespaced_config_map(namespace, config_map(name, {"streamed": "yes"}))
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace, label_selector="streamed")
    options = {
        "send_initial_events": True,
        "resource_version_match": "NotOlderThan",
        "allow_watch_bookmarks": True,
        "timeout_seconds": 30,
    }
    seen = []
    with lw.watch(options) as w:
        for event in w:
            meta = event["object"]["metadata"]
            if event["type"] == "BOOKMARK":
                if (meta.get("annotations") or {}).get("k8s.io/initial-events-end") == "true":
                    break
                continue
            seen.append((event["type"], meta["name"]))
    assert sorted(seen) == [("ADDED", "a"), ("ADDED", "b")]


@pytest.mark.lab
def test_lister_watcher_for_discovers_the_preferred_version(lab, namespace):
    new = lister_watcher_for(lab, namespace=namespace)
    lw = new("deployments.apps")
    assert (lw.rest_client.group, lw.rest_client.version, lw.resource) == ("apps", "v1", "deployments")
    assert lw.list({})["items"] == []
    with pytest.raises(errors.UsageError, match="no API group"):
        new("widgets.nosuchgroup.example.com")


@pytest.mark.lab
@pytest.mark.disruptive
def test_a_watch_from_a_compacted_resource_version_gets_a_410_error_event(lab, namespace, core):
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)
    old_rv = lw.list({})["metadata"]["resourceVersion"]
    for i in range(3):
        core.create_namespaced_config_map(namespace, config_map(f"c-{i}"))
    lab.compact()  # compacts etcd and restarts kube-apiserver (a fresh watch cache)
    lw = ListWatch.for_resource(lab, "configmaps", namespace=namespace)  # new connections
    with lw.watch({"resource_version": old_rv, "timeout_seconds": 10}) as w:
        first = next(iter(w))
    assert first["type"] == "ERROR"
    err = status_error(first)
    assert isinstance(err, errors.Gone) and err.reason == "Expired"

