"""client-go v0.37.2's own FIFO scenarios, ported: delta_fifo_test.go and the_real_fifo_test.go.

Each test names the Go test it ports. The objects are client-go's
`testFifoObject`s: a name (the key) and a value. Where a Go test waits 50 ms to
see that nothing more comes, the port asserts that the queue is empty instead.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from k8slab import errors
from k8slab.cache.delta_fifo import Delta, DeletedFinalStateUnknown, DeltaFIFO, DeltaType
from k8slab.cache.real_fifo import BookmarkInfo, RealFIFO, ReplacedAllInfo, SyncAllInfo
from tests.unit._polling import WAIT

ADDED, UPDATED, DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
REPLACED, SYNC = DeltaType.REPLACED, DeltaType.SYNC


def mk(name: str, val: Any) -> dict[str, Any]:
    """client-go's mkFifoObj."""
    return {"metadata": {"name": name}, "val": val}


def key(obj: Any) -> str:
    """client-go's testFifoObjectKeyFunc."""
    return obj["metadata"]["name"]


class Known:
    """client-go's literalListerGetter: the consumer's store as a fixed list."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = list(objects)

    def list_keys(self) -> list[str]:
        return [key(o) for o in self.objects]

    def get_by_key(self, k: str) -> Any:
        return next((o for o in self.objects if key(o) == k), None)


def pop(f: Any) -> list[Delta]:
    return f.pop(lambda deltas, initial: None, timeout=WAIT)


def pop_val(f: Any) -> Any:
    return pop(f)[-1].object["val"]


def real_fifo(*known: dict[str, Any]) -> RealFIFO:
    return RealFIFO(key, Known(*known))


def tomb(k: str, obj: Any) -> DeletedFinalStateUnknown:
    return DeletedFinalStateUnknown(k, obj)


# -- DeltaFIFO ------------------------------------------------------------------------------------


def test_delta_fifo_detect_line_jumpers():
    """TestDeltaFIFO_detectLineJumpers: a key queued again keeps its place, it does not jump back in line."""
    f = DeltaFIFO(key)
    for name, val in (("foo", 10), ("bar", 1), ("foo", 11), ("foo", 13), ("zab", 30)):
        f.add(mk(name, val))
    assert pop_val(f) == 13  # foo's newest; all of foo's deltas came out together
    f.add(mk("foo", 14))  # foo is queued again, behind bar and zab
    assert [pop_val(f), pop_val(f), pop_val(f)] == [1, 30, 14]


def test_delta_fifo_add_replace():
    """TestDeltaFIFO_addReplace: a replace appends to the queued key; one pop, then nothing."""
    f = DeltaFIFO(key, emit_delta_type_replaced=False)
    f.add(mk("foo", 10))
    f.replace([mk("foo", 15)], "0")
    deltas = pop(f)
    assert deltas[-1].object["val"] == 15
    assert len(f) == 0 and f.get_by_key("foo") is None  # the item was removed, no second value


def test_delta_fifo_resync_non_existing():
    """TestDeltaFIFO_ResyncNonExisting: a known key with a queued deletion gets no Sync."""
    f = DeltaFIFO(key, Known(mk("foo", 5)))
    f.delete(mk("foo", 10))
    f.resync()
    assert [d.type for d in f.get_by_key("foo")] == [DELETED]


def test_delta_fifo_resync():
    """TestDeltaFIFO_Resync."""
    f = DeltaFIFO(key, Known(mk("foo", 5)))
    f.resync()
    assert [d.type for d in f.get_by_key("foo")] == [SYNC]


REPLACE_MAKES_DELETIONS = [
    pytest.param(
        [("delete", mk("baz", 10))], [mk("foo", 5)],
        [[(DELETED, mk("baz", 10))], [(SYNC, mk("foo", 5))], [(DELETED, tomb("bar", mk("bar", 6)))]],
        id="a pre-existing delete; bar, known but not listed, gets a tombstone with its known object"),
    pytest.param(
        [("add", mk("baz", 10))], [mk("foo", 5)],
        [[(ADDED, mk("baz", 10)), (DELETED, tomb("baz", mk("baz", 10)))], [(SYNC, mk("foo", 5))],
         [(DELETED, tomb("bar", mk("bar", 6)))]],
        id="a pre-existing add: its tombstone carries the queued object"),
    pytest.param(
        [("delete", mk("bar", 6)), ("add", mk("bar", 100))], [mk("foo", 5)],
        [[(DELETED, mk("bar", 6)), (ADDED, mk("bar", 100)), (DELETED, tomb("bar", mk("bar", 100)))],
         [(SYNC, mk("foo", 5))], [(DELETED, tomb("baz", mk("baz", 7)))]],
        id="deleted and re-created in the queue: the tombstone carries the newest queued object"),
    pytest.param(
        [("replace", [mk("bar", 100), mk("foo", 5)])], [mk("foo", 5)],
        [[(SYNC, mk("bar", 100)), (DELETED, tomb("bar", mk("bar", 100)))],
         [(SYNC, mk("foo", 5)), (SYNC, mk("foo", 5))], [(DELETED, tomb("baz", mk("baz", 7)))]],
        id="synced first: the deletion uses the latest version"),
]


@pytest.mark.parametrize("before, listed, expected", REPLACE_MAKES_DELETIONS)
def test_delta_fifo_replace_makes_deletions(before, listed, expected):
    """TestDeltaFIFO_ReplaceMakesDeletions (known: foo 5, bar 6, baz 7; Sync, as emitDeltaTypeReplaced is off)."""
    f = DeltaFIFO(key, Known(mk("foo", 5), mk("bar", 6), mk("baz", 7)), emit_delta_type_replaced=False)
    for action, arg in before:
        getattr(f, action)(*([arg, "0"] if action == "replace" else [arg]))
    f.replace(listed, "0")
    assert [[tuple(d) for d in pop(f)] for _ in expected] == expected
    assert len(f) == 0


def test_delta_fifo_replace_makes_deletions_without_known_objects():
    """TestDeltaFIFO_ReplaceMakesDeletions, its last case: without a KeyListerGetter, only queued keys."""
    f = DeltaFIFO(key, emit_delta_type_replaced=False)
    f.add(mk("baz", 10))
    f.replace([mk("foo", 5)], "0")
    assert [tuple(d) for d in pop(f)] == [(ADDED, mk("baz", 10)), (DELETED, tomb("baz", mk("baz", 10)))]
    assert [tuple(d) for d in pop(f)] == [(SYNC, mk("foo", 5))]


def _replace(f: Any, *objects: Any) -> None:
    f.replace(list(objects), "0")


HAS_SYNCED = [
    pytest.param([], False, id="nothing yet"),
    pytest.param([lambda f: f.add(mk("a", 1))], True, id="an add first"),
    pytest.param([lambda f: _replace(f)], True, id="an empty first replace"),
    pytest.param([lambda f: _replace(f, mk("a", 1), mk("b", 2))], False, id="a replace not popped"),
    pytest.param([lambda f: _replace(f, mk("a", 1), mk("b", 2)), pop], False, id="half popped"),
    pytest.param([lambda f: _replace(f, mk("a", 1), mk("b", 2)), pop, pop], True, id="all popped"),
]


@pytest.mark.parametrize(
    "actions, synced",
    HAS_SYNCED + [pytest.param([lambda f: _replace(f, mk("a", 1), mk("a", 2)), pop], True,
                               id="duplicate keys in the list: one key, one pop")],
)
def test_delta_fifo_has_synced(actions, synced):
    """TestDeltaFIFO_HasSynced, with its duplicate-key case (a broken server's list)."""
    f = DeltaFIFO(key)
    for action in actions:
        action(f)
    assert f.has_synced() is synced


# -- RealFIFO, without atomic events (1.33-1.35) ---------------------------------------------------


def test_real_fifo_basic():
    """TestRealFIFO_basic: two producers at once; each one's objects come out in its order."""
    f = real_fifo()
    amount = 500
    producers = [threading.Thread(target=lambda p=p: [f.add(mk(f"{p}{i}", (p, i))) for i in range(amount)])
                 for p in "ab"]
    for t in producers:
        t.start()
    last = {"a": -1, "b": -1}
    for _ in range(amount * 2):
        producer, i = pop_val(f)
        assert i > last[producer], f"{producer}{i} out of order"
        last[producer] = i
    for t in producers:
        t.join(WAIT)


def test_real_fifo_replace_with_delete_delta_in():
    """TestRealFIFO_replaceWithDeleteDeltaIn: a listed object whose last queued delta is a Delete is queued again."""
    old, new = mk("foo", 1), mk("foo", 2)
    f = real_fifo(old)
    f.delete(old)
    f.replace([new], "")
    assert f.deltas() == [Delta(DELETED, old), Delta(REPLACED, new)]


OBJ, OBJ_V2 = mk("foo", 2), mk("foo", 3)


@pytest.mark.parametrize("operations, expected", [
    pytest.param(lambda f: (f.add(OBJ), f.replace([], "0")), [(ADDED, OBJ), (DELETED, tomb("foo", OBJ))],
                 id="Added object should be deleted on Replace"),
    pytest.param(lambda f: (f.add(OBJ), f.delete(OBJ), f.replace([], "0")), [(ADDED, OBJ), (DELETED, OBJ)],
                 id="Deleted object should have only a single Delete"),
    pytest.param(lambda f: (f.add(OBJ), f.replace([OBJ], "0"), f.replace([OBJ], "0"), f.replace([], "0")),
                 [(ADDED, OBJ), (REPLACED, OBJ), (REPLACED, OBJ), (DELETED, tomb("foo", OBJ))],
                 id="Synced objects should have a single delete"),
    pytest.param(lambda f: (f.add(OBJ), f.replace([], "0"), f.replace([], "1")), [(ADDED, OBJ), (DELETED, tomb("foo", OBJ))],
                 id="Added objects should have a single delete on multiple Replaces"),
    pytest.param(lambda f: (f.add(OBJ), f.delete(OBJ), f.add(OBJ_V2), f.replace([], "0")),
                 [(ADDED, OBJ), (DELETED, OBJ), (ADDED, OBJ_V2), (DELETED, tomb("foo", OBJ_V2))],
                 id="Added and deleted and added object should be deleted"),
    pytest.param(lambda f: (f.bookmark("123"), f.replace([], "0"), f.replace([], "1")), [],
                 id="Bookmark object should not be added without atomic"),
])
def test_real_fifo_replace_makes_deletions_for_objects_only_in_queue(operations, expected):
    """TestRealFIFOW_ReplaceMakesDeletionsForObjectsOnlyInQueue."""
    f = real_fifo()
    operations(f)
    popped = [tuple(pop(f)[0]) for _ in range(len(f))]
    assert popped == expected
    assert len(f) == 0


def test_real_fifo_add_update():
    """TestRealFIFO_addUpdate: every delta is queued and popped, not only the newest."""
    f = real_fifo()
    f.add(mk("foo", 10))
    f.update(mk("foo", 12))
    f.delete(mk("foo", 15))
    assert f.deltas() == [Delta(ADDED, mk("foo", 10)), Delta(UPDATED, mk("foo", 12)), Delta(DELETED, mk("foo", 15))]
    assert [pop_val(f), pop_val(f), pop_val(f)] == [10, 12, 15]
    assert len(f) == 0


def test_real_fifo_transformer():
    """TestRealFIFO_transformer: every object transformed once; tombstones carry transformed objects."""
    def xfrm(obj):
        obj = {**obj, "xfrm": obj.get("xfrm", 0) + 1}
        return obj

    f = RealFIFO(key, Known(), transformer=xfrm)
    f.add(mk("foo", 10))
    f.add(mk("bar", 11))
    f.update(mk("foo", 12))
    f.delete(mk("foo", 15))
    f.replace([], "")
    f.add(mk("bar", 16))
    f.replace([], "")
    expected = [
        (ADDED, "foo", 10), (ADDED, "bar", 11), (UPDATED, "foo", 12), (DELETED, "foo", 15),
        (DELETED, "bar", 11), (ADDED, "bar", 16), (DELETED, "bar", 16),  # bar deleted twice: no compression
    ]
    got = []
    for delta in (pop(f)[0] for _ in expected):
        obj = delta.object.obj if isinstance(delta.object, DeletedFinalStateUnknown) else delta.object
        assert obj["xfrm"] == 1  # transformed exactly once, tombstones included
        got.append((delta.type, key(obj), obj["val"]))
    assert got == expected


def test_real_fifo_enqueueing_no_lister():
    """TestRealFIFO_enqueueingNoLister: RealFIFO queues everything, even the delete of an unknown key."""
    f = real_fifo()
    f.add(mk("foo", 10))
    f.update(mk("bar", 15))
    f.add(mk("qux", 17))
    f.delete(mk("qux", 18))
    f.delete(mk("baz", 20))
    assert [pop_val(f) for _ in range(5)] == [10, 15, 17, 18, 20]
    assert len(f) == 0


def test_real_fifo_enqueueing_with_lister():
    """TestRealFIFO_enqueueingWithLister."""
    f = real_fifo(mk("foo", 5), mk("bar", 6), mk("baz", 7))
    f.add(mk("foo", 10))
    f.update(mk("bar", 15))
    f.delete(mk("baz", 20))
    assert [pop_val(f) for _ in range(3)] == [10, 15, 20]
    assert len(f) == 0


def test_real_fifo_add_replace():
    """TestRealFIFO_addReplace: unlike DeltaFIFO, both the add and the replace are popped."""
    f = real_fifo()
    f.add(mk("foo", 10))
    f.replace([mk("foo", 15)], "0")
    assert [pop_val(f), pop_val(f)] == [10, 15]
    assert len(f) == 0


def test_real_fifo_resync_non_existing():
    """TestRealFIFO_ResyncNonExisting."""
    f = real_fifo(mk("foo", 5))
    f.delete(mk("foo", 10))
    f.resync()
    assert [d.type for d in f.deltas()] == [DELETED]


def test_real_fifo_resync():
    """TestRealFIFO_Resync."""
    f = real_fifo(mk("foo", 5))
    f.resync()
    assert [d.type for d in f.deltas()] == [SYNC]


def test_real_fifo_delete_existing_non_propagated():
    """TestRealFIFO_DeleteExistingNonPropagated."""
    f = real_fifo()
    f.add(mk("foo", 5))
    f.delete(mk("foo", 6))
    assert [d.type for d in f.deltas()] == [ADDED, DELETED]


REAL_REPLACE_MAKES_DELETIONS = [
    pytest.param(
        [("delete", mk("baz", 10))], [mk("foo", 5)],
        [(DELETED, mk("baz", 10)), (DELETED, tomb("bar", mk("bar", 6))), (REPLACED, mk("foo", 5))],
        id="a pre-existing delete: the known items' deletes come before the new items"),
    pytest.param(
        [("add", mk("baz", 10))], [mk("foo", 5)],
        [(ADDED, mk("baz", 10)), (DELETED, tomb("baz", mk("baz", 10))), (DELETED, tomb("bar", mk("bar", 6))),
         (REPLACED, mk("foo", 5))],
        id="a pre-existing add: every event its own Deltas"),
    pytest.param(
        [("delete", mk("bar", 6)), ("add", mk("bar", 100))], [mk("foo", 5)],
        [(DELETED, mk("bar", 6)), (ADDED, mk("bar", 100)), (DELETED, tomb("bar", mk("bar", 100))),
         (DELETED, tomb("baz", mk("baz", 7))), (REPLACED, mk("foo", 5))],
        id="deleted and re-created in the queue, then deleted by the replace"),
    pytest.param(
        [("replace", [mk("bar", 100), mk("foo", 5)])], [mk("foo", 5)],
        [(DELETED, tomb("baz", mk("baz", 7))), (REPLACED, mk("bar", 100)), (REPLACED, mk("foo", 5)),
         (DELETED, tomb("bar", mk("bar", 100))), (REPLACED, mk("foo", 5))],
        id="synced first: ordered across all keys, not by key"),
]


@pytest.mark.parametrize("before, listed, expected", REAL_REPLACE_MAKES_DELETIONS)
def test_real_fifo_replace_makes_deletions(before, listed, expected):
    """TestRealFIFO_ReplaceMakesDeletions (known: foo 5, bar 6, baz 7)."""
    f = real_fifo(mk("foo", 5), mk("bar", 6), mk("baz", 7))
    for action, arg in before:
        getattr(f, action)(*([arg, "0"] if action == "replace" else [arg]))
    f.replace(listed, "0")
    popped = [pop(f) for _ in expected]
    assert all(len(deltas) == 1 for deltas in popped)
    assert [tuple(deltas[0]) for deltas in popped] == expected


def test_real_fifo_replace_makes_deletions_without_known_objects():
    """TestRealFIFO_ReplaceMakesDeletions, its last case: nothing known, only the queue."""
    f = real_fifo()
    f.add(mk("baz", 10))
    f.replace([mk("foo", 5)], "0")
    assert [tuple(pop(f)[0]) for _ in range(3)] == [
        (ADDED, mk("baz", 10)), (DELETED, tomb("baz", mk("baz", 10))), (REPLACED, mk("foo", 5))]


def test_real_fifo_replace_makes_deletions_replaced():
    """TestRealFIFO_ReplaceMakesDeletionsReplaced: the listed object comes as Replaced."""
    f = real_fifo(mk("foo", 5), mk("bar", 6), mk("baz", 7))
    f.delete(mk("baz", 10))
    f.replace([mk("foo", 6)], "0")
    assert [tuple(pop(f)[0]) for _ in range(3)] == [
        (DELETED, mk("baz", 10)), (DELETED, tomb("bar", mk("bar", 6))), (REPLACED, mk("foo", 6))]


def test_real_fifo_update_resync_race():
    """TestRealFIFO_UpdateResyncRace: a queued update keeps the resync from sending a stale object."""
    f = real_fifo(mk("foo", 5))
    f.update(mk("foo", 6))
    f.resync()
    assert [tuple(d) for d in pop(f)] == [(UPDATED, mk("foo", 6))]
    assert len(f) == 0


def test_real_fifo_has_synced_correct_on_deletion():
    """TestRealFIFO_HasSyncedCorrectOnDeletion: tombstones count in the initial list."""
    f = real_fifo(mk("foo", 5), mk("bar", 6), mk("baz", 7))
    f.replace([mk("foo", 5)], "0")
    expected = [(DELETED, tomb("bar", mk("bar", 6))), (DELETED, tomb("baz", mk("baz", 7))), (REPLACED, mk("foo", 5))]
    for e in expected:
        assert not f.has_synced()
        seen = []
        f.pop(lambda deltas, initial: seen.append((tuple(deltas[0]), initial)))
        assert seen == [(e, True)]
    assert f.has_synced()


def test_real_fifo_detect_line_jumpers():
    """TestRealFIFO_detectLineJumpers: every event in order, a later one stays behind."""
    f = real_fifo()
    for name, val in (("foo", 10), ("bar", 1), ("foo", 11), ("foo", 13), ("zab", 30)):
        f.add(mk(name, val))
    assert pop_val(f) == 10
    f.add(mk("foo", 14))
    assert [pop_val(f) for _ in range(5)] == [1, 11, 13, 30, 14]


@pytest.mark.parametrize("obj, expected", [
    pytest.param(mk("A", 0), "A", id="object"),
    pytest.param(tomb("B", None), "B", id="tombstone"),
    pytest.param([Delta(ADDED, mk("C", 0))], "C", id="deltas"),
    pytest.param([Delta(DELETED, tomb("D", None))], "D", id="deltas of a tombstone"),
])
def test_real_fifo_key_of(obj, expected):
    """TestRealFIFO_KeyOf."""
    assert real_fifo().key_of(obj) == expected


@pytest.mark.parametrize(
    "actions, synced",
    HAS_SYNCED + [pytest.param([lambda f: _replace(f, mk("a", 1), mk("a", 2)), pop, pop], True,
                               id="duplicate keys in the list: every event delivered, so two pops")],
)
def test_real_fifo_has_synced(actions, synced):
    """TestRealFIFO_HasSynced, with its duplicate-key case."""
    f = real_fifo()
    for action in actions:
        action(f)
    assert f.has_synced() is synced


def test_real_fifo_pop_should_unblock_when_closed():
    """TestRealFIFO_PopShouldUnblockWhenClosed: every blocked pop returns FIFOClosed on close."""
    f = real_fifo(mk("foo", 5))
    outcomes: list[type] = []
    lock = threading.Lock()

    def popper() -> None:
        try:
            f.pop(lambda deltas, initial: None)
        except Exception as exc:
            with lock:
                outcomes.append(type(exc))

    threads = [threading.Thread(target=popper) for _ in range(10)]
    for t in threads:
        t.start()
    f.close()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    assert outcomes == [errors.FIFOClosed] * 10


# -- RealFIFO batches and atomic events (v0.37.2) -------------------------------------------------

O1, O2, O3, O4 = mk("foo1", 5), mk("foo2", 5), mk("foo3", 5), mk("foo4", 5)
UNLIMITED = 999999


def drain_batches(f: RealFIFO) -> tuple[list[list[tuple]], list[Any]]:
    """pop_batch until empty: the batches (as (type, obj) lists) and the objects flagged initial."""
    batches: list[list[tuple]] = []
    initial: list[Any] = []

    def record(deltas: list[Delta], is_initial: bool) -> None:
        batches.append([tuple(d) for d in deltas])
        if is_initial:
            initial.extend(d.object for d in deltas)

    while len(f):
        f.pop_batch(record, record, timeout=WAIT)
    return batches, initial


@pytest.mark.parametrize("initial_items, actions, batch_size, expected", [
    pytest.param([O1, O2, O3], [], UNLIMITED, [[(REPLACED, O1), (REPLACED, O2), (REPLACED, O3)]],
                 id="non-split: pop unique items should work"),
    pytest.param([O1, O2], [("update", O3), ("update", O4)], 2,
                 [[(REPLACED, O1), (REPLACED, O2)], [(UPDATED, O3), (UPDATED, O4)]],
                 id="split due to initial list"),
    pytest.param([O1], [("update", O1), ("update", O1)], UNLIMITED,
                 [[(REPLACED, O1)], [(UPDATED, O1)], [(UPDATED, O1)]],
                 id="split due to non-unique #1"),
    pytest.param([O1, O2], [("update", O2), ("update", O3)], UNLIMITED,
                 [[(REPLACED, O1), (REPLACED, O2)], [(UPDATED, O2), (UPDATED, O3)]],
                 id="split due to non-unique #2"),
    pytest.param([O1, O2, O3], [("update", O2)], UNLIMITED,
                 [[(REPLACED, O1), (REPLACED, O2), (REPLACED, O3)], [(UPDATED, O2)]],
                 id="split due to non-unique #3"),
    pytest.param([O1, O2, O3], [], 2, [[(REPLACED, O1), (REPLACED, O2)], [(REPLACED, O3)]],
                 id="split due to batch size #1: the initial list"),
    pytest.param([], [("update", O1), ("update", O2), ("update", O3)], 2,
                 [[(UPDATED, O1), (UPDATED, O2)], [(UPDATED, O3)]],
                 id="split due to batch size #2: later deltas"),
    pytest.param([O1, O2, O3], [("update", O4)], 2,
                 [[(REPLACED, O1), (REPLACED, O2)], [(REPLACED, O3)], [(UPDATED, O4)]],
                 id="split due to batch size #3: initial and later never mixed"),
])
def test_real_fifo_pop_multiple_delta_in_batch(initial_items, actions, batch_size, expected):
    """TestRealFIFO_PopMultipleDeltaInBatch."""
    f = RealFIFO(key, Known(*initial_items), batch_size=batch_size)
    f.replace(list(initial_items), "123")
    for action, obj in actions:
        getattr(f, action)(obj)
    batches, initial = drain_batches(f)
    assert batches == expected
    assert initial == initial_items  # exactly the initial list was flagged initial


def broken_key(obj: Any) -> str:
    if obj["metadata"]["name"] in ("foo3", "foo4"):
        raise errors.UsageError("test key func error")
    return key(obj)


@pytest.mark.parametrize("incoming, expected", [
    pytest.param([O3], [[O3]], id="1st item is broken"),
    pytest.param([O1, O2, O3], [[O1, O2, O3]], id="nth item is broken"),
    pytest.param([O1, O2, O3, O4], [[O1, O2, O3], [O4]], id="multiple nth items are broken"),
    pytest.param([O3, O1, O4], [[O3], [O1, O4]], id="mixed 1st and nth items are broken"),
])
def test_real_fifo_pop_broken_items_in_batch(incoming, expected):
    """TestRealFIFO_PopBrokenItemsInBatch: an item without a key closes its batch, and is still popped."""
    f = RealFIFO(broken_key, Known(), batch_size=UNLIMITED)
    f._items.extend(Delta(ADDED, obj) for obj in incoming)  # as the Go test fills f.items directly
    batches, _ = drain_batches(f)
    assert batches == [[(ADDED, obj) for obj in batch] for batch in expected]


def atomic_fifo(**options: Any) -> RealFIFO:
    return RealFIFO(key, atomic_events=True, **options)


@pytest.mark.parametrize("operations, expected", [
    pytest.param(lambda f: f.replace([], "123"), [(DeltaType.REPLACED_ALL, ReplacedAllInfo("123", []))],
                 id="Base replace"),
    pytest.param(lambda f: (f.add(OBJ), f.replace([], "123")),
                 [(ADDED, OBJ), (DeltaType.REPLACED_ALL, ReplacedAllInfo("123", []))],
                 id="Added object exists in deltas on Atomic Replace"),
    pytest.param(lambda f: (f.add(OBJ), f.replace([OBJ], "10"), f.replace([OBJ], "20"), f.replace([], "56")),
                 [(ADDED, OBJ), (DeltaType.REPLACED_ALL, ReplacedAllInfo("10", [OBJ])),
                  (DeltaType.REPLACED_ALL, ReplacedAllInfo("20", [OBJ])),
                  (DeltaType.REPLACED_ALL, ReplacedAllInfo("56", []))],
                 id="Multiple replaces run in order"),
    pytest.param(lambda f: (f.bookmark("123"), f.replace([], "1234")),
                 [(DeltaType.BOOKMARK, BookmarkInfo("123")), (DeltaType.REPLACED_ALL, ReplacedAllInfo("1234", []))],
                 id="Bookmark object should not be included in Replace"),
])
def test_real_fifo_replace_atomic(operations, expected):
    """TestRealFIFO_ReplaceAtomic: a replace is one ReplacedAll delta, in order with the rest."""
    f = atomic_fifo(emit_delta_type_bookmark=True)
    operations(f)
    assert [tuple(pop(f)[0]) for _ in range(len(f))] == expected
    assert len(f) == 0


def test_real_fifo_replace_atomic_pop():
    """TestRealFIFO_ReplaceAtomicPop: the add, then the whole list at once, then nothing."""
    f = atomic_fifo()
    f.add(mk("foo", 10))
    f.replace([mk("foo", 15)], "20")
    assert pop_val(f) == 10
    (delta,) = pop(f)
    assert delta.type is DeltaType.REPLACED_ALL
    assert [o["val"] for o in delta.object.objects] == [15] and delta.object.resource_version == "20"
    assert len(f) == 0


@pytest.mark.parametrize("operations, expected", [
    pytest.param(lambda f: f.resync(), [(DeltaType.SYNC_ALL, SyncAllInfo())], id="Base resync"),
    pytest.param(lambda f: (f.add(OBJ), f.resync()), [(ADDED, OBJ), (DeltaType.SYNC_ALL, SyncAllInfo())],
                 id="Added object exists in deltas on Atomic Resync"),
])
def test_real_fifo_resync_atomic(operations, expected):
    """TestRealFIFO_ResyncAtomic: a resync is one SyncAll delta, queued after what is there."""
    f = atomic_fifo()
    operations(f)
    assert [tuple(pop(f)[0]) for _ in range(len(f))] == expected


def test_an_atomic_replace_transforms_every_listed_object_once():
    """addReplaceToItemsLocked: the list is transformed as it is queued."""
    f = atomic_fifo(transformer=lambda o: {**o, "xfrm": o.get("xfrm", 0) + 1})
    f.replace([mk("a", 1), mk("b", 2)], "7")
    (delta,) = pop(f)
    assert [o["xfrm"] for o in delta.object.objects] == [1, 1]


def test_bookmarks_are_queued_only_when_asked_for():
    """Bookmark(): a no-op unless EmitDeltaTypeBookmark (which needs AtomicEvents)."""
    quiet = atomic_fifo()
    quiet.bookmark("5")
    assert len(quiet) == 0
    with pytest.raises(errors.UsageError, match="needs atomic_events"):
        RealFIFO(key, Known(), emit_delta_type_bookmark=True)


@pytest.mark.parametrize("options, message", [
    pytest.param(dict(atomic_events=True, known_objects=Known()), "takes no known_objects",
                 id="atomic events with known objects"),
    pytest.param(dict(unlock_while_processing=True, known_objects=Known()), "needs atomic_events",
                 id="unlocking without atomic events"),
    pytest.param(dict(), "needs known_objects", id="neither atomic nor known objects"),
])
def test_real_fifo_options_are_checked(options, message):
    """NewRealFIFOWithOptions' coding-error panics, as UsageErrors."""
    with pytest.raises(errors.UsageError, match=message):
        RealFIFO(key, **options)


def test_unlock_while_processing_lets_producers_add_during_processing():
    """UnlockWhileProcessing: the lock is free while `process` runs, so an add does not wait for it."""
    f = atomic_fifo(unlock_while_processing=True)
    f.add(mk("a", 1))
    added = threading.Event()

    def process(deltas, initial):
        producer = threading.Thread(target=lambda: (f.add(mk("b", 2)), added.set()))
        producer.start()
        assert added.wait(WAIT), "the add waited for the processing to end"
        producer.join(WAIT)

    f.pop(process)
    assert [d.object["val"] for d in f.deltas()] == [2]


def test_without_unlocking_an_add_waits_for_the_processing():
    """The locked default (and every DeltaFIFO): an add during `process` blocks until it returns."""
    f = atomic_fifo()
    f.add(mk("a", 1))
    blocked_in_add = threading.Event()
    done = threading.Event()

    def producer():
        blocked_in_add.set()
        f.add(mk("b", 2))
        done.set()

    def process(deltas, initial):
        t = threading.Thread(target=producer)
        t.start()
        assert blocked_in_add.wait(WAIT)
        assert not f._lock.acquire(blocking=False)  # held by pop for the whole processing
        process.thread = t

    f.pop(process)
    assert done.wait(WAIT)
    process.thread.join(WAIT)
    assert [d.object["val"] for d in f.deltas()] == [2]


def test_has_synced_turns_true_only_after_the_initial_list_was_processed():
    """Pop counts the item after `process` returns (a defer in client-go), so a concurrent has_synced stays false."""
    f = atomic_fifo(unlock_while_processing=True)
    f.replace([mk("a", 1)], "1")
    during = []
    f.pop(lambda deltas, initial: during.append((initial, f.has_synced())))
    assert during == [(True, False)]
    assert f.has_synced()
