"""DeltaFIFO behaviour, ported from client-go v0.32 tools/cache/delta_fifo_test.go."""

from __future__ import annotations

import threading

import pytest

from k8slab.cache.delta_fifo import (
    Delta,
    DeletedFinalStateUnknown,
    DeltaFIFO,
    DeltaType,
    FIFOClosed,
    Requeue,
)
from k8slab.cache.store import new_store
from tests.unit._polling import eventually, stack_of

ADDED, UPDATED, DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
REPLACED, SYNC = DeltaType.REPLACED, DeltaType.SYNC


def obj(name: str, rv: int) -> dict:
    return {"metadata": {"name": name, "resourceVersion": str(rv)}}


def known(*objects: dict):
    """A consumer store holding `objects` (the DeltaFIFO's known objects)."""
    store = new_store()
    for o in objects:
        store.add(o)
    return store


def pop(f: DeltaFIFO, timeout: float = 2) -> list[Delta]:
    return f.pop(lambda deltas, initial: None, timeout=timeout)


def pop_with_initial(f: DeltaFIFO) -> tuple[list[Delta], bool]:
    seen = []
    deltas = f.pop(lambda d, initial: seen.append(initial), timeout=2)
    return deltas, seen[0]


def test_pop_returns_keys_in_fifo_order_with_all_their_deltas():
    f = DeltaFIFO()
    f.add(obj("a", 1))
    f.add(obj("b", 2))
    f.update(obj("a", 3))
    assert pop(f) == [Delta(ADDED, obj("a", 1)), Delta(UPDATED, obj("a", 3))]
    assert pop(f) == [Delta(ADDED, obj("b", 2))]
    assert len(f) == 0


def test_namespaced_and_cluster_scoped_keys():
    f = DeltaFIFO()
    f.add({"metadata": {"name": "x", "namespace": "ns"}})
    f.add({"metadata": {"name": "node-1"}})
    assert f.list_keys() == ["ns/x", "node-1"]


@pytest.mark.parametrize(
    "actions, expected",
    [
        pytest.param(
            [("delete", obj("a", 2)), ("delete", obj("a", 3))],
            [Delta(DELETED, obj("a", 2))],
            id="two consecutive deletes merge and the first one is kept",
        ),
        pytest.param(
            [("delete", DeletedFinalStateUnknown("a", obj("a", 1))), ("delete", obj("a", 3))],
            [Delta(DELETED, obj("a", 3))],
            id="a tombstone followed by a real delete keeps the real delete",
        ),
        pytest.param(
            [("delete", obj("a", 2)), ("add", obj("a", 3)), ("delete", obj("a", 4))],
            [Delta(DELETED, obj("a", 2)), Delta(ADDED, obj("a", 3)), Delta(DELETED, obj("a", 4))],
            id="deletes that are not consecutive are all kept",
        ),
        pytest.param(
            [("update", obj("a", 2)), ("update", obj("a", 2))],
            [Delta(UPDATED, obj("a", 2)), Delta(UPDATED, obj("a", 2))],
            id="identical updates are not deduplicated",
        ),
    ],
)
def test_only_two_consecutive_deletes_are_deduplicated(actions, expected):
    f = DeltaFIFO(known_objects=known(obj("a", 1)))
    for action, o in actions:
        getattr(f, action)(o)
    assert pop(f) == expected


@pytest.mark.parametrize(
    "known_objects, expect_queued",
    [
        pytest.param(None, False, id="without known objects an unqueued delete is ignored"),
        pytest.param(known(), False, id="a delete of a key the store does not know is ignored"),
        pytest.param(known(obj("a", 1)), True, id="a delete of a key the store knows is queued"),
    ],
)
def test_delete_of_unknown_unqueued_key(known_objects, expect_queued):
    f = DeltaFIFO(known_objects=known_objects)
    f.delete(obj("a", 2))
    assert (f.get_by_key("a") is not None) == expect_queued


def test_delete_of_a_queued_key_is_queued_even_if_unknown():
    f = DeltaFIFO(known_objects=known())
    f.add(obj("a", 1))
    f.delete(obj("a", 2))
    assert pop(f) == [Delta(ADDED, obj("a", 1)), Delta(DELETED, obj("a", 2))]


def test_replace_makes_tombstones_for_known_objects_missing_from_the_list():
    f = DeltaFIFO(known_objects=known(obj("foo", 5), obj("bar", 6), obj("baz", 7)))
    f.delete(obj("baz", 10))
    f.replace([obj("foo", 5)], "0")
    assert pop(f) == [Delta(DELETED, obj("baz", 10))]  # the real delete wins over the tombstone
    assert pop(f) == [Delta(REPLACED, obj("foo", 5))]
    assert pop(f) == [Delta(DELETED, DeletedFinalStateUnknown("bar", obj("bar", 6)))]


