"""RealFIFO (client-go 1.33+ InOrderInformers) against DeltaFIFO, and an in-order informer.

No lab needed: FakeSource plays the API server.
"""

from __future__ import annotations

import threading

import pytest

from k8slab import errors
from k8slab.cache import (
    DeletedFinalStateUnknown,
    DeltaFIFO,
    DeltaType,
    SharedIndexInformer,
    new_store,
    wait_for_cache_sync,
)
from k8slab.cache.real_fifo import RealFIFO
from k8slab.cache.testing import FakeSource
from k8slab.cache.testing.fake_source import config_map
from tests.unit._polling import eventually


def cm(name: str, v: str = "0") -> dict:
    return config_map(name, data={"v": v})


def pop_all(queue) -> list[tuple[str, str]]:
    """(type, name) of every delta, popping until the queue is empty."""
    seen = []
    while len(queue):
        for kind, obj in queue.pop(lambda deltas, initial: None):
            name = obj.key.split("/")[-1] if isinstance(obj, DeletedFinalStateUnknown) else obj["metadata"]["name"]
            seen.append((str(kind), name))
    return seen


def test_real_fifo_needs_the_consumer_s_store():
    with pytest.raises(errors.UsageError, match="known_objects"):
        RealFIFO()


def test_real_fifo_keeps_arrival_order_where_delta_fifo_groups_by_key():
    real, grouped = RealFIFO(known_objects=new_store()), DeltaFIFO(known_objects=new_store())
    for q in (real, grouped):
        q.add(cm("a"))
        q.add(cm("b"))
        q.update(cm("a", "1"))
    assert pop_all(real) == [("Added", "a"), ("Added", "b"), ("Updated", "a")]
    assert pop_all(grouped) == [("Added", "a"), ("Updated", "a"), ("Added", "b")]


def test_real_fifo_queues_a_delete_even_for_a_key_nobody_knows():
    real, grouped = RealFIFO(known_objects=new_store()), DeltaFIFO(known_objects=new_store())
    for q in (real, grouped):
        q.delete(cm("ghost"))
    assert pop_all(real) == [("Deleted", "ghost")]
    assert pop_all(grouped) == []


def test_replace_queues_tombstones_first_then_replaced_and_syncs_after_popping_them():
    known = new_store()
    known.add(cm("gone"))
    known.add(cm("kept"))
    q = RealFIFO(known_objects=known)
    q.replace([cm("kept", "1"), cm("new")], "10")
    assert not q.has_synced()
    kinds = [(d.type, d.object.key if isinstance(d.object, DeletedFinalStateUnknown) else d.object["metadata"]["name"])
             for d in q.deltas()]
    assert kinds == [
        (DeltaType.DELETED, "default/gone"),
        (DeltaType.REPLACED, "kept"),
        (DeltaType.REPLACED, "new"),
    ]
    pop_all(q)
    assert q.has_synced()


def test_replace_adds_no_tombstone_for_a_queued_key_whose_last_delta_is_a_deletion():
    q = RealFIFO(known_objects=new_store())
    q.add(cm("a"))
    q.delete(cm("a"))
    q.add(cm("b"))
    q.replace([], "5")
    assert pop_all(q) == [("Added", "a"), ("Deleted", "a"), ("Added", "b"), ("Deleted", "b")]


def test_resync_skips_keys_with_something_queued():
    known = new_store()
    known.add(cm("quiet"))
    known.add(cm("busy"))
    q = RealFIFO(known_objects=known)
    q.update(cm("busy", "2"))
    q.resync()
    assert pop_all(q) == [("Updated", "busy"), ("Sync", "quiet")]


@pytest.mark.parametrize("in_order", [True, False], ids=["RealFIFO", "DeltaFIFO"])
def test_an_informer_delivers_the_source_s_events_in_order_per_object_or_overall(in_order):
    source = FakeSource()
    source.add(cm("a"))
    informer = SharedIndexInformer(source, "configmaps", in_order=in_order)
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    class Handler:
        def on_add(self, obj, initial):
            with lock:
                seen.append(("add", obj["metadata"]["name"]))

        def on_update(self, old, new):
            with lock:
                seen.append(("update", new["metadata"]["name"]))

        def on_delete(self, obj):
            with lock:
                seen.append(("delete", obj["metadata"]["name"]))

    informer.add_event_handler(Handler())
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_for_cache_sync(stop, informer.has_synced, timeout=10)
        source.add(cm("b"))
        source.modify(cm("a", "1"))
        source.delete("default/b")
        eventually(lambda: len(seen) >= 4)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    if in_order:  # the server's order, exactly
        assert seen == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
    else:  # per object in order; across objects, as the keys were queued
        assert sorted(seen) == sorted([("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")])
        assert seen.index(("add", "b")) < seen.index(("delete", "b"))
        assert seen.index(("add", "a")) < seen.index(("update", "a"))
    assert [o["metadata"]["name"] for o in informer.get_store().list()] == ["a"]
