"""FakeSource: the in-memory list/watch source (client-go's FakeControllerSource, grown)."""

from __future__ import annotations

import threading

import pytest

from k8slab import errors
from k8slab.cache.testing import FakeSource, config_map


def events(w) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of the events waiting on a watch."""
    summary = []
    for e in w.drain():
        metadata = e["object"]["metadata"]
        summary.append((e["type"], metadata.get("name", ""), metadata["resourceVersion"]))
    return summary


def test_changes_take_increasing_resource_versions_and_keep_the_uid():
    source = FakeSource()
    a = source.add(config_map("a"))
    b = source.add(config_map("b"))
    a2 = source.modify(config_map("a", data={"k": "v"}))
    assert [o["metadata"]["resourceVersion"] for o in (a, b, a2)] == ["1", "2", "3"]
    assert a2["metadata"]["uid"] == a["metadata"]["uid"] != b["metadata"]["uid"]
    assert source.resource_version == "3"


def test_delete_and_recreate_gets_a_new_uid():
    source = FakeSource()
    first = source.add(config_map("a"))
    source.delete("default/a")
    again = source.add(config_map("a"))
    assert again["metadata"]["uid"] != first["metadata"]["uid"]


@pytest.mark.parametrize(
    "action, error",
    [
        pytest.param(
            lambda s: s.add(config_map("a")), errors.AlreadyExists, id="adding an existing object"
        ),
        pytest.param(
            lambda s: s.modify(config_map("zz")), errors.NotFound, id="modifying a missing object"
        ),
        pytest.param(
            lambda s: s.delete(config_map("zz")), errors.NotFound, id="deleting a missing object"
        ),
    ],
)
def test_invalid_changes_raise_api_errors(action, error):
    source = FakeSource()
    source.add(config_map("a"))
    with pytest.raises(error):
        action(source)


def test_stored_objects_are_not_the_callers():
    source = FakeSource()
    mine = config_map("a")
    source.add(mine)
    mine["data"]["sneaky"] = "1"
    listed = source.list({})["items"][0]
    listed["data"]["also"] = "2"
    assert source.objects()[0]["data"] == {}


def test_list_returns_everything_at_the_current_version():
    source = FakeSource()
    for name in "cab":
        source.add(config_map(name))
    result = source.list({"resource_version": "0"})
    assert result["kind"] == "ConfigMapList"
    assert result["metadata"] == {"resourceVersion": "3"}
    assert [o["metadata"]["name"] for o in result["items"]] == ["a", "b", "c"]
    assert source.list_calls == [{"resource_version": "0"}]


def test_list_pages_with_limit_and_continue_over_a_snapshot():
    source = FakeSource()
    for i in range(5):
        source.add(config_map(f"cm{i}"))
    first = source.list({"resource_version": "0", "limit": 2})
    source.add(config_map("late"))  # not in the snapshot the pages come from
    second = source.list({"limit": 2, "continue_": first["metadata"]["continue"]})
    third = source.list({"limit": 2, "continue_": second["metadata"]["continue"]})
    pages = [[o["metadata"]["name"] for o in p["items"]] for p in (first, second, third)]
    assert pages == [["cm0", "cm1"], ["cm2", "cm3"], ["cm4"]]
    assert "continue" not in third["metadata"]
    assert {p["metadata"]["resourceVersion"] for p in (first, second, third)} == {"5"}


def test_an_expired_continue_token_is_gone():
    source = FakeSource()
    for i in range(3):
        source.add(config_map(f"cm{i}"))
    first = source.list({"limit": 1})
    source.add(config_map("x"))
    source.compact()
    with pytest.raises(errors.Gone):
        source.list({"limit": 1, "continue_": first["metadata"]["continue"]})


def test_list_at_a_compacted_version_is_gone_but_rv_zero_and_empty_are_served():
    source = FakeSource()
    source.add(config_map("a"))
    source.add(config_map("b"))
    source.compact()
    with pytest.raises(errors.Gone) as caught:
        source.list({"resource_version": "1"})
    assert caught.value.code == 410 and caught.value.reason == "Expired"
    assert len(source.list({"resource_version": "0"})["items"]) == 2
    assert len(source.list({"resource_version": ""})["items"]) == 2
    assert len(source.list({"resource_version": "2"})["items"]) == 2


def test_watch_from_a_version_replays_later_changes_then_streams():
    source = FakeSource()
    source.add(config_map("a"))
    source.add(config_map("b"))
    source.modify(config_map("a"))
    w = source.watch({"resource_version": "1"})
    assert events(w) == [("ADDED", "b", "2"), ("MODIFIED", "a", "3")]
    source.delete("default/b")
    assert events(w) == [("DELETED", "b", "4")]
    w.stop()


def test_watch_from_zero_starts_with_the_current_state():
    source = FakeSource()
    source.add(config_map("a"))
    source.modify(config_map("a"))
    w = source.watch({"resource_version": "0"})
    assert events(w) == [("ADDED", "a", "2")]


def test_watch_from_a_compacted_version_gets_a_410_error_event():
    source = FakeSource()
    source.add(config_map("a"))
    source.add(config_map("b"))
    source.expire_before(2)
    w = source.watch({"resource_version": "1"})
    (event,) = w.drain()
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    assert w.ended
    ok = source.watch({"resource_version": "2"})
    assert not ok.ended and ok.drain() == []


def test_iterating_a_watch_blocks_until_an_event_or_stop():
    source = FakeSource()
    w = source.watch({"resource_version": "0"})
    seen = []
    t = threading.Thread(target=lambda: seen.extend(e["type"] for e in w), daemon=True)
    t.start()
    source.add(config_map("a"))
    source.reset_watches()  # the server closes: the iterator ends after the sent events
    t.join(5)
    assert not t.is_alive()
    assert seen == ["ADDED"]


def test_stop_ends_a_blocked_iteration():
    source = FakeSource()
    w = source.watch({"resource_version": "0"})
    t = threading.Thread(target=lambda: list(w), daemon=True)
    t.start()
    t.join(0.1)
    w.stop()
    w.stop()  # twice is fine
    t.join(5)
    assert not t.is_alive()


def test_drop_next_event_loses_it_on_open_watches_only():
    source = FakeSource()
    w = source.watch({"resource_version": "0"})
    source.drop_next_event()
    source.add(config_map("lost"))
    source.add(config_map("seen"))
    assert events(w) == [("ADDED", "seen", "2")]
    assert [o["metadata"]["name"] for o in source.objects()] == ["lost", "seen"]


def test_bookmarks_go_only_to_watches_that_asked():
    source = FakeSource()
    source.add(config_map("a"))
    with_bookmarks = source.watch({"resource_version": "1", "allow_watch_bookmarks": True})
    without = source.watch({"resource_version": "1"})
    assert source.send_bookmark() == "1"
    (bookmark,) = with_bookmarks.drain()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"] == {"resourceVersion": "1"}
    assert without.drain() == []


def test_send_initial_events_ends_with_the_annotated_bookmark():
    source = FakeSource()
    source.add(config_map("a"))
    source.add(config_map("b"))
    w = source.watch(
        {
            "send_initial_events": True,
            "resource_version_match": "NotOlderThan",
            "allow_watch_bookmarks": True,
        }
    )
    got = w.drain()
    assert [e["type"] for e in got] == ["ADDED", "ADDED", "BOOKMARK"]
    assert got[-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert got[-1]["object"]["metadata"]["resourceVersion"] == "2"


def test_injected_failures_happen_once_each():
    source = FakeSource()
    source.fail_next_list()
    source.fail_next_watch(errors.TooManyRequests("slow down", code=429))
    with pytest.raises(errors.ServerUnreachable):
        source.list({})
    with pytest.raises(errors.TooManyRequests):
        source.watch({})
    assert source.list({})["items"] == []
    source.watch({}).stop()


def test_expire_watches_sends_410_and_ends_them():
    source = FakeSource()
    w = source.watch({"resource_version": "0"})
    source.expire_watches()
    assert [e["type"] for e in w.drain()] == ["ERROR"]
    assert w.ended
