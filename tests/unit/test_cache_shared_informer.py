"""SharedIndexInformer and the controller pieces, over FakeSource.

Scenarios from client-go's shared_informer_test.go and controller_test.go (the
ports of v0.37.2's own tests are in test_cache_clientgo_*.py). Every informer
test runs on both pipelines, today's (v0.37.2) and the classic one (v0.32):
what a handler is promised does not depend on it. Every wait is bounded;
resync timing runs on a FakeClock.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any, Callable

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.cache.controller import (
    FilteringResourceEventHandler,
    ResourceEventHandlerFuncs,
    new_informer,
    process_deltas,
)
from k8slab.cache.delta_fifo import Delta, DeletedFinalStateUnknown, DeltaType
from k8slab.cache.listers import Lister
from k8slab.cache.shared_informer import SharedIndexInformer, wait_for_cache_sync
from k8slab.cache.store import new_store
from k8slab.cache.testing import FakeSource, config_map
from tests.unit._polling import WAIT, eventually, step_until


def name_of(obj: Any) -> str:
    if isinstance(obj, DeletedFinalStateUnknown):
        return f"tombstone:{obj.key}"
    return obj["metadata"]["name"]


class Recorder:
    """A handler that writes down what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self._lock = threading.Lock()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        with self._lock:
            self.events.append(("add", name_of(obj), is_in_initial_list))

    def on_update(self, old: Any, new: Any) -> None:
        with self._lock:
            rvs = old["metadata"]["resourceVersion"], new["metadata"]["resourceVersion"]
            self.events.append(("update", name_of(new), *rvs))

    def on_delete(self, obj: Any) -> None:
        with self._lock:
            self.events.append(("delete", name_of(obj)))

    def snapshot(self) -> list[tuple]:
        with self._lock:
            return list(self.events)

    def kinds(self, kind: str) -> list[tuple]:
        return [e for e in self.snapshot() if e[0] == kind]


class Running:
    """An informer run in a thread on a fake clock, stopped at teardown."""

    def __init__(self, source: FakeSource, resync: float = 0.0, **kwargs: Any) -> None:
        self.source = source
        self.clock = FakeClock()
        self.informer = SharedIndexInformer(
            source, "configmaps", resync, clock=self.clock, **kwargs
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.informer.run, args=(self.stop,), daemon=True)

    def start(self) -> "Running":
        self.thread.start()
        assert wait_for_cache_sync(self.stop, self.informer.has_synced, timeout=WAIT)
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "informer did not stop"

    def step_until(self, condition: Callable[[], bool], step: float = 0.5) -> None:
        step_until(self.clock, condition, step)


def initial_lists(source: FakeSource) -> int:
    """How many times the informer fetched the whole state: LISTs and streaming watches."""
    return len(source.list_calls) + sum(1 for c in source.watch_calls if c.get("send_initial_events"))