def test_replace_tombstone_carries_the_newest_queued_object():
    f = DeltaFIFO(known_objects=known(obj("foo", 5), obj("bar", 6)))
    f.delete(obj("bar", 6))
    f.add(obj("bar", 100))
    f.replace([obj("foo", 5)], "0")
    assert pop(f) == [
        Delta(DELETED, obj("bar", 6)),
        Delta(ADDED, obj("bar", 100)),
        Delta(DELETED, DeletedFinalStateUnknown("bar", obj("bar", 100))),
    ]


def test_replace_makes_deletions_for_objects_only_in_the_queue():
    f = DeltaFIFO()  # no known objects at all
    f.add(obj("baz", 10))
    f.replace([obj("foo", 5)], "0")
    tombstone = DeletedFinalStateUnknown("baz", obj("baz", 10))
    assert pop(f) == [Delta(ADDED, obj("baz", 10)), Delta(DELETED, tombstone)]
    assert pop(f) == [Delta(REPLACED, obj("foo", 5))]


def test_replace_after_a_queued_tombstone_unwraps_it():
    f = DeltaFIFO(known_objects=known(obj("bar", 6)))
    f.replace([], "1")
    f.replace([], "2")
    assert pop(f) == [Delta(DELETED, DeletedFinalStateUnknown("bar", obj("bar", 6)))]


@pytest.mark.parametrize(
    "emit_replaced, expected_type",
    [
        pytest.param(True, REPLACED, id="informers see Replaced for relisted objects"),
        pytest.param(False, SYNC, id="the old behaviour reports a relist as Sync"),
    ],
)
def test_replace_delta_type(emit_replaced, expected_type):
    f = DeltaFIFO(emit_delta_type_replaced=emit_replaced)
    f.replace([obj("a", 1)], "1")
    assert pop(f) == [Delta(expected_type, obj("a", 1))]


def test_resync_queues_sync_for_known_keys_without_pending_deltas():
    f = DeltaFIFO(known_objects=known(obj("foo", 5), obj("bar", 6)))
    f.update(obj("foo", 7))
    f.resync()
    assert pop(f) == [Delta(UPDATED, obj("foo", 7))]  # no stale Sync appended
    assert pop(f) == [Delta(SYNC, obj("bar", 6))]
    assert len(f) == 0


def test_update_then_resync_race_does_not_go_back_in_time():
    f = DeltaFIFO(known_objects=known(obj("foo", 5)))
    f.update(obj("foo", 6))
    f.resync()
    assert pop(f) == [Delta(UPDATED, obj("foo", 6))]


def test_resync_without_known_objects_does_nothing():
    f = DeltaFIFO()
    f.resync()
    assert len(f) == 0


def test_has_synced_after_deletions_in_the_initial_list():
    f = DeltaFIFO(known_objects=known(obj("foo", 5), obj("bar", 6), obj("baz", 7)))
    f.replace([obj("foo", 5)], "0")
    expected = [
        [Delta(REPLACED, obj("foo", 5))],
        [Delta(DELETED, DeletedFinalStateUnknown("bar", obj("bar", 6)))],
        [Delta(DELETED, DeletedFinalStateUnknown("baz", obj("baz", 7)))],
    ]
    for want in expected:
        assert not f.has_synced()
        deltas, initial = pop_with_initial(f)
        assert deltas == want
        assert initial is True
    assert f.has_synced()


def test_has_synced_only_counts_the_first_replace():
    f = DeltaFIFO()
    assert not f.has_synced()
    f.replace([obj("a", 1), obj("b", 2)], "2")
    f.replace([obj("c", 3)], "3")  # a relist before the first one drained
    pop(f)
    assert not f.has_synced()
    pop(f)
    assert f.has_synced()
    _, initial = pop_with_initial(f)
    assert initial is False


def test_an_add_before_any_replace_counts_as_synced():
    f = DeltaFIFO()
    f.add(obj("a", 1))
    assert f.has_synced()


def test_pop_blocks_until_an_add():
    f = DeltaFIFO()
    popped = []
    t = threading.Thread(target=lambda: popped.append(pop(f, timeout=10)), daemon=True)
    t.start()
    eventually(lambda: stack_of(t)[:3] == ["wait", "_wait_locked", "pop"])  # blocked on an empty queue
    assert not popped
    f.add(obj("a", 1))
    t.join(10)
    assert popped == [[Delta(ADDED, obj("a", 1))]]


def test_pop_unblocks_with_fifo_closed_when_closed():
    f = DeltaFIFO()
    errors_seen = []

    def popper():
        try:
            f.pop(lambda d, i: None, timeout=10)
        except FIFOClosed as err:
            errors_seen.append(err)

    t = threading.Thread(target=popper, daemon=True)
    t.start()
    eventually(lambda: stack_of(t)[:3] == ["wait", "_wait_locked", "pop"])
    f.close()
    t.join(10)
    assert not t.is_alive() and len(errors_seen) == 1
    assert f.is_closed()