@pytest.fixture(params=["today", "classic"])
def running(request):
    made: list[Running] = []

    def make(source: FakeSource, **kwargs: Any) -> Running:
        kwargs.setdefault("pipeline", request.param)
        r = Running(source, **kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        if r.thread.is_alive():
            r.close()


def key_of(o: dict) -> str:
    return f'{o["metadata"]["namespace"]}/{o["metadata"]["name"]}'


def source_with(*names: str) -> FakeSource:
    source = FakeSource()
    for n in names:
        source.add(config_map(n))
    return source


def test_the_cache_syncs_and_handlers_see_the_initial_list_then_live_changes(running):
    source = source_with("a", "b")
    r = running(source)
    rec = Recorder()
    r.informer.add_event_handler(rec)
    r.start()
    eventually(lambda: len(rec.snapshot()) == 2)
    source.add(config_map("c"))
    source.modify(config_map("a", data={"x": "1"}))
    source.delete("default/b")
    eventually(lambda: len(rec.snapshot()) == 5)
    assert rec.snapshot() == [
        ("add", "a", True),
        ("add", "b", True),
        ("add", "c", False),
        ("update", "a", "1", "4"),
        ("delete", "b"),
    ]
    assert sorted(r.informer.get_store().list_keys()) == ["default/a", "default/c"]
    assert r.informer.last_sync_resource_version() == "5"


def test_a_handler_added_after_start_receives_the_cache_as_adds(running):
    source = source_with("a", "b", "c")
    r = running(source).start()
    late = Recorder()
    registration = r.informer.add_event_handler(late)
    eventually(registration.has_synced)
    assert sorted(late.snapshot()) == [("add", "a", True), ("add", "b", True), ("add", "c", True)]
    source.add(config_map("d"))
    eventually(lambda: ("add", "d", False) in late.snapshot())


def test_a_raising_handler_does_not_stop_the_others(running, caplog):
    source = source_with("a", "b")
    r = running(source)
    good = Recorder()

    def explode(obj):
        raise RuntimeError(f"cannot handle {name_of(obj)}")

    failing = r.informer.add_event_handler(ResourceEventHandlerFuncs(add_func=explode))
    r.informer.add_event_handler(good)
    with caplog.at_level(logging.ERROR, logger="k8slab.cache.shared_informer"):
        r.start()
        source.add(config_map("c"))
        eventually(lambda: len(good.snapshot()) == 3)
        eventually(lambda: len([m for m in caplog.messages if "failed on add" in m]) == 3)
    assert [e[1] for e in good.snapshot()] == ["a", "b", "c"]
    eventually(failing.has_synced)  # a raising initial add still counts as handled


def test_a_slow_handler_does_not_block_a_fast_one_or_the_cache(running):
    source = source_with("a")
    r = running(source)
    release = threading.Event()
    slow_seen: list[str] = []

    def slow(obj):
        release.wait(WAIT)
        slow_seen.append(name_of(obj))

    fast = Recorder()
    r.informer.add_event_handler(ResourceEventHandlerFuncs(add_func=slow))
    r.informer.add_event_handler(fast)
    r.start()
    for i in range(50):
        source.add(config_map(f"n{i}"))
    eventually(lambda: len(fast.snapshot()) == 51)
    eventually(lambda: len(r.informer.get_store().list_keys()) == 51)
    assert slow_seen == []  # still stuck on its first notification
    release.set()
    eventually(lambda: len(slow_seen) == 51)
    assert slow_seen == ["a"] + [f"n{i}" for i in range(50)]  # its buffer kept all, in order


def test_a_missed_delete_arrives_as_a_tombstone_after_a_relist(running):
    source = source_with("a", "b")
    r = running(source)
    rec = Recorder()
    r.informer.add_event_handler(rec)
    r.start()
    eventually(lambda: len(rec.snapshot()) == 2 and source.open_watches == 1)  # faults reach open watches only
    source.drop_next_event()
    source.delete("default/b")
    source.expire_watches()
    r.step_until(lambda: ("delete", "tombstone:default/b") in rec.snapshot())
    assert sorted(r.informer.get_store().list_keys()) == ["default/a"]
    # "a" came back unchanged in the relist: Replaced, delivered as an update with the same RV
    assert ("update", "a", "1", "1") in rec.snapshot()


def test_resync_goes_only_to_handlers_whose_period_is_due(running):
    source = source_with("a")
    r = running(source, resync=30.0)
    every_10s, never_resyncs = Recorder(), Recorder()
    r.informer.add_event_handler(every_10s, resync_period=10.0)
    r.informer.add_event_handler(never_resyncs, resync_period=0.0)
    r.start()
    eventually(lambda: len(every_10s.snapshot()) == 1)
    assert r.clock.block_until(1)
    assert r.clock.deadlines() == [10.0]  # the informer checks at the shortest handler period
    r.clock.step(9)
    assert r.clock.deadlines() == [10.0] and not every_10s.kinds("update")  # not due, not woken
    r.clock.step(1)
    eventually(lambda: every_10s.kinds("update") == [("update", "a", "1", "1")])
    assert never_resyncs.kinds("update") == []
    source.modify(config_map("a", data={"k": "v"}))  # a real update goes to everyone
    eventually(lambda: ("update", "a", "1", "2") in never_resyncs.snapshot())
    assert initial_lists(source) == 1


@pytest.mark.parametrize(
    "requested, not_yet, due",
    [
        pytest.param(0.2, 0.5, 1.0, id="a period below one second is raised to one second"),
        pytest.param(3.0, 2.5, 3.0, id="a period above the minimum is kept"),
    ],
)
def test_handler_resync_period_minimum(running, requested, not_yet, due):
    source = source_with("a")
    r = running(source, resync=5.0)
    rec = Recorder()
    r.informer.add_event_handler(rec, resync_period=requested)
    r.start()
    eventually(lambda: len(rec.snapshot()) == 1)
    assert r.clock.block_until(1)
    assert r.clock.deadlines() == [due]
    r.clock.step(not_yet)
    assert r.clock.deadlines() == [due] and not rec.kinds("update")  # not due, not woken
    r.clock.step(due - not_yet)
    eventually(lambda: len(rec.kinds("update")) == 1)


def test_handler_periods_are_ignored_when_the_informer_does_not_resync(running):
    source = source_with("a")
    r = running(source)  # resync period 0: client-go warns and ignores handler periods
    rec = Recorder()
    registration = r.informer.add_event_handler(rec, resync_period=2.0)
    r.start()
    eventually(lambda: len(rec.snapshot()) == 1)
    assert registration.resync_period == 0.0  # ignored, with a warning
    assert r.clock.deadlines() == []  # no resync timer: nothing on the clock to wake
    r.clock.step(10)
    assert r.clock.deadlines() == [] and not rec.kinds("update")


def test_a_late_handler_cannot_resync_faster_than_the_informer_checks(running):
    source = source_with("a")
    r = running(source, resync=10.0)
    r.start()
    fast = Recorder()
    registration = r.informer.add_event_handler(fast, resync_period=2.0)
    assert registration.resync_period == 10.0  # raised to the 10 s check period
    eventually(lambda: len(fast.snapshot()) == 1)
    assert r.clock.block_until(1)
    assert r.clock.deadlines() == [10.0]
    r.clock.step(5)
    assert r.clock.deadlines() == [10.0] and not fast.kinds("update")
    r.clock.step(5)
    eventually(lambda: len(fast.kinds("update")) == 1)


def test_remove_event_handler_stops_its_notifications(running):
    source = source_with("a")
    r = running(source)
    kept, removed = Recorder(), Recorder()
    r.informer.add_event_handler(kept)
    registration = r.informer.add_event_handler(removed)
    r.start()
    eventually(lambda: len(removed.snapshot()) == 1)
    r.informer.remove_event_handler(registration)
    r.informer.remove_event_handler(registration)  # twice is harmless
    registration.join(WAIT)  # its thread has ended: nothing more can reach `removed`
    source.add(config_map("b"))
    eventually(lambda: len(kept.snapshot()) == 2)
    assert removed.snapshot() == [("add", "a", True)]


def test_add_indexers_after_start_back_fills(running):
    source = FakeSource()
    source.add(config_map("a", labels={"team": "red"}))
    source.add(config_map("b", labels={"team": "blue"}))
    r = running(source).start()
    r.informer.add_indexers({"team": lambda o: [o["metadata"].get("labels", {}).get("team", "")]})
    assert r.informer.get_indexer().index_keys("team", "red") == ["default/a"]
    source.add(config_map("c", labels={"team": "red"}))
    indexer = r.informer.get_indexer()
    eventually(lambda: indexer.index_keys("team", "red") == ["default/a", "default/c"])


def test_a_stopped_informer_refuses_handlers_and_indexers(running):
    r = running(source_with("a")).start()
    r.close()
    assert r.informer.is_stopped()
    with pytest.raises(errors.UsageError):
        r.informer.add_event_handler(Recorder())
    with pytest.raises(errors.UsageError):
        r.informer.add_indexers({"x": lambda o: []})


def test_transform_applies_before_caching_and_only_before_start(running):
    source = FakeSource()
    obj = config_map("a")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    source.add(obj)
    r = running(source)

    def strip(obj):
        obj["metadata"].pop("managedFields", None)
        return obj

    r.informer.set_transform(strip)
    r.start()
    assert "managedFields" not in r.informer.get_store().get_by_key("default/a")["metadata"]
    with pytest.raises(errors.UsageError):
        r.informer.set_transform(None)


def test_lister_over_the_informer_cache(running):
    source = source_with("a")
    r = running(source).start()
    lister = Lister(r.informer.get_indexer(), "configmaps")
    assert lister.namespace("default").get("a")["metadata"]["resourceVersion"] == "1"
    with pytest.raises(errors.NotFound, match='configmaps "zz" not found'):
        lister.namespace("default").get("zz")


def test_wait_for_cache_sync_polls_on_the_clock_and_gives_up_at_the_timeout():
    stop, clock, result = threading.Event(), FakeClock(), []
    assert wait_for_cache_sync(stop, lambda: True, lambda: True, clock=clock)
    waiter = threading.Thread(
        target=lambda: result.append(wait_for_cache_sync(stop, lambda: False, timeout=5, clock=clock))
    )
    waiter.start()
    assert clock.block_until(1)
    assert clock.deadlines() == [0.1]  # the next poll, 100 ms on
    clock.step(4.9)
    eventually(lambda: clock.deadlines() == [5.0])  # polled again; the next poll is the deadline
    assert result == []
    clock.step(0.1)
    waiter.join(WAIT)
    assert result == [False]


def test_wait_for_cache_sync_gives_up_on_stop():
    stop, result = threading.Event(), []
    waiter = threading.Thread(target=lambda: result.append(wait_for_cache_sync(stop, lambda: False)))
    waiter.start()
    stop.set()
    waiter.join(WAIT)
    assert result == [False]


def test_run_twice_is_refused_quietly(running):
    r = running(source_with("a")).start()
    r.informer.run(threading.Event())  # returns at once: already started
    assert r.informer.has_started()


@pytest.mark.parametrize(
    "old_passes, new_passes, expected",
    [
        pytest.param(True, True, ("update",), id="both pass: an update"),
        pytest.param(False, True, ("add", False), id="entering the filter: an add"),
        pytest.param(True, False, ("delete",), id="leaving the filter: a delete"),
        pytest.param(False, False, None, id="neither passes: nothing"),
    ],
)
def test_filtering_handler_turns_updates_into_adds_and_deletes(old_passes, new_passes, expected):
    got = []
    inner = ResourceEventHandlerFuncs(
        add_func=lambda o: got.append(("add", False)),
        update_func=lambda o, n: got.append(("update",)),
        delete_func=lambda o: got.append(("delete",)),
    )
    handler = FilteringResourceEventHandler(lambda o: o["pass"], inner)
    handler.on_update({"pass": old_passes}, {"pass": new_passes})
    assert got == ([expected] if expected else [])


def test_handler_funcs_ignore_missing_callables():
    handler = ResourceEventHandlerFuncs()
    handler.on_add({}, True)
    handler.on_update({}, {})
    handler.on_delete({})
    seen = []
    ResourceEventHandlerFuncs(add_func=seen.append).on_add({"x": 1}, False)
    assert seen == [{"x": 1}]


@pytest.mark.parametrize(
    "delta_type, cached, expected",
    [
        pytest.param(DeltaType.ADDED, False, "add", id="an added object new to the cache: add"),
        pytest.param(DeltaType.ADDED, True, "update", id="an added object already cached: update"),
        pytest.param(DeltaType.REPLACED, False, "add", id="a relisted new object is an add"),
        pytest.param(DeltaType.SYNC, True, "update", id="a resync is an update"),
        pytest.param(DeltaType.DELETED, True, "delete", id="a deletion removes and notifies"),
    ],
)
def test_process_deltas(delta_type, cached, expected):
    store = new_store()
    old = {"metadata": {"name": "a", "resourceVersion": "1"}}
    new = {"metadata": {"name": "a", "resourceVersion": "2"}}
    if cached:
        store.add(old)
    rec = Recorder()
    process_deltas(rec, store, [Delta(delta_type, new)], True)
    assert rec.snapshot()[0][0] == expected
    assert (store.get_by_key("a") is None) == (expected == "delete")


def test_new_informer_runs_one_handler_without_sharing():
    source = source_with("a", "b")
    rec = Recorder()
    store, controller = new_informer(source, "configmaps", 0.0, rec)
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_for_cache_sync(stop, controller.has_synced, timeout=WAIT)
        eventually(lambda: len(rec.snapshot()) == 2)
        assert sorted(store.list_keys()) == ["default/a", "default/b"]
        assert controller.last_sync_resource_version() == "2"
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()


class Mirror:
    """A handler that keeps its own copy of the world from notifications alone."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self._lock = threading.Lock()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        with self._lock:
            self.objects[key_of(obj)] = obj

    def on_update(self, old: Any, new: Any) -> None:
        self.on_add(new, False)

    def on_delete(self, obj: Any) -> None:
        key = obj.key if isinstance(obj, DeletedFinalStateUnknown) else key_of(obj)
        with self._lock:
            self.objects.pop(key, None)

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return dict(self.objects)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cache_and_handlers_converge_after_churn_with_lost_events_and_410s(running, seed):
    rnd = random.Random(seed)
    source = source_with("a", "b")
    r = running(source)
    mirror = Mirror()
    r.informer.add_event_handler(mirror)
    r.start()
    names = [f"n{i}" for i in range(15)]
    for step in range(150):
        name = rnd.choice(names)
        present = any(o["metadata"]["name"] == name for o in source.objects())
        fault = rnd.random()
        if fault < 0.1:
            source.drop_next_event()
        elif fault < 0.13:
            source.reset_watches()
        if present and rnd.random() < 0.4:
            source.delete(f"default/{name}")
        elif present:
            source.modify(config_map(name, data={"step": str(step)}))
        else:
            source.add(config_map(name, data={"step": str(step)}))
    source.compact()
    source.expire_watches()  # the 410 forces a relist that repairs every lost event

    def as_map(objects):
        return {key_of(o): o["metadata"]["resourceVersion"] for o in objects}

    want = as_map(source.objects())
    r.step_until(lambda: as_map(r.informer.get_store().list()) == want)
    eventually(lambda: as_map(mirror.snapshot().values()) == want)