def test_pop_drains_items_before_reporting_closed():
    f = DeltaFIFO()
    f.add(obj("a", 1))
    f.close()
    assert pop(f) == [Delta(ADDED, obj("a", 1))]
    with pytest.raises(FIFOClosed):
        pop(f)


def test_pop_runs_process_under_the_queue_lock():
    f = DeltaFIFO()
    f.add(obj("a", 1))
    blocked_add_finished = threading.Event()

    def process(deltas, initial):
        def add_b():
            f.add(obj("b", 2))
            blocked_add_finished.set()

        t = threading.Thread(target=add_b, daemon=True)
        t.start()
        # The add has begun, and cannot complete while process runs: the queue's lock is held.
        eventually(lambda: stack_of(t)[:2] == ["add", "add_b"])
        assert not blocked_add_finished.is_set()

    pop_result = f.pop(process, timeout=2)
    assert pop_result == [Delta(ADDED, obj("a", 1))]
    assert blocked_add_finished.wait(5)


def test_requeue_puts_the_item_back_and_raises_the_wrapped_error():
    f = DeltaFIFO()
    f.add(obj("a", 1))

    def process(deltas, initial):
        raise Requeue(ValueError("try later"))

    with pytest.raises(ValueError, match="try later"):
        f.pop(process, timeout=2)
    assert pop(f) == [Delta(ADDED, obj("a", 1))]


def test_requeue_does_not_clobber_a_newer_queued_item():
    f = DeltaFIFO()
    f.add(obj("a", 1))

    def process(deltas, initial):
        f._queue_action_locked(UPDATED, obj("a", 2))  # a change arrives meanwhile (lock is held)
        raise Requeue()

    f.pop(process, timeout=2)
    assert pop(f) == [Delta(UPDATED, obj("a", 2))]


def test_a_process_error_drops_the_item():
    f = DeltaFIFO()
    f.add(obj("a", 1))
    with pytest.raises(RuntimeError):
        f.pop(lambda d, i: (_ for _ in ()).throw(RuntimeError("boom")), timeout=2)
    assert len(f) == 0


def test_add_if_not_present():
    f = DeltaFIFO()
    f.add(obj("b", 3))
    f.add_if_not_present([Delta(ADDED, obj("a", 1))])
    f.add_if_not_present([Delta(ADDED, obj("b", 4))])  # already queued: ignored
    assert pop(f) == [Delta(ADDED, obj("b", 3))]
    assert pop(f) == [Delta(ADDED, obj("a", 1))]


def test_add_if_not_present_stores_a_single_delta_bare_and_never_the_caller_s_list():
    f = DeltaFIFO()
    mine = [Delta(ADDED, obj("a", 1))]
    f.add_if_not_present(mine)
    assert type(f._items["a"]) is Delta  # the class invariant
    f.update(obj("a", 2))
    assert mine == [Delta(ADDED, obj("a", 1))]
    assert pop(f) == [Delta(ADDED, obj("a", 1)), Delta(UPDATED, obj("a", 2))]


def test_transformer_runs_once_per_object_and_never_on_sync_or_tombstones():
    calls = []

    def transform(o):
        calls.append(o["metadata"]["name"])
        return {**o, "transformed": True}

    store = known(obj("kept", 1), obj("gone", 2))
    f = DeltaFIFO(known_objects=store, transformer=transform)
    f.add(obj("new", 3))
    f.replace([obj("kept", 1)], "3")  # "gone" becomes a tombstone
    pop(f)
    pop(f)
    tombstone = pop(f)[0].object
    f.resync()
    sync = pop(f)
    assert calls == ["new", "kept"]
    assert isinstance(tombstone, DeletedFinalStateUnknown) and "transformed" not in tombstone.obj
    assert sync[0].type is SYNC and "transformed" not in sync[0].object


def test_key_of_handles_tombstones_and_deltas():
    f = DeltaFIFO()
    assert f.key_of(DeletedFinalStateUnknown("ns/a", None)) == "ns/a"
    assert f.key_of([Delta(ADDED, {"metadata": {"name": "b", "namespace": "ns"}})]) == "ns/b"


def test_get_returns_a_copy_of_the_deltas_and_list_the_newest_objects():
    f = DeltaFIFO()
    f.add(obj("a", 1))
    f.update(obj("a", 2))
    copy = f.get(obj("a", 0))
    copy.clear()
    assert f.get_by_key("a") == [Delta(ADDED, obj("a", 1)), Delta(UPDATED, obj("a", 2))]
    assert f.list() == [obj("a", 2)]
    assert f.get_by_key("missing") is None
